// Data sharing console. Owners register assets, publish offers, answer requests, suspend or revoke
// agreements and read the access log; consumers browse their catalog, negotiate and read what they
// were granted. Everything goes through /api/v1/sharing (the same routes as `werk share`).
import { h, fmt } from "../js/h.js";

const TEMPLATE = {
  permission: [{
    action: "use",
    constraint: [
      { leftOperand: "purpose", operator: "eq", rightOperand: "condition-monitoring" },
      { leftOperand: "dataAge", operator: "lteq", rightOperand: "P30D" },
    ],
  }],
  prohibition: [{ action: "distribute" }],
};

function table(testid, columns, rows, empty) {
  if (!rows.length) return h("p", { class: "muted", "data-testid": testid }, empty);
  return h("table", { "data-testid": testid },
    h("thead", {}, h("tr", {}, columns.map(([title]) => h("th", {}, title)))),
    h("tbody", {}, rows.map((row) => h("tr", { "data-id": row.id || row.providerPid || row.seq },
      columns.map(([, cell]) => h("td", {}, cell(row)))))));
}

function pill(text, good) {
  const tone = { active: "good", FINALIZED: "good", permit: "good", narrow: "warn", suspended: "warn",
    REQUESTED: "warn", AGREED: "warn", deny: "bad", revoked: "bad", expired: "bad", TERMINATED: "bad" };
  return h("span", { class: `pill ${good ?? tone[text] ?? ""}` }, text);
}

function short(id) { return id ? String(id).replace("urn:uuid:", "").slice(0, 8) : "–"; }

function errorBox() { return h("div", { class: "error", role: "alert" }); }

async function act(box, fn, refresh) {
  box.textContent = "";
  try { await fn(); await refresh(); } catch (error) {
    box.textContent = `${error.key || "error"}: ${error.message}${error.body?.problems ? " — " + error.body.problems.join("; ") : ""}`;
  }
}

