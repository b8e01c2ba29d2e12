// The dashboard shell: login wall, navigation from the page registry, hash router, shared context.
import * as api from "./api.js";
import * as charts from "./charts.js";
import { h, fmt, route } from "./h.js";
import { PAGES } from "../pages/index.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const crumbs = document.getElementById("crumbs");
let leave = null;
let sites = null;

async function loadSites() {
  if (sites) return sites;
  try {
    const model = await api.get("/assets");
    sites = model.sites || [];
  } catch (error) {
    if (error.status === 401) throw error;
    sites = [];
  }
  return sites;
}

const ctx = {
  api, charts, h, fmt,
  go(hash) { location.hash = hash; },
  tzOf(path) {
    const site = (sites || []).find((s) => path === s.path || path.startsWith(s.path + "/"));
    return site ? site.tz || site.timezone || "UTC" : "UTC";
  },
  sites: () => sites || [],
  crumbs(path, page = "asset") {
    const parts = path ? path.split("/") : [];
    crumbs.replaceChildren(h("a", { href: "#/" }, "Fleet"), ...parts.flatMap((p, i) => [" / ", h("a", { href: `#/${page}/${parts.slice(0, i + 1).map(encodeURIComponent).join("/")}` }, p)]));
  },
};

function drawNav(current) {
  nav.replaceChildren(...PAGES.filter((p) => p.nav).sort((a, b) => (a.order ?? 50) - (b.order ?? 50))
    .map((p) => h("a", { href: `#/${p.id}`, class: p.id === current ? "active" : "" }, p.title)));
  const who = document.getElementById("who");
  who.replaceChildren(api.auth.token || api.auth.name ? h("span", {}, api.auth.name || "signed in", h("button", { onclick: signOut }, "Sign out")) : "");
}

async function signOut() {
  api.auth.token = null; api.auth.name = "";
  try { await api.post("/auth/logout", {}); } catch { /* nothing to end without the identity routes */ }
  location.hash = "#/login";
}

async function show() {
  if (leave) { try { leave(); } catch { /* a page's cleanup must not block navigation */ } leave = null; }
  const { id, args } = route();
  const page = PAGES.find((p) => p.id === id) || PAGES.find((p) => p.id === "overview");
  if (page.id !== "login") {
    try { await loadSites(); } catch (error) {
      if (error.status === 401) { location.hash = "#/login"; return; }
    }
  }
  drawNav(page.id);
  crumbs.replaceChildren();
  document.title = `${page.title} · werk`;
  const el = h("section", { class: `page page-${page.id}`, "data-page": page.id });
  main.replaceChildren(el);
  try {
    const cleanup = await page.render(ctx, el, args);
    leave = typeof cleanup === "function" ? cleanup : null;
  } catch (error) {
    if (error.status === 401) { location.hash = "#/login"; return; }
    el.append(h("p", { class: "error" }, `${error.message}${error.key ? ` (${error.key})` : ""}`));
  }
}

window.addEventListener("werk:unauthorized", () => { if (route().id !== "login") location.hash = "#/login"; });
window.addEventListener("hashchange", show);
window.addEventListener("werk:signed-in", () => { sites = null; });
show();
