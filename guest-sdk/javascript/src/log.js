// Logging into the gateway's log, attributed to the plugin and the event.
// Output is limited per invocation (16 KiB by default); what goes beyond is
// dropped and marked truncated. `console.log` and `console.error` land in
// the same log.

import { backend } from "./host.js";

/** The levels, lowest first. */
export const LEVELS = ["trace", "debug", "info", "warn", "error"];

/** Writes one line at `level`. */
export function log(level, message) {
  if (!LEVELS.includes(level)) {
    throw new TypeError(`log level must be one of ${LEVELS.join(", ")}, not ${JSON.stringify(level)}`);
  }
  backend().log(level, String(message));
}

export const trace = (message) => log("trace", message);
export const debug = (message) => log("debug", message);
export const info = (message) => log("info", message);
export const warn = (message) => log("warn", message);
export const error = (message) => log("error", message);
