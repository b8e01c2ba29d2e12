// Fleet overview: every site with OEE today and this week, machine states, alarms, freshness.
import { h, fmt, stateColor, STATES } from "../js/h.js";

export function stateBar(states, total) {
  const codes = Object.keys(states).sort((a, b) => STATES.indexOf(a) - STATES.indexOf(b));
  return h("div", {},
    h("div", { class: "bar", title: codes.map((c) => `${c}: ${states[c]}`).join(", ") },
      codes.map((c) => h("span", { "data-state": c, style: { width: `${(100 * states[c]) / Math.max(1, total)}%`, background: stateColor(c) } }))),
    h("div", { class: "legend" }, codes.map((c) => h("span", {}, h("i", { style: { background: stateColor(c) } }), `${c} ${states[c]}`))));
}

function kpiBlock(label, k) {
  const oee = k ? k.oee : null;
  return h("div", { class: "kpi" },
    h("div", { class: `v ${fmt.klass(oee)}` }, fmt.pct(oee, 1)),
    h("div", { class: "l" }, label),
    k ? h("div", { class: "muted", style: { fontSize: ".75rem" } }, `A ${fmt.pct(k.availability, 0)} · P ${fmt.pct(k.effectiveness, 0)} · Q ${fmt.pct(k.quality_ratio, 0)}`) : null);
}

export function freshness(child) {
  if (!child.last_data) return h("span", { class: "pill bad" }, "no data");
  const age = child.age_s;
  const klass = age < 120 ? "good" : age < 3600 ? "warn" : "bad";
  return h("span", { class: `pill ${klass}`, title: `${child.stale} of ${child.series} series older than 5 min` }, `data ${fmt.ago(child.last_data)}`);
}

export function childCard(ctx, child, href) {
  const tz = child.tz || "UTC";
  return h("div", { class: "card", "data-path": child.path, "data-testid": "child-card" },
    h("h3", {}, h("a", { href }, child.name), h("span", { class: "muted", style: { fontSize: ".8rem" } }, `${fmt.time(new Date(), tz, false)} ${tz}`)),
    h("div", { class: "kpis" }, kpiBlock("OEE today", child.oee_today), kpiBlock("OEE this week", child.oee_week)),
    stateBar(child.states, child.machines),
    h("div", { class: "toolbar" },
      h("span", {}, `${child.machines} machines`),
      child.alarms ? h("span", { class: "pill bad" }, `${child.alarms} alarm${child.alarms > 1 ? "s" : ""}`) : h("span", { class: "pill good" }, "no alarms"),
      freshness(child),
      h("a", { href: `#/oee/${child.path.split("/").map(encodeURIComponent).join("/")}` }, "OEE ›")));
}

export function alarmTable(ctx, alarms) {
  if (!alarms.length) return h("p", { class: "muted" }, "No active alarms.");
  return h("table", { "data-testid": "alarms" },
    h("thead", {}, h("tr", {}, h("th", {}, "Machine"), h("th", {}, "Alarm"), h("th", {}, "Since (plant time)"))),
    h("tbody", {}, alarms.map((a) => h("tr", {},
      h("td", {}, h("a", { href: `#/asset/${a.path.split("/").map(encodeURIComponent).join("/")}` }, a.path)),
      h("td", {}, a.code), h("td", {}, fmt.time(a.since, ctx.tzOf(a.path)))))));
}

export default {
  id: "overview",
  title: "Fleet",
  nav: true,
  order: 10,
  async render(ctx, el) {
    const data = await ctx.api.get("/overview");
    const total = data.machines.length;
    el.append(
      h("h1", {}, "Fleet overview"),
      h("div", { class: "toolbar" }, h("span", {}, `${data.children.length} sites · ${total} machines · ${data.alarms.length} active alarms`),
        h("span", { class: "muted" }, `as of ${fmt.time(data.generated_at, "UTC")}`)),
      stateBar(data.states, total),
      h("div", { class: "grid", "data-testid": "sites" }, data.children.map((c) => childCard(ctx, c, `#/asset/${c.path.split("/").map(encodeURIComponent).join("/")}`))),
      h("h2", {}, "Active alarms"), alarmTable(ctx, data.alarms));
    const timer = setInterval(() => { if (!document.hidden) ctx.go(location.hash || "#/"), window.dispatchEvent(new HashChangeEvent("hashchange")); }, 60000);
    return () => clearInterval(timer);
  },
};
