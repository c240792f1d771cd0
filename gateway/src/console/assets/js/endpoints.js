// Endpoints: the list with health; create and edit with the API's
// validation errors beside their fields; enable and disable; rotate the
// secret (shown once); send a test event with a provider's sample.
"use strict";

import { api, h, link, note, pretty, query, rate, table, time, fill } from "./api.js";
import { field, jsonObject, showError } from "./forms.js";

function health(e, counts) {
  if (e.disabled) return `disabled: ${e.disabled.reason}`;
  if (e.circuit.state === "open") return `paused by its breaker after ${e.circuit.failures} failures`;
  if (!e.active) return "inactive";
  if (counts && counts.attempts > 0 && counts.success_rate < 0.9) return `failing (${rate(counts.success_rate)} succeeded)`;
  return "healthy";
}

export async function render(main) {
  const [endpoints, stats] = await Promise.all([api("/v1/endpoints?limit=500"), api("/v1/stats/deliveries")]);
  const counted = new Map(stats.endpoints.map((e) => [e.endpoint, e]));
  fill(main, 
    h("h2", {}, "Endpoints"), link("endpoints/new", "New endpoint"),
    table("endpoints", ["Name", "URL", "Event types", "Health (last hour)", "From"], endpoints.items, (e) => {
      const state = health(e, counted.get(e.name));
      return [link(`endpoints/${encodeURIComponent(e.name)}`, e.name), e.url, (e.event_types || ["every type"]).join(", ") || "none",
        h("td", { class: state === "healthy" ? "" : "attention" }, state), e.origin];
    }));
}

// The settings the form edits; the rest go in "More settings" as JSON.
const EDITABLE = ["retry", "metadata", "filter", "tags", "circuit_breaker", "failure_alert", "plugins", "batch"];

function endpointForm(existing, onSubmit) {
  const extra = {};
  for (const [k, v] of Object.entries(existing || {})) {
    // Headers and signing hold secrets, shown as ***: they are changed
    // through the API or the rotation, never sent back from here.
    if (EDITABLE.includes(k) && v !== null) extra[k] = v;
  }
  const status = note("", "alert");
  const form = h("form", { id: "endpoint-form", class: "stacked", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    try {
      await onSubmit(collect(e.target, existing), status);
    } catch (error) {
      showError(e.target, status, error);
    }
  } },
  field("Name", "name", { value: existing ? existing.name : "", required: true, readonly: existing ? true : null }),
  field("URL", "url", { value: existing ? existing.url : "", required: true, inputmode: "url" }, "Where deliveries go: an http:// or https:// URL."),
  field("Event types", "event_types", { value: existing && existing.event_types ? existing.event_types.join(", ") : "" }, "Comma-separated patterns such as call.*; empty: every type."),
  field("Attempts in flight at once", "max_in_flight", { value: existing ? existing.max_in_flight : "", inputmode: "numeric" }),
  field("Timeout per attempt", "timeout", { value: existing ? existing.timeout : "", placeholder: "30s" }),
  field("Rate limit (deliveries per second)", "rate_limit", { value: existing && existing.rate_limit ? existing.rate_limit : "", inputmode: "decimal" }),
  field("More settings (JSON)", "more", { rows: 6, value: Object.keys(extra).length ? pretty(extra) : "" },
    existing ? `${EDITABLE.join(", ")}; headers and signing secrets are not shown here.` : `${EDITABLE.join(", ")}, headers, signing.`),
  h("button", { type: "submit" }, existing ? "Save" : "Create"));
  return [status, form];
}

function collect(form, existing) {
  const v = Object.fromEntries(new FormData(form));
  const body = jsonObject(v.more, "more");
  if (!existing) body.name = v.name.trim();
  body.url = v.url.trim();
  const types = v.event_types.split(",").map((t) => t.trim()).filter(Boolean);
  if (types.length) body.event_types = types;
  else if (existing && existing.event_types) body.event_types = null;
  if (v.max_in_flight.trim()) body.max_in_flight = /^\d+$/.test(v.max_in_flight.trim()) ? Number(v.max_in_flight) : v.max_in_flight;
  if (v.timeout.trim()) body.timeout = v.timeout.trim();
  if (v.rate_limit.trim()) body.rate_limit = Number.isNaN(Number(v.rate_limit)) ? v.rate_limit : Number(v.rate_limit);
  return body;
}

export async function create(main) {
  const [status, form] = endpointForm(null, async (body) => {
    const made = await api("/v1/endpoints", { method: "POST", body });
    await detail(main, made.name, made.secret ? secretShown(made.secret) : "Created.");
    window.history.replaceState(null, "", `#endpoints/${encodeURIComponent(made.name)}`);
  });
  fill(main, h("h2", {}, "New endpoint"), status, form);
  form.querySelector("input").focus();
}

