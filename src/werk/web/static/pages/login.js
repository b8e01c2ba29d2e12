// Sign in with a user name and password (POST /api/v1/auth/login), or paste an API key.
export default {
  id: "login",
  title: "Sign in",
  nav: false,
  async render(ctx, el) {
    const { h, api } = ctx;
    const error = h("p", { class: "error", role: "alert" });
    const done = (token, name) => {
      api.auth.token = token; api.auth.name = name;
      window.dispatchEvent(new Event("werk:signed-in"));
      ctx.go("#/");
    };
    const user = h("input", { name: "username", autocomplete: "username", id: "username" });
    const password = h("input", { name: "password", type: "password", autocomplete: "current-password", id: "password" });
    const key = h("input", { name: "api-key", type: "password", id: "api-key", placeholder: "werk_…" });
    const withPassword = async (ev) => {
      ev.preventDefault();
      error.textContent = "";
      try {
        // the server sets an httpOnly session cookie; the page keeps no token of its own
        await api.post("/auth/login", { user: user.value, password: password.value });
        done(null, user.value);
      } catch (e) {
        error.textContent = e.status === 404 ? "Password login is not enabled on this server; use an API key." : e.message;
      }
    };
    const withKey = async (ev) => {
      ev.preventDefault();
      error.textContent = "";
      api.auth.token = key.value.trim();
      try { await api.get("/assets"); done(key.value.trim(), "API key"); } catch (e) { api.auth.token = null; error.textContent = e.message; }
    };
    el.append(h("div", { class: "login card" },
      h("h1", {}, "Sign in to werk"),
      h("form", { onsubmit: withPassword, id: "login-password" },
        h("label", { for: "username" }, "User"), user,
        h("label", { for: "password" }, "Password"), password,
        h("p", {}, h("button", { class: "primary", type: "submit" }, "Sign in"))),
      h("div", { class: "or" }, "or"),
      h("form", { onsubmit: withKey, id: "login-key" },
        h("label", { for: "api-key" }, "API key"), key,
        h("p", {}, h("button", { type: "submit", id: "use-key" }, "Use API key"))),
      error));
  },
};
