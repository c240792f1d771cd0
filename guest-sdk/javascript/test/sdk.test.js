// The SDK's event, outcomes, config helpers and matching, natively.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  Deliver,
  Drop,
  Endpoint,
  Event,
  InvalidConfig,
  InvalidEvent,
  Target,
  config,
  deliver,
  endpoints,
  eventTypeMatches,
  log,
  respondJson,
  seconds,
  toBigInt,
} from "@hookgate/plugin";
import { TestHost } from "@hookgate/plugin/testing";

const text = (bytes) => new TextDecoder().decode(bytes);

test("headers match case-insensitively and keep repeats", () => {
  const event = new Event("t", "{}", { headers: [["X-A", "1"], ["x-a", "2"]] });
  assert.equal(event.header("x-A"), "1");
  assert.deepEqual(event.headerAll("X-A"), ["1", "2"]);
  assert.equal(event.header("missing"), undefined);
  assert.deepEqual(event.changed, new Set());
});

test("setHeader replaces every value and marks only the headers changed", () => {
  const event = new Event("t", "{}", { headers: [["X-A", "1"], ["x-a", "2"]] });
  event.setHeader("X-a", "3");
  assert.deepEqual(event.headerAll("x-a"), ["3"]);
  assert.deepEqual(event.changed, new Set(["headers"]));
});

test("removing an absent header changes nothing", () => {
  const event = new Event("t", "{}", { headers: [["a", "1"]] });
  event.removeHeader("b");
  assert.deepEqual(event.changed, new Set());
  event.removeHeader("A");
  assert.deepEqual(event.headers, []);
  assert.deepEqual(event.changed, new Set(["headers"]));
});

test("setJson writes compact UTF-8 and the content type", () => {
  const event = new Event("t");
  event.setJson({ a: 1, name: "José" });
  assert.equal(text(event.body), '{"a":1,"name":"José"}');
  assert.equal(event.header("Content-Type"), "application/json");
  assert.deepEqual(event.changed, new Set(["body", "headers"]));
});

test("a body that is not JSON is an invalid event", () => {
  assert.throws(() => new Event("t", '{"a": 1').json(), (error) => {
    assert.ok(error instanceof InvalidEvent);
    assert.equal(error.kind, "invalid-event");
    assert.match(error.message, /^body is not the expected JSON: /);
    return true;
  });
});

test("event type patterns", () => {
  assert.ok(eventTypeMatches("call.*", "call.analysis.completed"));
  assert.ok(eventTypeMatches("*.completed", "batch.completed"));
  assert.ok(eventTypeMatches("call.*.completed", "call.analysis.completed"));
  assert.ok(!eventTypeMatches("call.*.failed", "call.analysis.completed"));
  assert.ok(eventTypeMatches("*", ""));
  assert.ok(eventTypeMatches("a*b*c", "abc"));
  assert.ok(!eventTypeMatches("a*b*c", "acb"));
  assert.ok(!eventTypeMatches("call.completed", "call.completed.v2"));
});

test("config helpers read the test host's configuration", () => {
  const host = new TestHost().withConfig("types", " call.*, ,batch.completed ").withConfig("limit", " 7 ");
  const run = host.run((event) => {
    assert.equal(config.get("missing"), undefined);
    assert.deepEqual(config.list("types"), ["call.*", "batch.completed"]);
    assert.equal(config.parse("limit", config.number), 7);
    assert.deepEqual(config.entries(), [["limit", " 7 "], ["types", " call.*, ,batch.completed "]]);
    assert.throws(() => config.require("absent"), /config key `absent` is not set/);
    assert.throws(() => config.parse("types", config.number), /config key `types` has bad value " call.*: invalid float literal/);
    return event;
  }, new Event("t"));
  assert.equal(run.error, undefined);
  assert.ok(run.outcome instanceof Event);
});

test("config.number parses as Rust's f64 does", () => {
  assert.equal(config.number("60"), 60);
  assert.equal(config.number("1e3"), 1000);
  assert.equal(config.number("+.5"), 0.5);
  assert.equal(config.number("inf"), Infinity);
  assert.ok(Number.isNaN(config.number("NaN")));
  for (const bad of ["", "0x10", "1_000", "a minute", "1 2"]) {
    assert.throws(() => config.number(bad), /invalid float literal/, bad);
  }
});

test("logs and endpoints come from the test host", () => {
  const host = new TestHost()
    .withEndpoint(new Endpoint("crm", ["call.*"], ["sales"]))
    .withEndpoint(new Endpoint("audit"));
  const run = host.run((event) => {
    log.info("routing");
    const names = endpoints().filter((e) => e.hasTag("sales")).map((e) => e.name);
    return deliver(...names, new Target("audit").withJson({ id: event.id }));
  }, new Event("call.completed"));
  assert.deepEqual(run.logs, [["info", "routing"]]);
  assert.ok(run.outcome instanceof Deliver);
  assert.deepEqual(run.outcome.targets.map((t) => t.endpoint), ["crm", "audit"]);
  assert.equal(text(run.outcome.targets[1].body), '{"id":"msg_test"}');
  assert.deepEqual(run.outcome.targets[1].headers, [["content-type", "application/json"]]);
});

test("plugin errors are returned and other exceptions thrown", () => {
  const run = new TestHost().run(() => {
    throw new InvalidConfig("config key `x` is not set");
  }, new Event("t"));
  assert.equal(run.outcome, undefined);
  assert.equal(run.error.kind, "invalid-config");
  assert.throws(() => new TestHost().run(() => null.x, new Event("t")), TypeError);
});

test("a handler must return an outcome", () => {
  assert.throws(() => new TestHost().run(() => undefined, new Event("t")), /return the event to pass it on/);
});

test("outcome builders and nanosecond helpers", () => {
  assert.deepEqual(respondJson(201, { ok: true }).json(), { ok: true });
  assert.ok(new Drop("x") instanceof Drop);
  assert.equal(toBigInt("1705314780123456789"), 1705314780123456789n);
  assert.equal(toBigInt(" +7 "), 7n);
  assert.equal(toBigInt(-1), undefined);
  assert.equal(toBigInt("12kb"), undefined);
  assert.equal(toBigInt("18446744073709551616"), undefined);
  assert.equal(seconds(88756989820n), 88.75698982);
});
