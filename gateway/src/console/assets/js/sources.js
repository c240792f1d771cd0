// Sources and routes: each source with its plugin chain in order; create
// and edit either as JSON, with the API's errors beside the field.
"use strict";

import { api, h, link, note, pretty, table, fill } from "./api.js";
import { field, jsonObject, showError, withoutMasked } from "./forms.js";

export async function render(main) {
  const [sources, routes] = await Promise.all([api("/v1/sources?limit=500"), api("/v1/routes?limit=500")]);
  const chains = new Map(routes.items.map((r) => [r.source, r.plugins]));
  fill(main, 
    h("h2", {}, "Sources and routes"),
    h("p", {}, link("sources/new", "New source"), " · ", link("routes/new", "New route")),
    table("sources", ["Source", "Authentication", "Chain, in order", "From"], sources.items, (s) => [
      link(`sources/${encodeURIComponent(s.name)}`, s.name),
      s.auth ? s.auth.type || s.auth.scheme || "" : "",
      h("td", {}, chains.has(s.name)
        ? h("ol", { class: "chain" }, chains.get(s.name).map((p) => h("li", {}, link(`plugins/${encodeURIComponent(p)}`, p))))
        : "no plugin"),
      s.origin,
    ]),
    h("h3", {}, "Routes"),
    table("routes", ["Source", "Plugins", "From"], routes.items, (r) => [
      link(`routes/${encodeURIComponent(r.source)}`, r.source), r.plugins.join(" → "), r.origin,
    ]));
}

// A JSON editor of one object of `kind` ("sources" or "routes").
async function editor(main, kind, key) {
  const existing = key ? await api(`/v1/${kind}/${encodeURIComponent(key)}`) : null;
  const shown = existing ? { ...existing } : kind === "routes" ? { source: "", plugins: [] } : { name: "", auth: { type: "none" } };
  delete shown.origin;
  const status = note("", "alert");
  const form = h("form", { id: `${kind}-form`, class: "stacked", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const body = withoutMasked(jsonObject(e.target.elements.body.value, "body"));
      const path = existing ? `/v1/${kind}/${encodeURIComponent(key)}` : `/v1/${kind}`;
      if (existing) {
        delete body.name;
        delete body.source;
      }
      await api(path, { method: existing ? "PATCH" : "POST", body });
      window.location.hash = "sources";
    } catch (error) {
      showError(e.target, status, error);
    }
  } },
  field(kind === "routes" ? "Route (JSON)" : "Source (JSON)", "body", { rows: 14, value: pretty(shown) },
    existing ? "Secrets are shown as ***; those left so are kept as they are." : ""),
  h("button", { type: "submit" }, existing ? "Save" : "Create"));
  const remove = existing ? h("button", { type: "button", onclick: async () => {
    try {
      await api(`/v1/${kind}/${encodeURIComponent(key)}`, { method: "DELETE" });
      window.location.hash = "sources";
    } catch (error) {
      status.textContent = error.message;
    }
  } }, "Delete") : null;
  const title = `${existing ? "Edit" : "New"} ${kind === "routes" ? "route" : "source"}${key ? ` ${key}` : ""}`;
  fill(main, h("h2", {}, title), status, form, remove);
}

export function source(main, key) {
  return editor(main, "sources", key === "new" ? null : key);
}

export function route(main, key) {
  return editor(main, "routes", key === "new" ? null : key);
}

export const refresh = 0;
