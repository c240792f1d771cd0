// call-filter in JavaScript: drops events that do not pass the rules in its
// configuration: event types (with `*` wildcards), minimum duration,
// direction and status, the filters CallIntel's webhook registration offers.
// The same outcomes as the Rust plugin (plugins/call-filter), drop reasons
// and its own error messages included.

import { InvalidConfig, config, drop, eventTypeMatches, plugin } from "@hookgate/plugin";

// Where each field is looked for when its `*_field` key is not set: the
// CallIntel (`data.*`), flat, and CallCov (`audio.*`) shapes.
const DURATION_FIELDS = ["/data/duration_seconds", "/duration_seconds", "/audio/duration_seconds"];
const DIRECTION_FIELDS = ["/data/direction", "/direction"];
const STATUS_FIELDS = ["/data/status", "/status"];

export const handle = plugin((event) => {
  const rules = readRules();
  const payload = needsBody(rules) ? event.json() : null;
  const reason = check(rules, event.eventType, payload);
  return reason === undefined ? event : drop(reason);
});

/** The rules of one deployment, from its configuration. */
export function readRules() {
  const onMissing = config.get("on_missing")?.trim();
  if (onMissing !== undefined && onMissing !== "drop" && onMissing !== "keep") {
    throw new InvalidConfig(`config key \`on_missing\` must be \`drop\` or \`keep\`, not ${JSON.stringify(onMissing)}`);
  }
  const minDuration = config.parse("min_duration", config.number);
  if (minDuration !== undefined && (!Number.isFinite(minDuration) || minDuration < 0)) {
    throw new InvalidConfig(
      `config key \`min_duration\` must be a non-negative number of seconds, not ${number(minDuration)}`,
    );
  }
  return {
    keepWhenMissing: onMissing === "keep",
    minDuration,
    eventTypes: config.list("event_types"),
    directions: config.list("direction"),
    statuses: config.list("status"),
    durationField: pointer("duration_field"),
    directionField: pointer("direction_field"),
    statusField: pointer("status_field"),
  };
}

function needsBody(rules) {
  return rules.minDuration !== undefined || rules.directions.length > 0 || rules.statuses.length > 0;
}

/** `undefined` when every rule passes, else the reason to drop. */
export function check(rules, eventType, payload) {
  if (rules.eventTypes.length > 0 && !rules.eventTypes.some((p) => eventTypeMatches(p, eventType))) {
    return `event type ${eventType} does not match event_types ${rules.eventTypes.join(",")}`;
  }
  if (rules.minDuration !== undefined) {
    const duration = find(payload, rules.durationField, DURATION_FIELDS);
    if (typeof duration === "number") {
      if (duration < rules.minDuration) {
        return `duration ${number(duration)}s is below min_duration ${number(rules.minDuration)}s`;
      }
    } else if (!rules.keepWhenMissing) {
      return "the event has no duration";
    }
  }
  for (const [name, allowed, field, defaults] of [
    ["direction", rules.directions, rules.directionField, DIRECTION_FIELDS],
    ["status", rules.statuses, rules.statusField, STATUS_FIELDS],
  ]) {
    if (allowed.length === 0) continue;
    const value = find(payload, field, defaults);
    if (typeof value === "string") {
      if (!allowed.includes(value)) return `${name} ${value} is not one of ${allowed.join(",")}`;
    } else if (!rules.keepWhenMissing) {
      return `the event has no ${name}`;
    }
  }
  return undefined;
}

function find(payload, field, defaults) {
  for (const p of field === undefined ? defaults : [field]) {
    const [found, value] = resolve(payload, p);
    if (found) return value;
  }
  return undefined;
}

/** RFC 6901: `[true, value]` if `pointer` resolves in `value`. */
function resolve(value, pointer) {
  if (pointer === "") return [true, value];
  if (!pointer.startsWith("/")) return [false, undefined];
  for (const raw of pointer.slice(1).split("/")) {
    const token = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    if (typeof value === "object" && value !== null && !Array.isArray(value) && Object.hasOwn(value, token)) {
      value = value[token];
    } else if (Array.isArray(value) && /^(0|[1-9][0-9]*)$/.test(token) && Number(token) < value.length) {
      value = value[Number(token)];
    } else {
      return [false, undefined];
    }
  }
  return [true, value];
}

/** A JSON pointer from config, accepting `data.duration` as `/data/duration`. */
function pointer(key) {
  const raw = config.get(key)?.trim();
  if (raw === undefined) return undefined;
  return raw.startsWith("/") ? raw : `/${raw.replaceAll(".", "/")}`;
}

/** A number as Rust's `f64` prints it: `inf`, not `Infinity`. */
function number(value) {
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  return String(value);
}
