// Calls to the documented /v1 API with the session cookie, and the one
// way the console builds what it shows: elements whose text is set as
// text, never parsed as markup.
"use strict";

// Sent with every call: the API refuses a cookie-authenticated change
// without it, which a cross-site form cannot add.
const CONSOLE_HEADER = { "x-hookgate-console": "1" };

// An API answer that was not a success, with the API's code and message.
export class ApiFailure extends Error {
  constructor(status, code, message) {
    super(`${message} (${code})`);
    this.status = status;
    this.code = code;
    this.detail = message;
  }

  // The field an `invalid_field` error names, as in "`url`: ...".
  get field() {
    const named = /^`([^`]+)`/.exec(this.detail || "");
    return this.code === "invalid_field" && named ? named[1] : null;
  }
}

// Calls `path`; `body` is sent as JSON unless it is a Blob (then as is).
export async function api(path, { method = "GET", body, contentType } = {}) {
  const headers = { ...CONSOLE_HEADER };
  let payload;
  if (body instanceof Blob) {
    payload = body;
    headers["content-type"] = contentType || "application/wasm";
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["content-type"] = "application/json";
  }
  const response = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  if (response.status === 401) {
    window.location.assign("/console");
    throw new ApiFailure(401, "unauthorized", "signed out");
  }
  const text = await response.text();
  const answer = text ? JSON.parse(text) : null;
  if (!response.ok) {
    throw new ApiFailure(response.status, answer && answer.code, answer && answer.message);
  }
  return answer;
}

// A query string of the non-empty fields of `values`.
export function query(values) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) {
    if (value !== undefined && value !== null && value !== "") q.set(name, value);
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

// An element: `attrs` become attributes (`on*` functions become
// listeners), strings among `children` become text nodes.
export function h(tag, attrs = {}, ...children) {
  const node = tag === "svg" || attrs.svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "svg" || value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

// A table with a header row and one row per item.
export function table(id, columns, items, row) {
  return h("table", { id },
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, items.map((item) => h("tr", {}, row(item).map((c) => (c instanceof Node && c.tagName === "TD" ? c : h("td", {}, c)))))));
}

// A time as the browser's local time, from Unix milliseconds.
export function time(ms) {
  return ms ? new Date(ms).toLocaleString() : "";
}

// A share as a percentage.
export function rate(value) {
  return value === undefined || value === null ? "" : `${(value * 100).toFixed(1)}%`;
}

// A link inside the console.
export function link(hash, text) {
  return h("a", { href: `#${hash}` }, text);
}

// A status line for a page: what happened, as text.
export function note(text = "", role = "status") {
  return h("p", { class: "note", role }, text);
}

// A form's non-empty fields.
export function fields(form) {
  const values = {};
  for (const [name, value] of new FormData(form)) {
    if (typeof value === "string" && value.trim() !== "") values[name] = value.trim();
  }
  return values;
}

// A value as indented JSON.
export function pretty(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

// A list of `{name, value}` headers as a definition list.
export function headerList(headers) {
  return h("dl", { class: "headers" }, (headers || []).map((x) => [h("dt", {}, x.name), h("dd", {}, x.value)]));
}

// Replaces what `node` holds with `children` (as `h` takes them: arrays
// flattened, strings as text, nothing for null).
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
}
