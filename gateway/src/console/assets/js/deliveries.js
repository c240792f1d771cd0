// The delivery log across endpoints with every filter of the API, live:
// while shown it reloads as new attempts land.
"use strict";

import { api, fields, h, link, note, query, table, time, fill } from "./api.js";
import { instant } from "./events.js";

const STATUSES = ["", "pending", "retrying", "delivered", "dead", "skipped"];

export async function render(main, arg, params) {
  const filters = params || new URLSearchParams();
  const keep = (name) => filters.get(name) || "";
  const form = h("form", { id: "delivery-filters", onsubmit: (e) => {
    e.preventDefault();
    const v = fields(e.target);
    v.since = instant(v.since);
    v.until = instant(v.until);
    window.location.hash = `deliveries${query(v)}`;
  } },
  h("label", {}, "Endpoint", h("input", { name: "endpoint", value: keep("endpoint") })),
  h("label", {}, "Event type", h("input", { name: "event_type", value: keep("event_type") })),
  h("label", {}, "Status", h("select", { name: "status" }, STATUSES.map((s) => h("option", { value: s, selected: s === keep("status") }, s || "any")))),
  h("label", {}, "Response code or class", h("input", { name: "response_code", value: keep("response_code"), placeholder: "503 or 5xx", size: 8 })),
  h("label", {}, "Since", h("input", { name: "since", type: "datetime-local" })),
  h("label", {}, "Until", h("input", { name: "until", type: "datetime-local" })),
  h("button", { type: "submit" }, "Search"));
  const wanted = Object.fromEntries([...filters].filter(([k]) => k !== "cursor"));
  const page = await api(`/v1/deliveries${query({ ...wanted, cursor: filters.get("cursor"), limit: 50 })}`);
  const next = page.next_cursor ? link(`deliveries${query({ ...wanted, cursor: page.next_cursor })}`, "Older deliveries") : null;
  const results = h("div", { id: "delivery-results" },
    table("deliveries", ["Message", "Endpoint", "Event type", "Status", "Attempts", "Last status", "Next attempt", "Delivery"], page.items, (d) => [
      link(`event/${d.message_id}`, d.message_id), d.endpoint, d.event_type, d.status, d.attempt_count,
      d.last_status === null || d.last_status === undefined ? "" : d.last_status, time(d.next_attempt_at), d.id,
    ]),
    note(`${page.items.length} deliveries; updated ${new Date().toLocaleTimeString()}`), next);
  // A reload that found what is shown leaves the rows alone (a row being
  // read, selected or clicked stays), and says when it looked.
  const key = JSON.stringify(page);
  results.dataset.key = key;
  const shown = main.querySelector("#delivery-results");
  if (main.dataset.refreshing && shown && shown.dataset.key === key) {
    shown.querySelector("p.note").textContent = results.querySelector("p.note").textContent;
  } else if (main.dataset.refreshing && shown) shown.replaceWith(results);
  else fill(main, h("h2", {}, "Deliveries"), form, results);
}

// Live: reloaded while shown.
export const refresh = 5000;
