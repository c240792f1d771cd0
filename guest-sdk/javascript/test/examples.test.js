// The example plugins, natively: the same outcomes as their Rust originals'
// unit tests. The TypeScript example is stripped with rolldown first.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { rolldown } from "rolldown";

import { Drop, Event, InvalidConfig, InvalidEvent } from "@hookgate/plugin";
import { TestHost } from "@hookgate/plugin/testing";

const here = dirname(fileURLToPath(import.meta.url));
const fixture = (name) => readFileSync(join(here, "..", "..", "..", "tests", "fixtures", name));
const json = (bytes) => JSON.parse(new TextDecoder().decode(bytes));
const built = join(here, ".built");

let livekit;
let callFilter;

before(async () => {
  await mkdir(built, { recursive: true });
  const bundle = await rolldown({
    input: join(here, "..", "examples", "livekit_summary.ts"),
    external: (id) => id.startsWith("@hookgate/"),
    logLevel: "warn",
  });
  await bundle.write({ file: join(built, "livekit_summary.mjs"), format: "es" });
  await bundle.close();
  livekit = await import(join(built, "livekit_summary.mjs"));
  callFilter = await import("../examples/call_filter.js");
});

after(() => rm(built, { recursive: true, force: true }));

const SUMMARY = {
  call_id: 123,
  call_slug: "abc12345",
  workflow_id: 456,
  organization_id: 789,
  recording_url: "https://recordings.example.com/path/to/audio.ogg",
  file_type: "ogg",
  egress_id: "EG_dmi8xHQYNX6r",
  egress_status: "EGRESS_COMPLETE",
  room_name: "VOICEKIT_workflow_abc12345_8453",
  recording_duration_seconds: 88.757,
  wall_time_seconds: 91.422,
  size_bytes: 1442477,
  size_mb: 1.44,
  finalized_at: "2024-01-15T10:33:00.000Z",
};

test("call_finalized becomes a summary event", () => {
  const run = new TestHost().run(livekit.handle, new Event("call_finalized", fixture("voicekit/call_finalized.json")));
  assert.equal(run.outcome.eventType, "call.summary");
  assert.equal(run.outcome.header("content-type"), "application/json");
  assert.deepEqual(json(run.outcome.body), SUMMARY);
});

test("the summary event type comes from config", () => {
  const host = new TestHost().withConfig("event_type", "voicekit.summary");
  const run = host.run(livekit.handle, new Event("call_finalized", fixture("voicekit/call_finalized.json")));
  assert.equal(run.outcome.eventType, "voicekit.summary");
});

test("other events pass through unchanged", () => {
  const run = new TestHost().run(livekit.handle, new Event("call_started", '{"event":"call_started"}'));
  assert.deepEqual(run.outcome.changed, new Set());
});

test("summary errors name the field", () => {
  const errorFor = (edit) => {
    const payload = json(fixture("voicekit/call_finalized.json"));
    edit(payload);
    assert.throws(() => livekit.summarize(payload), InvalidEvent);
    try {
      livekit.summarize(payload);
    } catch (error) {
      return error.message;
    }
    return undefined;
  };
  const egress = (p) => p.data.egress_info;
  assert.equal(errorFor((p) => delete egress(p).duration), "data.egress_info.duration is missing");
  assert.equal(
    errorFor((p) => (egress(p).file_size = "12kb")),
    'data.egress_info.file_size must be a non-negative integer (as a string or number), found "12kb"',
  );
  assert.equal(errorFor((p) => delete p.data.egress_info), "data.egress_info is missing");
  assert.equal(errorFor((p) => (p.data.egress_info = "oops")), "data.egress_info must be an object, found a string");
  assert.equal(
    errorFor((p) => (egress(p).ended_at = "1")),
    "data.egress_info.ended_at is before data.egress_info.started_at",
  );
  assert.equal(errorFor((p) => delete p.data), "data is missing");
});

test("with no rules every call passes", () => {
  const event = new Event("call.completed", fixture("callintel/call.completed.json"));
  assert.equal(new TestHost().run(callFilter.handle, event).outcome, event);
});

test("CallIntel's example filters keep the matching call", () => {
  const host = new TestHost()
    .withConfig("event_types", "call.*")
    .withConfig("direction", "outbound")
    .withConfig("status", "completed")
    .withConfig("min_duration", "60");
  const event = new Event("call.completed", fixture("callintel/call.completed.json"));
  assert.equal(host.run(callFilter.handle, event).outcome, event);
});

test("a short call is dropped with the reason", () => {
  const host = new TestHost().withConfig("min_duration", "400");
  const run = host.run(callFilter.handle, new Event("call.completed", fixture("callintel/call.completed.json")));
  assert.ok(run.outcome instanceof Drop);
  assert.equal(run.outcome.reason, "duration 345s is below min_duration 400s");
});

test("an event type outside the list is dropped without reading the body", () => {
  const run = new TestHost().withConfig("event_types", "call.*").run(callFilter.handle, new Event("batch.completed", "not even json"));
  assert.equal(run.outcome.reason, "event type batch.completed does not match event_types call.*");
});

test("a bad min_duration is a config error naming the key", () => {
  const host = new TestHost().withConfig("min_duration", "a minute");
  const run = host.run(callFilter.handle, new Event("call.completed", fixture("callintel/call.completed.json")));
  assert.ok(run.error instanceof InvalidConfig);
  assert.equal(run.error.message, 'config key `min_duration` has bad value "a minute": invalid float literal');
});

test("missing fields drop unless told to keep", () => {
  const host = new TestHost().withConfig("direction", "outbound");
  const event = new Event("batch.completed", '{"data": {}}');
  assert.equal(host.run(callFilter.handle, event).outcome.reason, "the event has no direction");
  assert.equal(host.withConfig("on_missing", "keep").run(callFilter.handle, event).outcome, event);
});

test("a configured field pointer is used instead of the defaults", () => {
  const host = new TestHost().withConfig("status", "ok").withConfig("status_field", "result.state");
  const run = host.run(callFilter.handle, new Event("x", '{"status": "ok", "result": {"state": "bad"}}'));
  assert.equal(run.outcome.reason, "status bad is not one of ok");
});
