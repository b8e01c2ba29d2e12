// Edge health: every edge agent's latest report — buffer depth, uplink lag, dropped counts and the
// completeness of each source.
import { h, fmt } from "../js/h.js";

function facts(obj) {
  const entries = Object.entries(obj || {});
  if (!entries.length) return h("span", { class: "muted" }, "–");
  return h("table", {}, h("tbody", {}, entries.map(([k, v]) => h("tr", {}, h("th", {}, k.replaceAll("_", " ")),
    h("td", { class: "num" }, typeof v === "number" ? (k.endsWith("_s") ? fmt.duration(v) : fmt.num(v, 0)) : typeof v === "object" ? JSON.stringify(v) : String(v))))));
}

export default {
  id: "edge",
  title: "Edge health",
  nav: true,
  order: 60,
  async render(ctx, el) {
    el.append(h("h1", {}, "Edge health"));
    let data;
    try { data = await ctx.api.get("/edge"); } catch (error) {
      if (error.status === 404 || error.status === 405) { el.append(h("p", { class: "muted" }, "This server has no edge registry.")); return; }
      throw error;
    }
    if (!data.edges.length) { el.append(h("p", { class: "muted" }, "No edge agent has reported yet.")); return; }
    el.append(h("div", { class: "grid", "data-testid": "edges" }, data.edges.map((e) => {
      const r = e.report || {};
      const age = (Date.now() - new Date(e.received_at).getTime()) / 1000;
      const completeness = Object.entries(r.completeness || {});
      return h("div", { class: "card", "data-edge": e.edge },
        h("h3", {}, e.edge, h("span", { class: `pill ${age < 120 ? "good" : age < 900 ? "warn" : "bad"}` }, `reported ${fmt.ago(e.received_at)}`)),
        h("div", { class: "muted" }, e.site),
        h("h2", {}, "Buffer"), facts(r.buffer), h("h2", {}, "Uplink"), facts(r.uplink),
        h("h2", {}, "Completeness per source"),
        completeness.length ? completeness.map(([src, v]) => h("div", {}, h("div", { class: "toolbar" }, h("span", {}, src), h("b", { class: v >= 0.99 ? "good" : v >= 0.9 ? "warn" : "bad" }, fmt.pct(v))),
          h("div", { class: "bar" }, h("span", { style: { width: `${100 * v}%`, background: v >= 0.99 ? "#16a34a" : "#f59e0b" } })))) : h("span", { class: "muted" }, "–"),
        h("h2", {}, "Sources"), facts(Object.fromEntries(Object.entries(r.sources || {}).map(([k, v]) => [k, typeof v === "object" ? Object.entries(v).map(([a, b]) => `${a}=${b}`).join(" ") : v]))));
    })));
  },
};
