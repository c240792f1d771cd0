// Plugins: each with its versions (hash, size, deployed at), invocations
// and errors; upload a .wasm component to deploy it (the host's refusal
// shown as it gives it), edit the configuration, roll back.
"use strict";

import { api, h, link, note, pretty, table, time, fill } from "./api.js";
import { field, jsonObject, showError } from "./forms.js";

function short(hash) {
  return hash ? hash.slice(0, 12) : "";
}

export async function render(main) {
  const plugins = await api("/v1/plugins?limit=500");
  const status = note("", "alert");
  const deploy = h("form", { id: "deploy-form", class: "stacked", onsubmit: async (e) => {
    e.preventDefault();
    const name = e.target.elements.name.value.trim();
    try {
      await upload(e.target, name);
      window.location.hash = `plugins/${encodeURIComponent(name)}`;
    } catch (error) {
      showError(e.target, status, error);
    }
  } },
  field("Name", "name", { required: true }),
  field("Component (.wasm)", "component", { type: "file", accept: ".wasm,application/wasm", required: true }),
  h("button", { type: "submit" }, "Deploy"));
  fill(main, 
    h("h2", {}, "Plugins"),
    table("plugins", ["Name", "Version", "Hash", "Size", "Deployed", "Invocations", "Errors", "Used by"], plugins.items, (p) => [
      link(`plugins/${encodeURIComponent(p.name)}`, p.name), p.version, short(p.hash), `${p.size} bytes`, time(p.deployed_at),
      p.invocations, h("td", { class: p.errors ? "attention" : "" }, p.errors), [...p.used_by, ...p.used_by_endpoints].join(", "),
    ]),
    h("h3", {}, "Deploy a new plugin"), status, deploy);
}

// Uploads the form's file as the named plugin's next version.
async function upload(form, name) {
  const file = form.elements.component.files[0];
  if (!file) throw new Error("Choose a .wasm file first.");
  return api(`/v1/plugins/${encodeURIComponent(name)}`, { method: "PUT", body: file, contentType: "application/wasm" });
}

export async function detail(main, name, said = "") {
  const path = `/v1/plugins/${encodeURIComponent(name)}`;
  const p = await api(path);
  const again = (text) => detail(main, name, text);
  const status = note(said);
  const deployNote = note("", "alert");
  const deploy = h("form", { id: "deploy-form", class: "stacked", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const done = await upload(e.target, name);
      again(`Deployed version ${done.version}.`);
    } catch (error) {
      showError(e.target, deployNote, error);
    }
  } },
  field("Component (.wasm)", "component", { type: "file", accept: ".wasm,application/wasm", required: true }),
  h("button", { type: "submit" }, "Deploy a new version"));
  const configNote = note("", "alert");
  const config = h("form", { id: "config-form", class: "stacked", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const done = await api(`${path}/config`, { method: "PUT", body: { config: jsonObject(e.target.elements.config.value, "config") } });
      again(`Configuration saved as version ${done.version}.`);
    } catch (error) {
      showError(e.target, configNote, error);
    }
  } },
  field("Configuration (a JSON object of strings)", "config", { rows: 5, value: pretty(p.config) }),
  h("button", { type: "submit" }, "Save configuration"));
  const rollback = (version) => h("button", { type: "button", class: "rollback", onclick: async () => {
    try {
      const done = await api(`${path}/rollback`, { method: "POST", body: { version } });
      again(`Rolled back: version ${done.version} runs.`);
    } catch (error) {
      status.textContent = `Cannot roll back: ${error.message}`;
    }
  } }, `Roll back to ${version}`);
  fill(main, 
    h("h2", {}, `Plugin ${p.name}`), status,
    h("dl", { class: "facts" },
      h("dt", {}, "Running version"), h("dd", { id: "running-version" }, p.version),
      h("dt", {}, "Hash"), h("dd", {}, p.hash),
      h("dt", {}, "Invocations since start"), h("dd", {}, p.invocations),
      h("dt", {}, "Errors since start"), h("dd", {}, p.errors),
      h("dt", {}, "Used by sources"), h("dd", {}, p.used_by.join(", ") || "none"),
      h("dt", {}, "Used by endpoints"), h("dd", {}, p.used_by_endpoints.join(", ") || "none"),
      h("dt", {}, "From"), h("dd", {}, p.origin)),
    h("h3", {}, "Versions"),
    table("versions", ["Version", "Hash", "Size", "Deployed", ""], [...p.versions].reverse(), (v) => [
      v.version, short(v.hash), `${v.size} bytes`, time(v.deployed_at), v.version === p.version ? "running" : rollback(v.version),
    ]),
    h("h3", {}, "Deploy"), deployNote, deploy,
    h("h3", {}, "Configuration"), configNote, config);
}

export const refresh = 0;
