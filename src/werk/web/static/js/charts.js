// SVG charts drawn by hand: a zoomable line chart, a state timeline, bars, a waterfall, a Pareto.
import { h, fmt, stateColor } from "./h.js";

const PALETTE = ["#1d4ed8", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#4d7c0f", "#be185d"];
const W = 900;

function niceTicks(lo, hi, n = 5) {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / n, mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(v);
  return out;
}

function timeTicks(from, to, n = 6) {
  const span = to - from;
  const steps = [60e3, 300e3, 900e3, 1800e3, 3600e3, 3 * 3600e3, 6 * 3600e3, 12 * 3600e3, 86400e3, 2 * 86400e3, 7 * 86400e3];
  const step = steps.find((s) => span / s <= n) || steps[steps.length - 1];
  const out = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) out.push(t);
  return out;
}

function tooltip(box) {
  let tip = box.querySelector(".tip");
  if (!tip) { tip = h("div", { class: "tip" }); box.append(tip); }
  return {
    show(x, y, text) { tip.textContent = text; tip.style.display = "block"; tip.style.left = `${x + 12}px`; tip.style.top = `${y}px`; },
    hide() { tip.style.display = "none"; },
  };
}

// series: [{name, unit, points: [[ms, value], ...]}]; drag to zoom (onZoom(from, to)), double-click resets.
export function lineChart(box, { series, from, to, tz, height = 260, onZoom, onReset }) {
  box.replaceChildren();
  const H = height, L = 56, R = 12, T = 10, B = 26;
  const values = series.flatMap((s) => s.points.map((p) => p[1])).filter((v) => Number.isFinite(v));
  let lo = Math.min(...values), hi = Math.max(...values);
  if (!values.length) { lo = 0; hi = 1; }
  if (lo === hi) { lo -= 1; hi += 1; }
  const pad = (hi - lo) * 0.06; lo -= pad; hi += pad;
  const x = (t) => L + ((t - from) / (to - from)) * (W - L - R);
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
  const svg = h("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "trend" });
  const axis = h("g", { class: "axis" });
  for (const v of niceTicks(lo, hi)) {
    axis.append(h("line", { x1: L, x2: W - R, y1: y(v), y2: y(v) }), h("text", { x: L - 6, y: y(v) + 3, "text-anchor": "end" }, fmt.num(v)));
  }
  for (const t of timeTicks(from, to)) {
    axis.append(h("line", { x1: x(t), x2: x(t), y1: T, y2: H - B }), h("text", { x: x(t), y: H - 8, "text-anchor": "middle" }, fmt.tick(t, tz, to - from)));
  }
  svg.append(axis);
  series.forEach((s, i) => {
    let d = "", pen = false, last = null;
    for (const [t, v] of s.points) {
      // a gap longer than 3 buckets breaks the line instead of drawing over missing data
      if (!Number.isFinite(v) || (last !== null && s.step && t - last > 3 * s.step)) pen = false;
      if (Number.isFinite(v)) { d += `${pen ? "L" : "M"}${x(t).toFixed(1)},${y(v).toFixed(1)}`; pen = true; }
      last = t;
    }
    svg.append(h("path", { d, fill: "none", stroke: PALETTE[i % PALETTE.length], "stroke-width": 1.5, "data-series": s.name }));
  });
  const sel = h("rect", { class: "sel", y: T, height: H - T - B, width: 0, x: 0, visibility: "hidden" });
  const cursor = h("line", { y1: T, y2: H - B, stroke: "#94a3b8", visibility: "hidden" });
  svg.append(sel, cursor);
  box.append(svg);
  const tip = tooltip(box);
  const toTime = (ev) => {
    const r = svg.getBoundingClientRect();
    const px = ((ev.clientX - r.left) / r.width) * W;
    return { px, t: from + ((Math.max(L, Math.min(W - R, px)) - L) / (W - L - R)) * (to - from) };
  };
  let start = null;
  svg.addEventListener("mousedown", (ev) => { start = toTime(ev); sel.setAttribute("visibility", "visible"); });
  svg.addEventListener("mousemove", (ev) => {
    const now = toTime(ev);
    cursor.setAttribute("x1", now.px); cursor.setAttribute("x2", now.px); cursor.setAttribute("visibility", "visible");
    const lines = series.map((s) => {
      let best = null;
      for (const p of s.points) if (best === null || Math.abs(p[0] - now.t) < Math.abs(best[0] - now.t)) best = p;
      return best ? `${s.name} ${fmt.num(best[1])}${s.unit ? " " + s.unit : ""}` : null;
    }).filter(Boolean);
    const r = box.getBoundingClientRect();
    tip.show(ev.clientX - r.left, ev.clientY - r.top - 30, `${fmt.time(now.t, tz)} · ${lines.join(" · ")}`);
    if (start) {
      sel.setAttribute("x", Math.min(start.px, now.px)); sel.setAttribute("width", Math.abs(now.px - start.px));
    }
  });
  svg.addEventListener("mouseleave", () => { tip.hide(); cursor.setAttribute("visibility", "hidden"); });
  window.addEventListener("mouseup", (ev) => {
    if (!start) return;
    const end = toTime(ev);
    sel.setAttribute("visibility", "hidden");
    const a = Math.min(start.t, end.t), b = Math.max(start.t, end.t);
    start = null;
    if (onZoom && b - a > (to - from) / 200) onZoom(a, b);
  }, { once: false });
  svg.addEventListener("dblclick", () => onReset && onReset());
  const legend = h("div", { class: "legend" }, series.map((s, i) => h("span", {}, h("i", { style: { background: PALETTE[i % PALETTE.length] } }), s.name + (s.unit ? ` (${s.unit})` : ""))));
  box.append(legend);
}

// rows: [{label, spans: [{start, end, code, reason}]}] — one band per machine.
export function timeline(box, { rows, from, to, tz }) {
  box.replaceChildren();
  const L = 150, R = 12, T = 4, band = 18, B = 22;
  const H = T + rows.length * (band + 4) + B;
  const x = (t) => L + ((Math.max(from, Math.min(to, t)) - from) / (to - from)) * (W - L - R);
  const svg = h("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "state timeline" });
  const axis = h("g", { class: "axis" });
  for (const t of timeTicks(from, to)) axis.append(h("text", { x: x(t), y: H - 6, "text-anchor": "middle" }, fmt.tick(t, tz, to - from)));
  svg.append(axis);
  rows.forEach((row, i) => {
    const y0 = T + i * (band + 4);
    svg.append(h("text", { x: L - 6, y: y0 + 13, "text-anchor": "end", "font-size": 11 }, row.label));
    for (const s of row.spans) {
      const w = Math.max(0.5, x(s.end) - x(s.start));
      svg.append(h("rect", { x: x(s.start), y: y0, width: w, height: band, fill: stateColor(s.code), "data-code": s.code },
        h("title", {}, `${s.code}${s.reason ? " · " + s.reason : ""}\n${fmt.time(s.start, tz)} – ${fmt.time(s.end, tz, false)} (${fmt.duration((s.end - s.start) / 1000)})`)));
    }
  });
  box.append(svg);
}

// groups: [{label, values: {name: v}}], names: [..] — grouped bars of ratios (0..1).
export function bars(box, { groups, names, labels = {}, height = 240 }) {
  box.replaceChildren();
  const H = height, L = 40, R = 10, T = 10, B = 40;
  const gw = (W - L - R) / Math.max(1, groups.length);
  const bw = Math.min(18, (gw - 6) / names.length);
  const y = (v) => T + (1 - v) * (H - T - B);
  const svg = h("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "bars" });
  const axis = h("g", { class: "axis" });
  for (const v of [0, 0.25, 0.5, 0.75, 1]) axis.append(h("line", { x1: L, x2: W - R, y1: y(v), y2: y(v) }), h("text", { x: L - 4, y: y(v) + 3, "text-anchor": "end" }, `${v * 100}%`));
  svg.append(axis);
  groups.forEach((g, i) => {
    const x0 = L + i * gw + (gw - bw * names.length) / 2;
    names.forEach((n, j) => {
      const v = g.values[n];
      if (v === null || v === undefined) return;
      svg.append(h("rect", { x: x0 + j * bw, y: y(Math.min(1, v)), width: bw - 2, height: (H - T - B) - (y(Math.min(1, v)) - T), fill: PALETTE[j], class: `bar-${n}` },
        h("title", {}, `${g.label} · ${labels[n] || n} ${fmt.pct(v)}`)));
    });
    if (groups.length <= 31 || i % Math.ceil(groups.length / 31) === 0) {
      svg.append(h("text", { x: L + i * gw + gw / 2, y: H - B + 14, "text-anchor": "middle", "font-size": 10, fill: "#6b7280" }, g.short || g.label));
    }
  });
  box.append(svg, h("div", { class: "legend" }, names.map((n, j) => h("span", {}, h("i", { style: { background: PALETTE[j] } }), labels[n] || n))));
}

// steps: [{label, value, kind: "total" | "loss"}] in seconds, left to right.
export function waterfall(box, { steps, height = 280 }) {
  box.replaceChildren();
  const H = height, L = 50, R = 10, T = 10, B = 70;
  const top = Math.max(...steps.map((s) => s.value), 1);
  const y = (v) => T + (1 - v / top) * (H - T - B);
  const bw = (W - L - R) / steps.length;
  const svg = h("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "loss waterfall" });
  let level = 0;
  steps.forEach((s, i) => {
    const x0 = L + i * bw + 6;
    let a, b, fill;
    if (s.kind === "total") { a = 0; b = s.value; level = s.value; fill = "#166534"; }
    else { a = level - s.value; b = level; level = a; fill = "#dc2626"; }
    svg.append(h("rect", { x: x0, y: y(b), width: bw - 12, height: Math.max(1, y(a) - y(b)), fill, class: "step" }, h("title", {}, `${s.label}: ${fmt.duration(s.value)}`)));
    svg.append(h("text", { x: x0 + (bw - 12) / 2, y: y(b) - 3, "text-anchor": "middle", "font-size": 10 }, fmt.duration(s.value)));
    const words = s.label.split(" ");
    words.slice(0, 4).forEach((w, k) => svg.append(h("text", { x: x0 + (bw - 12) / 2, y: H - B + 14 + k * 11, "text-anchor": "middle", "font-size": 10, fill: "#374151" }, w)));
  });
  box.append(svg);
}

// rows: [{label, value, cumulative}] sorted descending; bars plus the cumulative share line.
export function pareto(box, { rows, height = 260 }) {
  box.replaceChildren();
  const H = height, L = 50, R = 40, T = 10, B = 80;
  const top = Math.max(...rows.map((r) => r.value), 1);
  const bw = (W - L - R) / Math.max(1, rows.length);
  const y = (v) => T + (1 - v / top) * (H - T - B);
  const yc = (c) => T + (1 - c) * (H - T - B);
  const svg = h("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "downtime pareto" });
  let d = "";
  rows.forEach((r, i) => {
    const x0 = L + i * bw + 3;
    svg.append(h("rect", { x: x0, y: y(r.value), width: bw - 6, height: (H - T - B) - (y(r.value) - T), fill: "#f59e0b", class: "cause" }, h("title", {}, `${r.label}: ${fmt.duration(r.value)} (${fmt.pct(r.share)})`)));
    svg.append(h("text", { x: x0 + bw / 2, y: H - B + 10, "font-size": 10, fill: "#374151", transform: `rotate(35 ${x0 + bw / 2} ${H - B + 10})` }, r.label.length > 22 ? r.label.slice(0, 21) + "…" : r.label));
    d += `${i ? "L" : "M"}${x0 + (bw - 6) / 2},${yc(r.cumulative)}`;
  });
  svg.append(h("path", { d, fill: "none", stroke: "#1d4ed8", "stroke-width": 1.5 }));
  for (const c of [0, 0.5, 0.8, 1]) svg.append(h("text", { x: W - R + 4, y: yc(c) + 3, "font-size": 10, fill: "#1d4ed8" }, `${c * 100}%`));
  box.append(svg);
}
