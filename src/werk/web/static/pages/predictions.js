// Predictions and alerts: every pred_* signal (written by werk's ML models) with its newest value,
// and the alarms of the last two days (machine alarms and those the models raise).
import { h, fmt } from "../js/h.js";

export default {
  id: "predictions",
  title: "Predictions & alerts",
  nav: true,
  order: 40,
  async render(ctx, el) {
    const [signals, alarms] = await Promise.all([
      ctx.api.get("/signals", { limit: 100000 }),
      ctx.api.get("/events", { kind: "alarm", from: "-2d", limit: 2000 }),
    ]);
    const preds = signals.rows.filter((r) => r.signal.startsWith("pred_"));
    el.append(h("h1", {}, "Predictions & alerts"), h("h2", {}, "Predictions"),
      preds.length ? h("table", { "data-testid": "predictions" },
        h("thead", {}, h("tr", {}, h("th", {}, "Machine"), h("th", {}, "Prediction"), h("th", { class: "num" }, "Value"), h("th", {}, "Unit"), h("th", {}, "At (plant time)"))),
        h("tbody", {}, preds.map((r) => h("tr", {},
          h("td", {}, h("a", { href: `#/asset/${r.path.split("/").map(encodeURIComponent).join("/")}` }, r.path)),
          h("td", {}, r.signal.slice(5)), h("td", { class: "num" }, fmt.num(r.value)), h("td", {}, r.unit || ""), h("td", {}, fmt.time(r.ts, ctx.tzOf(r.path)))))))
        : h("p", { class: "muted" }, "No predictions yet: models write signals named pred_* (see docs/ml.md)."),
      h("h2", {}, "Alarms, last 2 days"),
      alarms.rows.length ? h("table", { "data-testid": "alarm-events" },
        h("thead", {}, h("tr", {}, h("th", {}, "At (plant time)"), h("th", {}, "Machine"), h("th", {}, "Alarm"), h("th", {}, "Reason"), h("th", {}, "State"))),
        h("tbody", {}, alarms.rows.slice().reverse().map((r) => h("tr", {},
          h("td", {}, fmt.time(r.ts, ctx.tzOf(r.path))), h("td", {}, r.path), h("td", {}, r.code), h("td", {}, r.reason || ""),
          h("td", {}, h("span", { class: `pill ${r.active ? "bad" : "good"}` }, r.active ? "raised" : "cleared"))))))
        : h("p", { class: "muted" }, "No alarms in the last two days."));
  },
};
