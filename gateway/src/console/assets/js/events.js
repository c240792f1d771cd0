// Events: the message list with the API's filters and cursor pages, a
// search by message id or idempotency key, and one event's detail (what
// arrived, what the plugins did, each delivery with every attempt, and
// replay).
"use strict";

import { ApiFailure, api, fields, h, headerList, link, note, pretty, query, table, time, fill } from "./api.js";

const STATUSES = ["", "pending", "routed", "dropped", "failed", "answered"];

// Unix milliseconds of a datetime-local value, or nothing.
export function instant(value) {
  return value ? String(new Date(value).getTime()) : undefined;
}

export async function render(main, arg, params) {
  const filters = params || new URLSearchParams();
  const form = h("form", { id: "event-filters", onsubmit: (e) => {
    e.preventDefault();
    const v = fields(e.target);
    v.since = instant(v.since);
    v.until = instant(v.until);
    window.location.hash = `events${query(v)}`;
  } },
  h("label", {}, "Source", h("input", { name: "source", value: filters.get("source") || "" })),
  h("label", {}, "Event type", h("input", { name: "event_type", value: filters.get("event_type") || "", placeholder: "call.*" })),
  h("label", {}, "Status", h("select", { name: "status" }, STATUSES.map((s) => h("option", { value: s, selected: s === (filters.get("status") || "") }, s || "any")))),
  h("label", {}, "Since", h("input", { name: "since", type: "datetime-local" })),
  h("label", {}, "Until", h("input", { name: "until", type: "datetime-local" })),
  h("button", { type: "submit" }, "Filter"));
  const find = h("form", { id: "event-search", onsubmit: (e) => {
    e.preventDefault();
    search(e.target, status);
  } },
  h("label", {}, "Message id or idempotency key", h("input", { name: "id", required: true })),
  h("label", {}, "Source (for a key)", h("input", { name: "source" })),
  h("button", { type: "submit" }, "Find"));
  const status = note();
  const wanted = Object.fromEntries([...filters].filter(([k]) => k !== "cursor"));
  const page = await api(`/v1/messages${query({ ...wanted, cursor: filters.get("cursor"), limit: 50 })}`);
  const next = page.next_cursor ? link(`events${query({ ...wanted, cursor: page.next_cursor })}`, "Older events") : null;
  fill(main, 
    h("h2", {}, "Events"), find, form, status,
    table("events", ["Received", "Message", "Source", "Event type", "Status", "Deliveries"], page.items, (m) => [
      time(m.received_at), link(`event/${m.id}`, m.id), m.source, m.event_type, m.status,
      m.outcome.deliveries === undefined ? "" : m.outcome.deliveries,
    ]),
    note(page.items.length === 0 ? "No event matches." : `${page.items.length} events`), next);
}

// Opens a message by id, or the messages with an idempotency key (of the
// source, when given).
async function search(form, status) {
  const { id, source } = fields(form);
  if (id.startsWith("msg_")) {
    window.location.hash = `event/${id}`;
    return;
  }
  const page = await api(`/v1/messages${query({ idempotency_key: id, source, limit: 2 })}`);
  if (page.items.length === 1) {
    window.location.hash = `event/${page.items[0].id}`;
  } else if (page.items.length > 1) {
    window.location.hash = `events${query({ idempotency_key: id, source })}`;
  } else {
    status.textContent = `No message has id or idempotency key ${id}.`;
  }
}

// What the plugins decided, in words.
function outcome(o) {
  switch (o.status) {
    case "dropped": return [h("strong", {}, "Dropped"), ` by ${o.plugin}: ${o.reason}`];
    case "failed": return [h("strong", { class: "attention" }, `Failed: ${o.kind}`), ` in ${o.plugin || "the pipeline"}: `, h("pre", {}, o.error)];
    case "routed": return [h("strong", {}, "Routed"), ` as ${o.event_type} to ${o.deliveries} deliveries`,
      o.payload === undefined || o.payload === null ? " with the payload as received." : [", the plugins rewrote the payload to:", h("pre", {}, pretty(o.payload))]];
    case "answered": return [h("strong", {}, `Answered ${o.response.status}`), o.plugin ? ` by ${o.plugin}` : ` from ${o.endpoint}`, h("pre", {}, pretty(o.response.body))];
    default: return [h("strong", {}, "Waiting for the pipeline")];
  }
}

// What one recorded step decided, in words.
function decision(a) {
  switch (a.decision) {
    case "continued": {
      const changed = [
        a.event_type ? `set the event type to ${a.event_type}` : null,
        a.headers ? "replaced the headers" : null,
        a.body_bytes !== null && a.body_bytes !== undefined ? `rewrote the body (${a.body_bytes} bytes)` : null,
      ].filter(Boolean);
      return `continued${changed.length ? `, ${changed.join(", ")}` : " unchanged"}`;
    }
    case "dropped": return `dropped it: ${a.reason}`;
    case "delivered": return `delivered it to ${a.endpoints.join(", ") || "no endpoint"}`;
    case "responded": return `answered the caller with ${a.status}`;
    case "failed": return `failed (${a.kind}): ${a.error}`;
    default: return a.decision;
  }
}

