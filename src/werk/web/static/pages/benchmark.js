// Cross-plant benchmark: every site over the same range, each in its own plant time, ranked by OEE.
import { h, fmt } from "../js/h.js";

export default {
  id: "benchmark",
  title: "Benchmark",
  nav: true,
  order: 30,
  async render(ctx, el) {
    const enterprises = [...new Set(ctx.sites().map((s) => s.path.split("/")[0]))];
    el.append(h("h1", {}, "Cross-plant benchmark, last 7 days"));
    const names = ["oee", "availability", "effectiveness", "quality_ratio", "teep", "scrap_ratio", "mtbf", "mttr"];
    const labels = { oee: "OEE", availability: "Availability", effectiveness: "Performance", quality_ratio: "Quality", teep: "TEEP", scrap_ratio: "Scrap", mtbf: "MTBF", mttr: "MTTR" };
    for (const enterprise of enterprises) {
      const data = await ctx.api.get("/kpi/benchmark", { path: enterprise, from: "-7d", kpi: names.join(",") });
      const box = h("div", { class: "chartbox" });
      el.append(h("h2", {}, enterprise), h("table", { "data-testid": "benchmark" },
        h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "Site"), ...names.map((n) => h("th", { class: "num" }, labels[n])), h("th", { class: "num" }, "Complete"))),
        h("tbody", {}, data.rows.map((r) => h("tr", {},
          h("td", {}, r.rank ?? "–"), h("td", {}, h("a", { href: `#/oee/${r.site.split("/").map(encodeURIComponent).join("/")}` }, r.site)),
          ...names.map((n) => h("td", { class: `num ${n === "oee" ? fmt.klass(r.oee) : ""}` }, n.startsWith("mt") ? fmt.duration(r[n]) : fmt.pct(r[n]))),
          h("td", { class: "num" }, fmt.pct(r.completeness, 0)))))), box);
      ctx.charts.bars(box, { groups: data.rows.map((r) => ({ label: r.site, short: r.site.split("/").pop(), values: r })), names: names.slice(0, 4), labels, height: 200 });
    }
    if (!enterprises.length) el.append(h("p", { class: "muted" }, "No sites in the asset model yet."));
  },
};