function ownerPart(ctx, me, data, refresh) {
  const box = errorBox();
  const assetId = h("input", { id: "asset-id", placeholder: "asset id (slug)" });
  const scope = h("input", { id: "asset-scope", placeholder: "path prefix you own", size: 40 });
  const categories = h("input", { id: "asset-categories", value: "raw,states" });
  const signals = h("input", { id: "asset-signals", placeholder: "signals (empty: all)" });
  const register = h("button", { id: "asset-register", onclick: () => act(box, () => ctx.api.post("/sharing/assets", {
    id: assetId.value.trim(), scope: scope.value.trim(),
    categories: categories.value.split(",").map((s) => s.trim()).filter(Boolean),
    signals: signals.value.trim() ? signals.value.split(",").map((s) => s.trim()) : null,
  }), refresh) }, "Register asset");

  const assetPick = h("select", { id: "offer-asset" }, data.assets.map((a) => h("option", { value: a.id }, a.id)));
  const usage = h("textarea", { id: "offer-usage", rows: 10, cols: 70 }, JSON.stringify(TEMPLATE, null, 2));
  const access = h("textarea", { id: "offer-access", rows: 4, cols: 70, placeholder: "access policy (empty: every participant)" });
  const auto = h("input", { type: "checkbox", id: "offer-auto" });
  const publish = h("button", { id: "offer-publish", class: "primary", onclick: () => act(box, () => ctx.api.post("/sharing/offers", {
    asset: assetPick.value, usage_policy: JSON.parse(usage.value),
    access_policy: access.value.trim() ? JSON.parse(access.value) : null, auto_accept: auto.checked,
  }), refresh) }, "Publish offer");

  const mine = (n) => n.provider === me.participant;
  const requests = data.negotiations.filter((n) => mine(n) && ["REQUESTED", "ACCEPTED"].includes(n.state));
  const given = data.agreements.filter((a) => a.assigner === me.participant);
  const lifecycle = (a, action) => h("button", { "data-action": action, onclick: () => act(box,
    () => ctx.api.post(`/sharing/agreements/${encodeURIComponent(a.id)}/${action}`, { reason: `${action} from the console` }), refresh) }, action);

  return h("section", { "data-testid": "owner" },
    h("h2", {}, "Your data"),
    box,
    h("h3", {}, "Data assets"),
    table("assets", [["id", (a) => a.id], ["scope", (a) => a.scope], ["categories", (a) => a.categories.join(", ")],
      ["signals", (a) => (a.signals || ["all"]).join(", ")]], data.assets, "No data assets yet."),
    h("div", { class: "toolbar" }, assetId, scope, categories, signals, register),
    h("h3", {}, "Offers"),
    table("offers", [["offer", (o) => short(o.id)], ["asset", (o) => o.asset.id], ["terms", (o) => h("code", {}, o.usage_hash.slice(0, 19))],
      ["auto-accept", (o) => (o.auto_accept ? "yes" : "no")], ["state", (o) => pill(o.active ? "active" : "withdrawn")]],
    data.offers, "No offers yet."),
    h("div", { class: "card" }, h("div", { class: "toolbar" }, "Asset", assetPick, h("label", {}, auto, " pre-approve (auto-accept)")),
      h("div", {}, "Usage policy (ODRL JSON, ", h("a", { href: "/api/v1/sharing/policy-schema.json" }, "schema"), ")"), usage,
      h("div", {}, "Access policy (who sees the offer)"), access, h("div", { class: "toolbar" }, publish)),
    h("h3", {}, "Requests to answer"),
    table("requests", [["from", (n) => n.consumer], ["asset", (n) => n.asset], ["state", (n) => pill(n.state)],
      ["terms", (n) => h("code", {}, n.policy_hash.slice(0, 19))],
      ["", (n) => h("span", {},
        h("button", { class: "primary", "data-action": "approve", onclick: () => act(box, () => ctx.api.post(`/sharing/negotiations/${encodeURIComponent(n.providerPid)}/approve`, {}), refresh) }, "Approve"),
        h("button", { "data-action": "reject", onclick: () => act(box, () => ctx.api.post(`/sharing/negotiations/${encodeURIComponent(n.providerPid)}/terminate`, { reason: "rejected by the owner" }), refresh) }, "Reject"))]],
    requests, "No open requests."),
    h("h3", {}, "Agreements you gave"),
    table("given", [["agreement", (a) => short(a.id)], ["consumer", (a) => a.assignee], ["asset", (a) => a.asset.id],
      ["status", (a) => pill(a.status)], ["", (a) => (["active", "suspended"].includes(a.status)
        ? h("span", {}, a.status === "active" ? lifecycle(a, "suspend") : lifecycle(a, "resume"), lifecycle(a, "revoke")) : "")]],
    given, "No agreements yet."));
}

