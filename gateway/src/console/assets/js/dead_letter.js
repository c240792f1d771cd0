// The dead letter: deliveries given up on and messages a plugin failed
// on; replay one, select several, or recover an endpoint's since a time.
"use strict";

import { api, fields, h, link, note, table, time, fill } from "./api.js";
import { instant } from "./events.js";

function pick(id) {
  return h("td", {}, h("input", { type: "checkbox", name: "pick", value: id, "aria-label": `Select ${id}` }));
}

export async function render(main, arg, params, said = "") {
  const endpoint = (params && params.get("endpoint")) || "";
  const [dead, failed, endpoints] = await Promise.all([
    api(`/v1/dead-letter?limit=200${endpoint ? `&endpoint=${encodeURIComponent(endpoint)}` : ""}`),
    api("/v1/messages?status=failed&limit=200"),
    api("/v1/endpoints?limit=500"),
  ]);
  const status = note(said);
  const again = (text) => render(main, arg, params, text);
  const replaySelected = async (form) => {
    const ids = [...form.querySelectorAll("input[name=pick]:checked")].map((c) => c.value);
    if (ids.length === 0) {
      status.textContent = "Select what to replay first.";
      return;
    }
    try {
      const done = await api("/v1/dead-letter/replay", { method: "POST", body: { ids } });
      const refused = done.results.filter((r) => !r.replayed).map((r) => `${r.id}: ${r.message}`);
      again(`${done.replayed} of ${ids.length} queued again.${refused.length ? ` Not replayed: ${refused.join("; ")}` : ""}`);
    } catch (error) {
      status.textContent = `Cannot replay: ${error.message}`;
    }
  };
  const deliveries = h("form", { id: "dead-deliveries", onsubmit: (e) => {
    e.preventDefault();
    replaySelected(e.target);
  } },
  table("dead", ["", "Delivery", "Endpoint", "Event type", "Attempts", "Last status", "Given up", "Why"], dead.items, (d) => [
    pick(d.id), link(`event/${d.message_id}`, d.id), d.endpoint, d.event_type, d.attempt_count,
    d.last_status === null || d.last_status === undefined ? "" : d.last_status, time(d.finished_at), d.dead_reason || "",
  ]),
  h("button", { type: "submit" }, "Replay selected"));
  const plugins = h("form", { id: "failed-messages", onsubmit: (e) => {
    e.preventDefault();
    replaySelected(e.target);
  } },
  table("failed", ["", "Message", "Source", "Plugin", "Kind", "Error"], failed.items, (m) => [
    pick(m.id), link(`event/${m.id}`, m.id), m.source, m.outcome.plugin, m.outcome.kind, h("td", {}, h("pre", {}, m.outcome.error)),
  ]),
  h("button", { type: "submit" }, "Run selected again"));
  const recover = h("form", { id: "recover", onsubmit: async (e) => {
    e.preventDefault();
    const v = fields(e.target);
    try {
      const done = await api(`/v1/endpoints/${encodeURIComponent(v.endpoint)}/recover`, { method: "POST", body: { since: Number(instant(v.since)) } });
      again(`${done.recovered} dead deliveries to ${v.endpoint} queued again.`);
    } catch (error) {
      status.textContent = `Cannot recover: ${error.message}`;
    }
  } },
  h("label", {}, "Endpoint", h("select", { name: "endpoint", required: true }, endpoints.items.map((x) => h("option", { value: x.name, selected: x.name === endpoint }, x.name)))),
  h("label", {}, "Dead since", h("input", { name: "since", type: "datetime-local", required: true })),
  h("button", { type: "submit" }, "Recover"));
  fill(main, 
    h("h2", {}, "Dead letter"), status,
    h("h3", {}, `Deliveries given up on (${dead.items.length}${dead.next_cursor ? "+" : ""})`), deliveries,
    h("h3", {}, "Recover an endpoint's dead deliveries"), recover,
    h("h3", {}, `Messages a plugin failed on (${failed.items.length}${failed.next_cursor ? "+" : ""})`), plugins);
}

export const refresh = 0;
