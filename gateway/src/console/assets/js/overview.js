// The overview: for the last hour or day, deliveries by outcome, success
// rate and latency per endpoint and in total, with a chart of attempts per
// time bucket; what waits, what is dead, what plugins failed on; endpoints
// that are failing, paused by their breaker or disabled stand out.
"use strict";

import { api, h, link, note, query, rate, table, fill } from "./api.js";

// Below this success rate an endpoint is shown as failing.
const FAILING = 0.9;
const WINDOWS = { hour: { ms: 3600e3, bucket: "5m" }, day: { ms: 86400e3, bucket: "1h" } };

// Stacked bars of succeeded (below) and failed (above) attempts per bucket.
export function chart(buckets, label) {
  const width = 600;
  const height = 120;
  const most = Math.max(1, ...buckets.map((b) => b.attempts));
  const bar = width / Math.max(1, buckets.length);
  const svg = h("svg", { svg: true, viewBox: `0 0 ${width} ${height + 2}`, class: "chart", role: "img", "aria-label": label });
  svg.appendChild(h("title", { svg: true }, label));
  buckets.forEach((b, i) => {
    const ok = (b.succeeded / most) * height;
    const bad = (b.failed / most) * height;
    const x = i * bar + 1;
    const tip = `${new Date(b.start).toLocaleTimeString()}: ${b.succeeded} succeeded, ${b.failed} failed`;
    svg.appendChild(h("rect", { svg: true, x, y: height - ok, width: bar - 2, height: ok, class: "ok" }, h("title", { svg: true }, tip)));
    svg.appendChild(h("rect", { svg: true, x, y: height - ok - bad, width: bar - 2, height: bad, class: "bad" }, h("title", { svg: true }, tip)));
  });
  svg.appendChild(h("line", { svg: true, x1: 0, y1: height + 1, x2: width, y2: height + 1, class: "axis" }));
  return svg;
}

// A chart with a caption saying what its axes span.
function figure(buckets, label) {
  const from = buckets.length ? new Date(buckets[0].start).toLocaleTimeString() : "";
  const most = Math.max(0, ...buckets.map((b) => b.attempts));
  return h("figure", { class: "chart" }, chart(buckets, label),
    h("figcaption", {}, `${label}: green succeeded, red failed; the tallest bar is ${most} attempts; from ${from} to now.`));
}

// What an endpoint's state is, from its settings, breaker and counts.
function state(endpoint, counts) {
  if (endpoint.disabled) return "disabled";
  if (endpoint.circuit && endpoint.circuit.state === "open") return "paused";
  if (counts.attempts > 0 && counts.success_rate < FAILING) return "failing";
  return "healthy";
}

export async function render(main, window_ = "hour") {
  const chosen = WINDOWS[window_] ? window_ : "hour";
  const { ms, bucket } = WINDOWS[chosen];
  const since = Date.now() - ms;
  const [stats, endpoints, failed] = await Promise.all([
    api(`/v1/stats/deliveries${query({ since, bucket })}`),
    api("/v1/endpoints?limit=500"),
    api(`/v1/messages${query({ status: "failed", since, limit: 500 })}`),
  ]);
  const counted = new Map(stats.endpoints.map((e) => [e.endpoint, e]));
  const empty = { deliveries: {}, attempts: 0, buckets: [] };
  const kinds = new Map();
  for (const m of failed.items) kinds.set(m.outcome.kind, (kinds.get(m.outcome.kind) || 0) + 1);

  const body = h("div", { id: "overview-body" },
    h("div", { class: "cards" },
      card("Attempts", stats.total.attempts),
      card("Success rate", rate(stats.total.success_rate) || "n/a"),
      card("Latency p50 / p95", stats.total.latency_ms ? `${stats.total.latency_ms.p50} / ${stats.total.latency_ms.p95} ms` : "n/a"),
      card("Waiting for plugins", stats.queue.pipeline),
      card("Scheduled deliveries", stats.queue.scheduled),
      card("Oldest due waits", stats.queue.oldest_due_ms ? `${Math.round(stats.queue.oldest_due_ms / 1000)} s` : "none overdue"),
      card("Dead letter", stats.total.deliveries.dead, "dead-letter"),
      card("Plugin failures", failed.items.length, "dead-letter")),
    figure(stats.total.buckets, `Attempts per ${bucket}, all endpoints`),
    h("h3", {}, "Endpoints"),
    table("overview", ["Endpoint", "State", "Attempts", "Success rate", "p50 ms", "p95 ms", "Retrying", "Dead", "Attempts over time"],
      endpoints.items,
      (endpoint) => {
        const counts = counted.get(endpoint.name) || empty;
        const now = state(endpoint, counts);
        return [
          link(`endpoints/${encodeURIComponent(endpoint.name)}`, endpoint.name),
          h("td", { class: now === "healthy" ? "" : "attention" }, now),
          counts.attempts || 0,
          rate(counts.success_rate),
          counts.latency_ms ? counts.latency_ms.p50 : "",
          counts.latency_ms ? counts.latency_ms.p95 : "",
          counts.deliveries.retrying || 0,
          counts.deliveries.dead || 0,
          h("td", { class: "spark" }, chart(counts.buckets, `Attempts to ${endpoint.name} per ${bucket}`)),
        ];
      }),
    h("h3", {}, "Plugin failures by kind"),
    kinds.size === 0
      ? h("p", {}, "None in this window.")
      : table("plugin-failures", ["Kind", "Messages"], [...kinds], ([kind, n]) => [kind, n]),
    note(`Updated ${new Date().toLocaleTimeString()}${stats.complete ? "" : "; the window held more deliveries than one answer counts, the newest were counted"}.`));
  const shown = main.querySelector("#overview-body");
  if (main.dataset.refreshing && shown) {
    shown.replaceWith(body);
  } else {
    fill(main, 
      h("h2", {}, `Overview: the last ${chosen}`),
      h("nav", { class: "tabs", "aria-label": "Window" },
        Object.keys(WINDOWS).map((w) => h("a", { href: `#overview/${w}`, "aria-current": w === chosen ? "page" : null }, `Last ${w}`))),
      body);
  }
  for (const row of main.querySelectorAll("#overview tbody tr")) {
    if (row.querySelector("td.attention")) row.classList.add("attention");
  }
}

function card(label, value, hash) {
  return h("div", { class: "card" }, h("span", { class: "label" }, label), hash ? link(hash, String(value)) : h("strong", {}, String(value)));
}

// The overview refreshes itself while shown.
export const refresh = 10000;
