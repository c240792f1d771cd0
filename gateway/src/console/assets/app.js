// The hookgate console: reads the /v1 API with the session cookie and
// writes what it reads as text (never as markup).
"use strict";

const CSRF = { "x-hookgate-console": "1" };
// Below this success rate an endpoint is shown as failing.
const FAILING = 0.9;

async function api(path) {
  const response = await fetch(path, { headers: CSRF, credentials: "same-origin" });
  if (response.status === 401) {
    window.location.assign("/console");
    throw new Error("signed out");
  }
  const body = await response.json();
  if (!response.ok) {
    throw new Error(`${body.code}: ${body.message}`);
  }
  return body;
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text === undefined || text === null ? "" : String(text);
  row.appendChild(td);
  return td;
}

function rate(value) {
  return value === undefined ? "" : `${(value * 100).toFixed(1)}%`;
}

async function overview() {
  const note = document.getElementById("overview-note");
  try {
    const [stats, endpoints] = await Promise.all([
      api("/v1/stats/deliveries"),
      api("/v1/endpoints?limit=500"),
    ]);
    const counted = new Map(stats.endpoints.map((e) => [e.endpoint, e]));
    const body = document.querySelector("#overview tbody");
    body.replaceChildren();
    for (const endpoint of endpoints.items) {
      const counts = counted.get(endpoint.name) || { deliveries: {} };
      const row = document.createElement("tr");
      cell(row, endpoint.name);
      // Failing: most of the last hour's attempts failed, circuit open or not.
      const failing = counts.attempts > 0 && counts.success_rate < FAILING;
      const circuit = (endpoint.circuit && endpoint.circuit.state) || "";
      const state = endpoint.disabled ? "disabled" : circuit === "closed" && failing ? "failing" : circuit;
      const stateCell = cell(row, state);
      if (state !== "closed") {
        row.classList.add("attention");
        stateCell.classList.add("attention");
      }
      cell(row, counts.attempts || 0);
      cell(row, rate(counts.success_rate));
      cell(row, counts.latency_ms ? counts.latency_ms.p50 : "");
      cell(row, counts.latency_ms ? counts.latency_ms.p95 : "");
      cell(row, counts.deliveries.retrying || 0);
      cell(row, counts.deliveries.dead || 0);
      body.appendChild(row);
    }
    note.textContent = `${stats.total.attempts} attempts, success rate ${rate(stats.total.success_rate) || "n/a"}; updated ${new Date().toISOString()}`;
  } catch (error) {
    note.textContent = `Cannot load the overview: ${error.message}`;
  }
}

async function deliveries(form) {
  const note = document.getElementById("deliveries-note");
  const query = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (value) query.set(name, value);
  }
  try {
    const page = await api(`/v1/deliveries?${query}`);
    const body = document.querySelector("#deliveries tbody");
    body.replaceChildren();
    for (const d of page.items) {
      const row = document.createElement("tr");
      cell(row, d.message_id);
      cell(row, d.endpoint);
      cell(row, d.event_type);
      cell(row, d.status);
      cell(row, d.attempt_count);
      cell(row, d.last_status);
      cell(row, d.id);
      body.appendChild(row);
    }
    note.textContent = `${page.items.length} deliveries`;
  } catch (error) {
    note.textContent = `Cannot search: ${error.message}`;
  }
}

function show() {
  const page = window.location.hash === "#deliveries" ? "deliveries" : "overview";
  document.getElementById("overview-page").hidden = page !== "overview";
  document.getElementById("deliveries-page").hidden = page !== "deliveries";
  if (page === "deliveries") {
    deliveries(document.getElementById("delivery-filters"));
  } else {
    overview();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("delivery-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    deliveries(event.target);
  });
  window.addEventListener("hashchange", show);
  show();
  setInterval(() => {
    if (!document.getElementById("overview-page").hidden) overview();
  }, 10000);
});
