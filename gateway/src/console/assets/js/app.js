// The console's shell: routes `#page/argument?filters` to a page module,
// marks the current page in the navigation, and reloads pages that refresh
// themselves (the overview, the delivery log) while they are shown.
"use strict";

import { h, note, fill } from "./api.js";
import * as deadLetter from "./dead_letter.js";
import * as deliveries from "./deliveries.js";
import * as endpoints from "./endpoints.js";
import * as events from "./events.js";
import * as overview from "./overview.js";
import * as plugins from "./plugins.js";
import * as sources from "./sources.js";

// Each route: the page's function and how often it reloads (0: never).
const ROUTES = {
  overview: [overview.render, overview.refresh],
  events: [events.render, 0],
  event: [events.detail, 0],
  deliveries: [deliveries.render, deliveries.refresh],
  "dead-letter": [deadLetter.render, 0],
  endpoints: [endpoints.render, 0],
  endpoint: [endpoints.detail, 0],
  "endpoint-new": [endpoints.create, 0],
  "endpoint-edit": [endpoints.edit, 0],
  plugins: [plugins.render, 0],
  plugin: [plugins.detail, 0],
  sources: [sources.render, 0],
  source: [sources.source, 0],
  route: [sources.route, 0],
};

// `#endpoints/crm/edit?x=1` → ["endpoint-edit", "crm", params].
export function parse(hash) {
  const [path, search] = hash.replace(/^#/, "").split("?");
  const [page, ...rest] = path.split("/").map(decodeURIComponent);
  const arg = rest[0];
  const params = new URLSearchParams(search || "");
  if (page === "endpoints" && arg === "new") return ["endpoint-new", null, params];
  if (page === "endpoints" && arg && rest[1] === "edit") return ["endpoint-edit", arg, params];
  const singular = { endpoints: "endpoint", plugins: "plugin", sources: "source", routes: "route" };
  if (arg && singular[page]) return [singular[page], arg, params];
  if (page === "routes") return ["sources", null, params];
  return [ROUTES[page] ? page : "overview", arg, params];
}

let timer = null;
let shown = 0;

async function show() {
  const [page, arg, params] = parse(window.location.hash);
  const [render, every] = ROUTES[page];
  const main = document.querySelector("main");
  const section = page.split("-")[0];
  for (const a of document.querySelectorAll("header nav a")) {
    const target = a.getAttribute("href").slice(1);
    a.toggleAttribute("aria-current", target === section || target === `${section}s` || (target === "events" && page === "event"));
  }
  clearTimeout(timer);
  const turn = ++shown;
  const load = async (again) => {
    // A page that refreshes itself replaces only its results, so what is
    // typed in its form and where the focus is stay.
    main.dataset.refreshing = again ? "1" : "";
    try {
      await render(main, arg, params);
    } catch (error) {
      if (turn === shown) fill(main, h("h2", {}, "Something went wrong"), note(`Cannot load this page: ${error.message}`, "alert"));
    }
    if (every && turn === shown) timer = setTimeout(() => load(true), every);
  };
  await load(false);
  const heading = main.querySelector("h2");
  if (heading && turn === shown) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  window.addEventListener("hashchange", show);
  show();
});