function secretShown(secret) {
  return h("div", { class: "secret", role: "alert" },
    h("p", {}, "The new signing secret, shown this once: copy it to the receiver now."),
    h("code", { id: "new-secret" }, secret));
}

export async function detail(main, name, said = "") {
  const path = `/v1/endpoints/${encodeURIComponent(name)}`;
  const [e, samples, recent] = await Promise.all([
    api(path), api("/v1/samples"), api(`/v1/deliveries${query({ endpoint: name, limit: 10 })}`),
  ]);
  const status = h("div", { class: "note", role: "status" }, said);
  const again = (text) => detail(main, name, text);
  const act = (label, run) => h("button", { type: "button", onclick: async () => {
    try {
      again(await run());
    } catch (error) {
      status.textContent = error.message;
    }
  } }, label);
  const actions = h("div", { class: "actions" },
    e.disabled
      ? act("Enable", async () => { await api(`${path}/enable`, { method: "POST" }); return "Enabled."; })
      : act("Disable", async () => { await api(`${path}/disable`, { method: "POST", body: { reason: "disabled in the console" } }); return "Disabled."; }),
    e.signing && e.signing.scheme === "standard-webhooks"
      ? act("Rotate secret", async () => secretShown((await api(`${path}/rotate-secret`, { method: "POST" })).secret)) : null,
    link(`endpoints/${encodeURIComponent(name)}/edit`, "Edit"),
    act("Delete", async () => {
      await api(path, { method: "DELETE" });
      window.location.hash = "endpoints";
      return "Deleted.";
    }));
  const result = h("div", { id: "test-result", role: "status" });
  const payload = h("textarea", { name: "payload", rows: 8, id: "test-payload", "aria-label": "Payload" });
  const choose = h("select", { name: "sample", id: "test-sample", "aria-label": "Sample event", onchange: () => {
    const s = samples[Number(choose.value)];
    if (s) payload.value = pretty(s.payload);
    typeField.value = s ? s.event_type : typeField.value;
  } }, h("option", { value: "" }, "a sample event..."), samples.map((s, i) => h("option", { value: i }, `${s.provider}: ${s.event_type}`)));
  const typeField = h("input", { name: "event_type", id: "test-type", required: true, "aria-label": "Event type" });
  const test = h("form", { id: "test-form", onsubmit: async (ev) => {
    ev.preventDefault();
    result.textContent = "Sending...";
    try {
      const body = { event_type: typeField.value.trim() };
      if (payload.value.trim()) body.payload = JSON.parse(payload.value);
      const sent = await api(`${path}/test`, { method: "POST", body });
      const a = sent.attempt;
      fill(result, h("p", {}, sent.delivered ? "Delivered: " : "Not delivered: ",
        a ? `status ${a.status === null ? "none" : a.status} in ${a.latency_ms} ms${a.error ? `, ${a.error}` : ""}` : "no answer yet, it is still on its way",
        " (", link(`event/${sent.message_id}`, "the test event"), ")"), a && a.response_body ? h("pre", {}, a.response_body) : null);
    } catch (error) {
      result.textContent = `Cannot send: ${error.message}`;
    }
  } }, choose, typeField, payload, h("button", { type: "submit" }, "Send test event"));
  fill(main, 
    h("h2", {}, `Endpoint ${e.name}`), status, actions,
    h("dl", { class: "facts" },
      h("dt", {}, "URL"), h("dd", {}, e.url),
      h("dt", {}, "Health"), h("dd", {}, health(e)),
      h("dt", {}, "Breaker"), h("dd", {}, `${e.circuit.state}, ${e.circuit.failures} failures in a row${e.circuit.next_probe_at ? `, next probe ${time(e.circuit.next_probe_at)}` : ""}`),
      h("dt", {}, "From"), h("dd", {}, e.origin)),
    h("h3", {}, "Send a test event"), test, result,
    h("h3", {}, "Latest deliveries"),
    table("endpoint-deliveries", ["Message", "Status", "Attempts", "Last status"], recent.items, (d) => [link(`event/${d.message_id}`, d.message_id), d.status, d.attempt_count, d.last_status || ""]),
    link(`deliveries?endpoint=${encodeURIComponent(name)}`, "All its deliveries"),
    h("h3", {}, "Settings"), h("pre", {}, pretty(e)));
}

export async function edit(main, name) {
  const e = await api(`/v1/endpoints/${encodeURIComponent(name)}`);
  const [status, form] = endpointForm(e, async (body) => {
    await api(`/v1/endpoints/${encodeURIComponent(name)}`, { method: "PATCH", body });
    window.location.hash = `endpoints/${encodeURIComponent(name)}`;
  });
  fill(main, h("h2", {}, `Edit endpoint ${name}`), status, form);
}

export const refresh = 0;
