// BigInt-safe helpers for the nanosecond times and sizes LiveKit and
// others send as decimal strings: a JavaScript number holds integers
// exactly only up to 2^53, a nanosecond timestamp is near 2^61.

const U64_MAX = (1n << 64n) - 1n;

/**
 * A non-negative integer below 2^64 as a BigInt, from a decimal string
 * (`"88756989820"`, surrounding spaces and one `+` allowed) or an integer
 * number; `undefined` for anything else.
 */
export function toBigInt(value) {
  let parsed;
  if (typeof value === "string") {
    const digits = value.trim().replace(/^\+/, "");
    if (/^[0-9]+$/.test(digits)) parsed = BigInt(digits);
  } else if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) {
    parsed = BigInt(value);
  } else if (typeof value === "bigint" && value >= 0n) {
    parsed = value;
  }
  return parsed !== undefined && parsed <= U64_MAX ? parsed : undefined;
}

/** `nanos` in seconds as a number. */
export function seconds(nanos) {
  return Number(nanos) / 1e9;
}
