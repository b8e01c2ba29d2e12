// Drill-down: site → area → line → machine. Above a machine: its children with OEE, states and
// alarms, the machines as live tiles and (for a line) their state timelines. A machine: live
// values, a zoomable trend downsampled on the server, its state timeline and alarms.
import { h, fmt, stateColor } from "../js/h.js";
import { childCard, alarmTable, stateBar } from "./overview.js";

const BUCKETS = [[1, "1s"], [5, "5s"], [10, "10s"], [30, "30s"], [60, "1m"], [300, "5m"], [900, "15m"], [1800, "30m"], [3600, "1h"], [10800, "3h"], [21600, "6h"], [43200, "12h"], [86400, "1d"]];
const link = (path) => `#/asset/${path.split("/").map(encodeURIComponent).join("/")}`;

// The narrowest bucket that keeps a trend under ~600 points: the server downsamples, not the browser.
export function bucketFor(spanMs, points = 600) {
  const want = spanMs / 1000 / points;
  return (BUCKETS.find(([s]) => s >= want) || BUCKETS[BUCKETS.length - 1]);
}

async function stateSpans(ctx, path, from, to) {
  // read from 12 h earlier so the state in force at `from` is known
  const rows = [];
  let cursor = null;
  do {
    const page = await ctx.api.get("/events", { path, kind: "state", from: new Date(from - 12 * 3600e3).toISOString(), to: new Date(to).toISOString(), limit: 5000, cursor });
    rows.push(...page.rows);
    cursor = page.next;
  } while (cursor);
  const byPath = new Map();
  for (const r of rows) { if (!byPath.has(r.path)) byPath.set(r.path, []); byPath.get(r.path).push(r); }
  const out = new Map();
  for (const [p, list] of byPath) {
    const spans = [];
    list.forEach((r, i) => {
      const start = new Date(r.ts).getTime();
      const end = i + 1 < list.length ? new Date(list[i + 1].ts).getTime() : Math.min(to, Date.now());
      if (end > from) spans.push({ start: Math.max(start, from), end, code: r.code || "unknown", reason: r.reason });
    });
    out.set(p, spans);
  }
  return out;
}

function tiles(ctx, machines) {
  return h("div", { class: "tiles", "data-testid": "machines" }, machines.map((m) => h("a", {
    class: "tile", href: link(m.path), "data-path": m.path, "data-state": m.state, style: { borderLeftColor: stateColor(m.state) },
  }, h("b", {}, m.name), h("span", { class: "state" }, m.state), m.alarms.length ? h("span", { class: "pill bad" }, m.alarms.join(", ")) : null)));
}

async function branch(ctx, el, path) {
  const data = await ctx.api.get("/overview", { path });
  const tz = data.tz || ctx.tzOf(path);
  const leafParent = data.children.length && data.children.every((c) => c.level === "machine");
  el.append(h("h1", {}, `${data.level} ${path.split("/").pop()}`, h("span", { class: "muted", style: { fontSize: ".9rem", marginLeft: ".6rem" } }, `plant time ${tz}`)),
    h("div", { class: "toolbar" }, h("a", { href: `#/oee/${path.split("/").map(encodeURIComponent).join("/")}` }, "OEE per shift, losses and Pareto ›")),
    stateBar(data.states, data.machines.length));
  if (!leafParent) el.append(h("div", { class: "grid", "data-testid": "children" }, data.children.map((c) => childCard(ctx, c, link(c.path)))));
  const tileBox = h("div", {}, tiles(ctx, data.machines));
  el.append(h("h2", {}, "Machines (live)"), tileBox);
  if (data.machines.length <= 40) {
    const to = Date.now(), from = to - 24 * 3600e3;
    const box = h("div", { class: "chartbox", "data-testid": "timeline" });
    el.append(h("h2", {}, "State timeline, last 24 h"), box);
    const spans = await stateSpans(ctx, path, from, to);
    ctx.charts.timeline(box, { rows: data.machines.map((m) => ({ label: m.name, spans: spans.get(m.path) || [] })), from, to, tz });
  }
  el.append(h("h2", {}, "Active alarms"), alarmTable(ctx, data.alarms));
  // live: state changes move the tiles without reloading the view
  const byPath = new Map(data.machines.map((m) => [m.path, m]));
  return ctx.api.stream("/stream", { path, snapshot: false, max_s: 25 }, (event, body) => {
    if (event !== "event") return;
    for (const r of body.rows) {
      const m = byPath.get(r.path);
      if (!m) continue;
      if (r.kind === "state") m.state = r.code || "unknown";
      if (r.kind === "alarm") m.alarms = r.active ? [...new Set([...m.alarms, r.code])] : m.alarms.filter((c) => c !== r.code);
    }
    tileBox.replaceChildren(tiles(ctx, data.machines));
  });
}