// Each plugin step the run recorded, with its logs; for a message whose
// run recorded none (no plugin ran, or it waits), the chain its source
// runs now.
function chain(message, route) {
  const steps = message.steps || [];
  if (steps.length > 0) {
    return h("ol", { class: "chain" }, steps.map((step) => h("li", { class: step.action.decision === "failed" ? "attention" : null },
      link(`plugins/${encodeURIComponent(step.plugin)}`, step.plugin),
      `: ${decision(step.action)}`,
      h("small", {}, ` (version ${step.hash.slice(0, 12)}, ${step.elapsed_us} µs)`),
      step.logs.length === 0 ? null : h("pre", { class: "logs" }, step.logs.map((l) => `${l.level} ${l.stream}: ${l.message}`).join("\n"),
        step.logs_truncated ? "\n(more lines were left out)" : ""))));
  }
  const plugins = route ? route.plugins : [];
  if (plugins.length === 0) return h("p", {}, "No plugin ran on this event.");
  return h("div", {}, h("p", {}, message.status === "pending" ? "Waiting for the chain its source runs:" : "No step was recorded for this run; its source's chain now:"),
    h("ol", { class: "chain" }, plugins.map((p) => h("li", {}, link(`plugins/${encodeURIComponent(p)}`, p)))));
}

function attempts(list) {
  if (!list || list.length === 0) return h("p", {}, "No attempt yet.");
  return table(null, ["Time", "Status", "Latency ms", "Response body", "Error"], list, (a) => [
    time(a.at), a.status === null || a.status === undefined ? "none" : a.status, a.latency_ms, h("td", {}, h("pre", {}, a.response_body)), a.error || "",
  ]);
}

// Replays a delivery and waits (up to half a minute) for its attempt;
// what happened, in words.
async function replay(delivery) {
  let before;
  try {
    before = await api(`/v1/deliveries/${delivery}/replay`, { method: "POST" });
  } catch (error) {
    return `Cannot replay ${delivery}: ${error.message}`;
  }
  const made = before.attempt_count;
  for (let tries = 0; tries < 30; tries += 1) {
    await new Promise((done) => { setTimeout(done, 1000); });
    const now = await api(`/v1/deliveries/${delivery}`);
    if (now.attempt_count > made || (now.status !== "pending" && now.status !== before.status)) {
      return `Replayed ${delivery}: ${now.status}.`;
    }
  }
  return `Replay of ${delivery} queued; no attempt yet.`;
}

export async function detail(main, id, said = "") {
  let message;
  try {
    message = await api(`/v1/messages/${encodeURIComponent(id)}`);
  } catch (error) {
    if (error instanceof ApiFailure && error.status === 404) {
      fill(main, h("h2", {}, "Event"), note(`No event has id ${id}.`, "alert"));
      return;
    }
    throw error;
  }
  const [deliveries, route] = await Promise.all([
    api(`/v1/messages/${encodeURIComponent(id)}/attempts`),
    api(`/v1/routes/${encodeURIComponent(message.source)}`).catch(() => null),
  ]);
  const status = note(said);
  const size = new Blob([typeof message.payload === "string" ? message.payload : JSON.stringify(message.payload)]).size;
  const reprocess = message.status === "failed"
    ? h("button", { type: "button", onclick: async () => {
      try {
        await api(`/v1/messages/${id}/reprocess`, { method: "POST" });
        status.textContent = "Queued to run through the chain again.";
      } catch (error) {
        status.textContent = `Cannot reprocess: ${error.message}`;
      }
    } }, "Run the chain again") : null;
  fill(main, 
    h("h2", {}, `Event ${message.id}`),
    h("dl", { class: "facts" },
      h("dt", {}, "Source"), h("dd", {}, message.source),
      h("dt", {}, "Event type"), h("dd", {}, message.event_type),
      h("dt", {}, "Received"), h("dd", {}, time(message.received_at)),
      h("dt", {}, "Status"), h("dd", {}, message.status),
      h("dt", {}, "Idempotency key"), h("dd", {}, message.idempotency_key || "none"),
      h("dt", {}, "Size"), h("dd", {}, `${size} bytes`)),
    h("h3", {}, "Headers"), headerList(message.headers),
    h("h3", {}, "Payload"), h("pre", { class: "payload" }, pretty(message.payload)),
    h("h3", {}, "Plugins"), chain(message, route), h("div", { class: "outcome" }, outcome(message.outcome)), reprocess,
    h("h3", {}, "Deliveries"), status,
    deliveries.length === 0 ? h("p", {}, "None.") : deliveries.map((d) => h("section", { class: "delivery", "data-delivery": d.id },
      h("h4", {}, `${d.endpoint}: ${d.status}`, d.test ? " (test event)" : ""),
      h("p", {}, `${d.id}, ${d.attempt_count} attempts`, d.next_attempt_at ? `, next at ${time(d.next_attempt_at)}` : "",
        d.dead_reason ? `; dead: ${d.dead_reason}` : "", d.skipped ? `; skipped by ${d.skipped.plugin}: ${d.skipped.reason}` : ""),
      attempts(d.attempts),
      d.skipped ? null : h("button", { type: "button", class: "replay", onclick: async () => detail(main, id, await replay(d.id)) }, "Replay"))),
  );
}

export const refresh = 0;
