// OEE per shift with availability, performance and quality; the loss waterfall (six big losses)
// and the downtime Pareto of the same range. Shifts are the plant's own, in its time zone.
import { h, fmt } from "../js/h.js";

const enc = (p) => p.split("/").map(encodeURIComponent).join("/");

export function waterfallSteps(tree) {
  const nodes = [];
  (function walk(n) { nodes.push(n); n.children.forEach(walk); })(tree);
  const find = (name) => nodes.find((n) => n.name === name);
  const pbt = find("pbt"), fully = find("fully_productive");
  const losses = nodes.filter((n) => n.big_loss).sort((a, b) => a.big_loss - b.big_loss);
  if (!pbt || !fully) return [];
  return [
    { label: "planned busy time", value: pbt.seconds, kind: "total" },
    ...losses.map((n) => ({ label: n.label, value: n.seconds || 0, kind: "loss" })),
    { label: "fully productive time", value: fully.seconds, kind: "total" },
  ];
}

export default {
  id: "oee",
  title: "OEE",
  nav: true,
  order: 20,
  async render(ctx, el, args) {
    let path = args.join("/");
    if (!path) {
      const first = ctx.sites()[0];
      if (!first) { el.append(h("p", { class: "muted" }, "No sites in the asset model yet.")); return; }
      path = first.path;
    }
    ctx.crumbs(path, "oee");
    const tz = ctx.tzOf(path);
    const days = Number(new URLSearchParams(location.hash.split("?")[1] || "").get("days") || 7);
    const from = new Date(Date.now() - days * 86400e3).toISOString();
    const picker = h("select", { onchange: (ev) => ctx.go(`#/oee/${enc(ev.target.value)}`) },
      ctx.sites().map((s) => h("option", { value: s.path, selected: path.startsWith(s.path) }, s.path)));
    el.append(h("h1", {}, `OEE · ${path}`),
      h("div", { class: "toolbar" }, picker, ...[1, 7, 28].map((d) => h("a", { href: `#/oee/${enc(path)}?days=${d}` }, h("button", { class: d === days ? "on" : "" }, `${d} d`))),
        h("span", { class: "muted" }, `shifts in plant time (${tz})`)));
    const [kpi, losses] = await Promise.all([
      ctx.api.get("/kpi", { path, from, by: "shift", kpi: "oee,availability,effectiveness,quality_ratio" }),
      ctx.api.get("/losses", { path, from }),
    ]);
    const labels = { oee: "OEE", availability: "Availability", effectiveness: "Performance", quality_ratio: "Quality" };
    const shiftBox = h("div", { class: "chartbox", "data-testid": "oee-shifts" });
    el.append(h("h2", {}, "OEE per shift"), shiftBox);
    ctx.charts.bars(shiftBox, {
      groups: kpi.rows.map((r) => ({ label: r.window, short: `${fmt.tick(new Date(r.start).getTime(), tz, 2 * 86400e3)} ${r.shift || ""}`, values: r })),
      names: ["oee", "availability", "effectiveness", "quality_ratio"], labels,
    });
    const steps = waterfallSteps(losses.tree);
    const wf = h("div", { class: "chartbox", "data-testid": "waterfall" });
    const pa = h("div", { class: "chartbox", "data-testid": "pareto" });
    el.append(h("div", { class: "row" },
      h("div", {}, h("h2", {}, "Losses (six big losses)"), wf),
      h("div", {}, h("h2", {}, "Downtime Pareto"), pa)));
    ctx.charts.waterfall(wf, { steps });
    const top = losses.pareto.slice(0, 15);
    if (top.length) ctx.charts.pareto(pa, { rows: top.map((r) => ({ label: `${r.code}${r.reason ? " · " + r.reason.split("/").pop() : ""}`, value: r.seconds, share: r.share, cumulative: r.cumulative })) });
    else pa.append(h("p", { class: "muted" }, "No downtime in this range."));
    el.append(h("h2", {}, "Shifts"), h("table", { "data-testid": "shift-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "Shift"), h("th", {}, "Start (plant time)"), ...Object.values(labels).map((l) => h("th", { class: "num" }, l)), h("th", { class: "num" }, "Complete"), h("th", {}, "Final"))),
      h("tbody", {}, kpi.rows.slice().reverse().map((r) => h("tr", {},
        h("td", {}, r.window), h("td", {}, fmt.time(r.start, tz)),
        ...Object.keys(labels).map((k) => h("td", { class: `num ${k === "oee" ? fmt.klass(r.oee) : ""}` }, fmt.pct(r[k]))),
        h("td", { class: "num" }, fmt.pct(r.completeness, 0)), h("td", {}, r.final ? "yes" : "open"))))));
  },
};