function consumerPart(ctx, me, data, refresh) {
  const box = errorBox();
  const result = h("div", { "data-testid": "read-result" });
  const held = data.agreements.filter((a) => a.assignee === me.participant);
  const purposeOf = (a) => {
    for (const rule of a.policy.permission || []) {
      for (const c of rule.constraint || []) if (c.leftOperand === "purpose") return Array.isArray(c.rightOperand) ? c.rightOperand[0] : c.rightOperand;
    }
    return "";
  };
  async function read(a) {
    result.replaceChildren(h("p", { class: "muted" }, "reading…"));
    try {
      const body = await ctx.api.get("/range", { path: a.asset.scope, descendants: true, from: "-1d", bucket: "1h",
        agreement: a.id, purpose: purposeOf(a) });
      result.replaceChildren(h("p", {}, `${body.count} rows of ${a.asset.scope} (bucket ${body.bucket || "raw"})`),
        table("read-rows", [["path", (r) => r.path], ["signal", (r) => r.signal], ["time", (r) => fmt.time(r.ts)], ["value", (r) => fmt.num(r.value)]],
          body.rows.slice(0, 20), "No data in the last day."));
    } catch (error) {
      result.replaceChildren(h("p", { class: "error" }, `${error.status} ${(error.body?.reasons || [error.key]).join(", ")}: ${error.message}`));
    }
  }
  const mine = data.negotiations.filter((n) => n.consumer === me.participant);
  return h("section", { "data-testid": "consumer" },
    h("h2", {}, "Data offered to you"),
    box,
    table("catalog", [["dataset", (d) => d.title], ["owner", (d) => d["werk:owner"]], ["scope", (d) => d["werk:scope"]],
      ["categories", (d) => d["werk:categories"].join(", ")],
      ["terms", (d) => h("details", {}, h("summary", {}, d.hasPolicy[0]["werk:autoAccept"] ? "pre-approved" : "owner approves"),
        h("pre", {}, JSON.stringify({ permission: d.hasPolicy[0].permission, prohibition: d.hasPolicy[0].prohibition }, null, 2)))],
      ["", (d) => h("button", { class: "primary", "data-action": "request", onclick: () => act(box, () => ctx.api.post("/sharing/negotiations", { offer: d.hasPolicy[0]["@id"] }), refresh) }, "Request")]],
    data.catalog.dataset, "Nothing is offered to you."),
    h("h3", {}, "Your negotiations"),
    table("negotiations", [["asset", (n) => n.asset], ["owner", (n) => n.provider], ["state", (n) => pill(n.state)],
      ["why", (n) => (n.reason ? (n.reason.reason || []).join("; ") || n.reason.code : "")],
      ["", (n) => (n.state === "AGREED" ? h("button", { "data-action": "verify", onclick: () => act(box, () => ctx.api.post(`/sharing/negotiations/${encodeURIComponent(n.providerPid)}/verify`, {}), refresh) }, "Verify") : "")]],
    mine, "No negotiations yet."),
    h("h3", {}, "What you were granted"),
    table("held", [["agreement", (a) => short(a.id)], ["owner", (a) => a.assigner], ["scope", (a) => a.asset.scope],
      ["status", (a) => pill(a.status)], ["purpose", (a) => purposeOf(a)],
      ["", (a) => (a.status === "active" ? h("button", { "data-action": "read", onclick: () => read(a) }, "Read last day") : "")]],
    held, "No agreements yet."),
    result);
}

function auditPart(rows) {
  return h("section", {},
    h("h2", {}, "Access log"),
    table("audit", [["#", (r) => r.seq], ["time", (r) => fmt.time(r.time)], ["who", (r) => `${r.actor} (${r.participant})`],
      ["what", (r) => r.what], ["path", (r) => r.path || r.subject || ""], ["agreement", (r) => short(r.agreement)],
      ["decision", (r) => (r.decision ? pill(r.decision) : "")], ["rows", (r) => (r.rows ?? "")],
      ["reasons", (r) => (r.reasons || []).map((x) => x.code).join(", ")]],
    rows.slice().reverse().slice(0, 100), "Nothing recorded yet."));
}

export default {
  id: "sharing",
  title: "Data sharing",
  nav: true,
  order: 70,
  async render(ctx, el) {
    const body = h("div", {});
    el.append(h("h1", {}, "Data sharing"), body);
    async function refresh() {
      const me = await ctx.api.get("/auth/me");
      const [assets, offers, negotiations, agreements, catalog, audit] = await Promise.all([
        ctx.api.get("/sharing/assets"), ctx.api.get("/sharing/offers"), ctx.api.get("/sharing/negotiations"),
        ctx.api.get("/sharing/agreements"), ctx.api.get("/sharing/catalog"), ctx.api.get("/sharing/audit", { limit: 5000 }),
      ]);
      const data = { assets, offers, negotiations, agreements, catalog };
      body.replaceChildren(
        h("p", { class: "muted" }, `Signed in as ${me.name} of ${me.participant}.`),
        ownerPart(ctx, me, data, refresh), consumerPart(ctx, me, data, refresh), auditPart(audit));
    }
    await refresh();
  },
};
