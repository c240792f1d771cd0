// Forms that send to the API and show its validation errors beside the
// field they name (the error's `field`), or above the form otherwise.
"use strict";

import { ApiFailure, h } from "./api.js";

// A labelled input whose error, when the API names it, shows beneath it.
export function field(label, name, attrs = {}, hint = "") {
  const id = `field-${name}`;
  const control = attrs.rows
    ? h("textarea", { id, name, "aria-describedby": `${id}-error`, ...attrs }, attrs.value || "")
    : h("input", { id, name, "aria-describedby": `${id}-error`, ...attrs });
  return h("div", { class: "field" },
    h("label", { for: id }, label), control,
    hint ? h("small", {}, hint) : null,
    h("p", { class: "field-error", id: `${id}-error`, "data-field": name, role: "alert" }));
}

// Clears the form's errors, and shows `error` beside its field when the
// form has it (else in `note`); true if it was shown beside a field.
export function showError(form, note, error) {
  for (const p of form.querySelectorAll(".field-error")) p.textContent = "";
  form.querySelectorAll("[aria-invalid]").forEach((c) => c.removeAttribute("aria-invalid"));
  if (!error) {
    note.textContent = "";
    return false;
  }
  const name = error instanceof ApiFailure && error.field ? error.field.split(/[.[]/)[0] : null;
  // A field the form has no input of is among the JSON of "more".
  const slot = name
    ? form.querySelector(`.field-error[data-field="${CSS.escape(name)}"]`) || form.querySelector('.field-error[data-field="more"]')
    : null;
  if (slot) {
    slot.textContent = error.detail;
    const control = form.querySelector(`[name="${CSS.escape(slot.dataset.field)}"]`);
    if (control) {
      control.setAttribute("aria-invalid", "true");
      control.focus();
    }
    note.textContent = "Correct the field marked below.";
    return true;
  }
  note.textContent = error.message;
  return false;
}

// A JSON object typed in a text area; an empty area is `{}`.
export function jsonObject(text, name) {
  if (!text || !text.trim()) return {};
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ApiFailure(400, "invalid_field", `\`${name}\`: not JSON: ${e.message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ApiFailure(400, "invalid_field", `\`${name}\`: must be a JSON object`);
  }
  return value;
}

// `value` without the secrets the API showed masked (`***`): in a merge
// patch an absent member keeps its value, so editing never overwrites a
// secret with its mask.
export function withoutMasked(value) {
  if (Array.isArray(value)) return value.map(withoutMasked);
  if (value === null || typeof value !== "object") return value;
  const kept = {};
  for (const [k, v] of Object.entries(value)) {
    if (v !== "***") kept[k] = withoutMasked(v);
  }
  return kept;
}
