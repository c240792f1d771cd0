// livekit-summary in TypeScript: turns VoiceKit's `call_finalized` event,
// which carries LiveKit egress info with nanosecond times and sizes as
// strings, into a compact call summary. Every other event passes unchanged.
// The same outputs as the Rust plugin (plugins/livekit-summary), error
// messages included; tests/it/languages.rs compares them on the fixtures.

import { Event, InvalidEvent, config, plugin, seconds, toBigInt } from "@hookgate/plugin";

export const FINALIZED = "call_finalized";
export const DEFAULT_SUMMARY_TYPE = "call.summary";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export const handle = plugin((event: Event) => {
  if (event.eventType !== FINALIZED) return event;
  event.setJson(summarize(event.json()));
  event.eventType = config.get("event_type") ?? DEFAULT_SUMMARY_TYPE;
  return event;
});

/** The summary of a `call_finalized` payload. */
export function summarize(payload: Json): JsonObject {
  const data = object(payload, "data", "");
  const egress = object(data, "egress_info", "data.");
  const field = (name: string) => `data.egress_info.${name}`;
  const startedAt = nanos(egress, "started_at", field("started_at"));
  const endedAt = nanos(egress, "ended_at", field("ended_at"));
  const duration = nanos(egress, "duration", field("duration"));
  const size = nanos(egress, "file_size", field("file_size"));
  if (endedAt < startedAt) {
    throw new InvalidEvent("data.egress_info.ended_at is before data.egress_info.started_at");
  }
  return {
    call_id: required(data, "call_id", "data.call_id"),
    call_slug: data.call_slug ?? null,
    workflow_id: data.workflow_id ?? null,
    organization_id: data.organization_id ?? null,
    recording_url: data.recording_url ?? null,
    file_type: string(egress, "file_type", field("file_type")),
    egress_id: egress.egress_id ?? null,
    egress_status: string(egress, "status", field("status")),
    room_name: string(egress, "room_name", field("room_name")),
    recording_duration_seconds: round(seconds(duration), 3),
    wall_time_seconds: round(seconds(endedAt - startedAt), 3),
    size_bytes: Number(size),
    size_mb: round(Number(size) / 1e6, 2),
    finalized_at: (payload as JsonObject).timestamp ?? null,
  };
}

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function object(parent: Json, key: string, prefix: string): JsonObject {
  const value = isObject(parent) ? parent[key] : undefined;
  if (value === undefined) throw new InvalidEvent(`${prefix}${key} is missing`);
  if (!isObject(value)) throw new InvalidEvent(`${prefix}${key} must be an object, found ${kind(value)}`);
  return value;
}

function required(map: JsonObject, key: string, path: string): Json {
  const value = map[key];
  if (value === undefined || value === null) throw new InvalidEvent(`${path} is missing`);
  return value;
}

function string(map: JsonObject, key: string, path: string): string {
  const value = required(map, key, path);
  if (typeof value !== "string") throw new InvalidEvent(`${path} must be a string, found ${kind(value)}`);
  return value;
}

function nanos(map: JsonObject, key: string, path: string): bigint {
  const value = required(map, key, path);
  const parsed = toBigInt(value);
  if (parsed === undefined) {
    throw new InvalidEvent(
      `${path} must be a non-negative integer (as a string or number), found ${JSON.stringify(value)}`,
    );
  }
  return parsed;
}

/** Rounds half away from zero, as Rust's `f64::round`. */
function round(value: number, decimals: number): number {
  const scaled = value * 10 ** decimals;
  let whole = Math.floor(Math.abs(scaled));
  if (Math.abs(scaled) - whole >= 0.5) whole += 1;
  return (Math.sign(scaled) * whole) / 10 ** decimals;
}

function kind(value: Json): string {
  if (value === null) return "null";
  if (typeof value === "boolean") return "a boolean";
  if (typeof value === "number") return "a number";
  if (typeof value === "string") return "a string";
  if (Array.isArray(value)) return "an array";
  return "an object";
}
