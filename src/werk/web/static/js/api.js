// Calls to /api/v1 with the signed-in caller's credentials; problem+json answers become ApiError.
const BASE = "/api/v1";
const KEY = "werk.token";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail || `HTTP ${status}`);
    this.status = status;
    this.key = body?.key || "http.error";
    this.body = body;
  }
}

export const auth = {
  get token() { return sessionStorage.getItem(KEY); },
  set token(value) { value ? sessionStorage.setItem(KEY, value) : sessionStorage.removeItem(KEY); },
  get name() { return sessionStorage.getItem(KEY + ".name") || ""; },
  set name(value) { sessionStorage.setItem(KEY + ".name", value || ""); },
};

function url(route, params = {}) {
  const u = new URL(BASE + route, location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") continue;
    for (const one of Array.isArray(v) ? v : [v]) u.searchParams.append(k, one);
  }
  return u;
}

function headers(extra = {}) {
  const h = { Accept: "application/json", ...extra };
  if (auth.token) h.Authorization = `Bearer ${auth.token}`;
  return h;
}

async function answer(response) {
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = { detail: text }; }
  if (!response.ok) {
    const error = new ApiError(response.status, body);
    if (response.status === 401) window.dispatchEvent(new CustomEvent("werk:unauthorized"));
    throw error;
  }
  return body;
}

export async function get(route, params) {
  return answer(await fetch(url(route, params), { headers: headers(), credentials: "same-origin" }));
}

export async function post(route, body) {
  return answer(await fetch(url(route), {
    method: "POST", credentials: "same-origin",
    headers: headers({ "Content-Type": "application/json" }), body: JSON.stringify(body),
  }));
}

// Read a Server-Sent Events stream with fetch (EventSource cannot send an Authorization header).
// Reconnects after `end` or a dropped connection until the returned stop() is called.
export function stream(route, params, onMessage) {
  let stopped = false;
  let controller = null;
  async function run() {
    while (!stopped) {
      controller = new AbortController();
      try {
        const response = await fetch(url(route, params), {
          headers: headers({ Accept: "text/event-stream" }), signal: controller.signal,
          credentials: "same-origin",
        });
        if (!response.ok) { onMessage("error", await answer(response).catch((e) => e)); return; }
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            let event = "message", data = "";
            for (const line of block.split("\n")) {
              if (line.startsWith("event: ")) event = line.slice(7);
              else if (line.startsWith("data: ")) data += line.slice(6);
            }
            if (data) onMessage(event, JSON.parse(data));
            if (event === "end" && !JSON.parse(data).codes?.includes("max_s")) { stopped = true; }
          }
        }
      } catch (error) {
        if (stopped) return;
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 1000));
    }
  }
  run();
  return () => { stopped = true; controller?.abort(); };
}
