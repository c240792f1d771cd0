// Read-only access to the plugin's configuration: the key/value strings set
// when it was deployed.

import { InvalidConfig } from "./errors.js";
import { backend } from "./host.js";

/** The value of a key, or `undefined` if it is not set. */
export function get(key) {
  return backend().configGet(key);
}

/** Every key and value, sorted by key, as `[key, value]` pairs. */
export function entries() {
  return backend().configEntries();
}

/** The value of a key; `InvalidConfig` naming the key when it is not set. */
export function require(key) {
  const value = get(key);
  if (value === undefined) throw new InvalidConfig(`config key \`${key}\` is not set`);
  return value;
}

/**
 * The value of a key converted by `convert` (for example `number`), or
 * `undefined` if unset; `InvalidConfig` naming the key and the bad value
 * when `convert` throws.
 */
export function parse(key, convert) {
  const raw = get(key);
  if (raw === undefined) return undefined;
  try {
    return convert(raw.trim());
  } catch (error) {
    throw new InvalidConfig(
      `config key \`${key}\` has bad value ${JSON.stringify(raw)}: ${error.message}`,
    );
  }
}

/** The value of a key split on commas, trimmed, empty items removed. */
export function list(key) {
  const raw = get(key);
  if (raw === undefined) return [];
  return raw
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
}

/**
 * A decimal number, as Rust's `f64` parses one: digits with an optional
 * sign, fraction and exponent, or `inf`/`infinity`/`nan`. Anything else
 * (empty, hex, spaces inside) throws "invalid float literal".
 */
export function number(text) {
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return Number(text);
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(text);
  if (special) {
    const value = special[2].toLowerCase() === "nan" ? NaN : Infinity;
    return special[1] === "-" ? -value : value;
  }
  throw new Error("invalid float literal");
}