async function machine(ctx, el, path) {
  const tz = ctx.tzOf(path);
  const listed = await ctx.api.get("/signals", { path, prefix: false, limit: 1000 });
  const signals = listed.rows;
  // totalisers (energy, counters) climb all day and flatten every other line: start without them
  const shaped = signals.filter((s) => !/energy|count|total/.test(s.signal));
  const chosen = new Set((shaped.length ? shaped : signals).slice(0, 2).map((s) => s.signal));
  const now = Date.now();
  const full = { from: now - 24 * 3600e3, to: now };
  let view = { ...full };
  const values = new Map();
  const liveTable = h("table", { class: "live", "data-testid": "signals" });
  const drawTable = () => liveTable.replaceChildren(
    h("thead", {}, h("tr", {}, h("th", {}, "trend"), h("th", {}, "Signal"), h("th", { class: "num" }, "Value"), h("th", {}, "Unit"), h("th", {}, "At (plant time)"), h("th", {}, "Quality"))),
    h("tbody", {}, signals.map((s) => {
      const v = values.get(s.signal) || s;
      return h("tr", { "data-signal": s.signal },
        h("td", {}, h("input", { type: "checkbox", checked: chosen.has(s.signal), onchange: (ev) => { ev.target.checked ? chosen.add(s.signal) : chosen.delete(s.signal); drawTrend(); } })),
        h("td", {}, s.signal), h("td", { class: "num value" }, fmt.num(v.value)), h("td", {}, s.unit || ""),
        h("td", {}, fmt.time(v.ts, tz)), h("td", {}, ["good", "uncertain", "bad"][v.quality] ?? "–"));
    })));
  const trendBox = h("div", { class: "chartbox", "data-testid": "trend" });
  const timelineBox = h("div", { class: "chartbox", "data-testid": "timeline" });
  const info = h("span", { class: "muted" });
  const ranges = [["1h", 3600e3], ["8h", 8 * 3600e3], ["24h", 24 * 3600e3], ["7d", 7 * 86400e3]];
  const toolbar = h("div", { class: "toolbar" }, ranges.map(([label, ms]) => h("button", { onclick: () => { view = { from: Date.now() - ms, to: Date.now() }; drawTrend(); } }, label)),
    h("button", { onclick: () => { view = { ...full }; drawTrend(); } }, "reset"), info);
  let drawing = 0;
  async function drawTrend() {
    const ticket = ++drawing;
    const [seconds, bucket] = bucketFor(view.to - view.from);
    info.textContent = `${fmt.time(view.from, tz)} – ${fmt.time(view.to, tz)} · ${bucket} buckets (drag to zoom, double-click to reset)`;
    const names = [...chosen];
    const [range, spans] = await Promise.all([
      names.length ? ctx.api.get("/range", { path, signal: names.join(","), from: new Date(view.from).toISOString(), to: new Date(view.to).toISOString(), bucket, agg: "avg", tz }) : { rows: [] },
      stateSpans(ctx, path, view.from, view.to),
    ]);
    if (ticket !== drawing) return;
    const unit = new Map(signals.map((s) => [s.signal, s.unit]));
    const series = names.map((n) => ({ name: n, unit: unit.get(n), step: seconds * 1000, points: range.rows.filter((r) => r.signal === n).map((r) => [new Date(r.ts).getTime(), r.value]) }));
    ctx.charts.lineChart(trendBox, { series, from: view.from, to: view.to, tz, onZoom: (a, b) => { view = { from: a, to: b }; drawTrend(); }, onReset: () => { view = { ...full }; drawTrend(); } });
    ctx.charts.timeline(timelineBox, { rows: [{ label: path.split("/").pop(), spans: spans.get(path) || [] }], from: view.from, to: view.to, tz });
  }
  el.append(h("h1", {}, path.split("/").pop(), h("span", { class: "muted", style: { fontSize: ".9rem", marginLeft: ".6rem" } }, `plant time ${tz}`)),
    h("div", { class: "toolbar" }, h("a", { href: `#/oee/${path.split("/").map(encodeURIComponent).join("/")}` }, "OEE per shift ›")),
    h("h2", {}, "Trend"), toolbar, trendBox, h("h2", {}, "State"), timelineBox, h("h2", {}, "Live values"), liveTable);
  drawTable();
  await drawTrend();
  return ctx.api.stream("/stream", { path, snapshot: false, max_s: 25 }, (event, body) => {
    if (event !== "sample") return;
    for (const r of body.rows) if (r.path === path) values.set(r.signal, r);
    drawTable();
    for (const r of body.rows) liveTable.querySelector(`tr[data-signal="${r.signal}"] .value`)?.classList.add("flash");
  });
}

export default {
  id: "asset",
  title: "Asset",
  nav: false,
  async render(ctx, el, args) {
    const path = args.join("/");
    ctx.crumbs(path);
    if (!path) { ctx.go("#/"); return; }
    return path.split("/").length >= 5 ? machine(ctx, el, path) : branch(ctx, el, path);
  },
};
