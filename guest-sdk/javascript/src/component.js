// The component side of the SDK: the gateway's imports behind the SDK's
// host calls, and the exported `handle` that runs the registered handler.
// Bundled into a component by build.mjs only, so the WIT imports are never
// needed natively. Not public API.

import { entries as witEntries, get as witGet } from "hookgate:plugin/config@0.2.0";
import { all as witEndpoints } from "hookgate:plugin/endpoints@0.2.0";
import { log as witLog, reportPanic } from "hookgate:plugin/log@0.2.0";

import { Endpoint } from "./endpoints.js";
import { PluginError } from "./errors.js";
import { Event } from "./event.js";
import { install } from "./host.js";
import { checked, registered } from "./index.js";
import { Deliver, Drop, Respond } from "./outcome.js";

install({
  log: (level, message) => witLog(level, message),
  configGet: (key) => witGet(key) ?? undefined,
  configEntries: () => witEntries(),
  endpoints: () => witEndpoints().map((e) => new Endpoint(e.name, e.eventTypes, e.tags)),
});

const headers = (pairs) => pairs.map(([name, value]) => ({ name, value }));

function action(outcome) {
  if (outcome instanceof Event) {
    const changed = outcome.changed;
    const rewrite = {};
    if (changed.has("eventType")) rewrite.eventType = outcome.eventType;
    if (changed.has("headers")) rewrite.headers = headers(outcome.headers);
    if (changed.has("body")) rewrite.body = outcome.body;
    return { tag: "continue", val: rewrite };
  }
  if (outcome instanceof Drop) return { tag: "drop", val: outcome.reason };
  if (outcome instanceof Deliver) {
    return {
      tag: "deliver",
      val: outcome.targets.map((t) => ({ endpoint: t.endpoint, body: t.body, headers: headers(t.headers) })),
    };
  }
  if (outcome instanceof Respond) {
    return { tag: "respond", val: { status: outcome.status, headers: headers(outcome.headers), body: outcome.body } };
  }
  throw new TypeError(`not an outcome: ${String(outcome)}`);
}

/** The component's export. */
export function handle(event) {
  try {
    const fn = registered();
    if (typeof fn !== "function") throw new Error("no handler: register one with plugin()");
    const ours = new Event(event.eventType, event.body, {
      id: event.id,
      source: event.source,
      receivedAt: event.receivedAt,
      headers: event.headers.map((h) => [h.name, h.value]),
    });
    return action(checked(fn(ours)));
  } catch (error) {
    if (error instanceof PluginError) {
      // The bindings turn a thrown value with a payload into the `err` case.
      throw { payload: { tag: error.kind, val: error.message } };
    }
    // Reported before the trap, so the gateway shows a panic with the
    // exception and its stack, not an anonymous trap.
    const name = error?.name ?? typeof error;
    const message = error?.message ?? String(error);
    reportPanic(`${name}: ${message}\n${error?.stack ?? ""}`.trimEnd());
    throw error;
  }
}
