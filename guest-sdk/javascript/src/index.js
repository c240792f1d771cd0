// Write hookgate plugins in JavaScript or TypeScript.
//
// A plugin is a WebAssembly component that hookgate runs once per event, in
// a fresh sandboxed instance. This package hides the bindings: register one
// function with `plugin`, and build the file with `node build.mjs
// plugin.js -o plugin.wasm` (componentize-js underneath). Natively the same
// code runs against the in-process host of `testing.js`, so a plugin's
// tests run with `node --test`.

import { Event } from "./event.js";
import { Deliver, Drop, Respond } from "./outcome.js";

export * as config from "./config.js";
export * as log from "./log.js";
export { Endpoint, endpoints } from "./endpoints.js";
export { Failed, InvalidConfig, InvalidEvent, PluginError } from "./errors.js";
export { Event } from "./event.js";
export { eventTypeMatches } from "./matching.js";
export { seconds, toBigInt } from "./nanos.js";
export { Deliver, Drop, Respond, Target, deliver, drop, respond, respondJson } from "./outcome.js";

let handler;

/**
 * Makes `fn` the plugin's handler: the gateway calls it once per event. It
 * returns the event to pass it on (with what it changed), or `drop`,
 * `deliver`, `respond`; it throws `InvalidEvent`, `InvalidConfig` or
 * `Failed` to fail the event on purpose. Any other exception is a `panic`.
 * A component holds one plugin; natively the last one registered counts.
 */
export function plugin(fn) {
  if (typeof fn !== "function") throw new TypeError("plugin() takes the handler function");
  handler = fn;
  return fn;
}

/** The handler `plugin` registered, if any. */
export function registered() {
  return handler;
}

/** `outcome` if a handler may return it; otherwise a TypeError saying what to return. */
export function checked(outcome) {
  if (outcome instanceof Event || outcome instanceof Drop || outcome instanceof Deliver || outcome instanceof Respond) {
    return outcome;
  }
  throw new TypeError(
    `the handler returned ${String(outcome)}: return the event to pass it on, or drop(reason), deliver(...), respond(...)`,
  );
}
