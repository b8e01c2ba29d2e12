// A tiny element builder and the formatting every page shares (numbers, percentages, plant time).
export function h(tag, attrs = {}, ...children) {
  const svg = ["svg", "g", "path", "rect", "line", "text", "circle", "polyline", "title"].includes(tag);
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const formats = new Map();
function formatter(tz, options) {
  const key = tz + JSON.stringify(options);
  if (!formats.has(key)) formats.set(key, new Intl.DateTimeFormat("en-GB", { timeZone: tz, ...options }));
  return formats.get(key);
}

export const fmt = {
  pct(v, digits = 1) { return v === null || v === undefined || Number.isNaN(v) ? "–" : (v * 100).toFixed(digits) + " %"; },
  num(v, digits = 2) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    const a = Math.abs(v);
    return a >= 1e5 ? v.toExponential(2) : v.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : digits);
  },
  duration(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.abs(seconds);
    if (s < 90) return `${Math.round(seconds)} s`;
    if (s < 5400) return `${Math.round(seconds / 60)} min`;
    if (s < 172800) return `${(seconds / 3600).toFixed(1)} h`;
    return `${(seconds / 86400).toFixed(1)} d`;
  },
  // Time in the plant's own zone, with the zone's abbreviation so no one misreads it.
  time(ts, tz = "UTC", withDate = true) {
    if (!ts) return "–";
    const d = ts instanceof Date ? ts : new Date(ts);
    const opts = withDate
      ? { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", timeZoneName: "short" }
      : { hour: "2-digit", minute: "2-digit" };
    return formatter(tz, opts).format(d);
  },
  tick(ms, tz, spanMs) {
    const d = new Date(ms);
    if (spanMs > 3 * 86400e3) return formatter(tz, { month: "2-digit", day: "2-digit" }).format(d);
    if (spanMs > 86400e3) return formatter(tz, { weekday: "short", hour: "2-digit", minute: "2-digit" }).format(d);
    return formatter(tz, { hour: "2-digit", minute: "2-digit" }).format(d);
  },
  ago(ts) {
    if (!ts) return "never";
    const s = (Date.now() - new Date(ts).getTime()) / 1000;
    return s < 0 ? "just now" : fmt.duration(s) + " ago";
  },
  klass(oee) { return oee === null || oee === undefined ? "muted" : oee >= 0.75 ? "good" : oee >= 0.55 ? "warn" : "bad"; },
};

export const STATES = ["executing", "setup", "micro_stop", "starved", "blocked", "failure", "no_order", "break", "planned_maintenance", "no_shift", "unknown"];
export function stateColor(code) {
  const known = STATES.includes(code) ? code : "unknown";
  return `var(--s-${known})`;
}

// Split a hash route "#/asset/a/b" into its page id and segments.
export function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("?")[0].split("/").filter(Boolean).map(decodeURIComponent);
  return { id: parts[0] || "overview", args: parts.slice(1) };
}
