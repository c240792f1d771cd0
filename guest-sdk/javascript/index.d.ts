// TypeScript types of the SDK. The WIT contract's own types, generated from
// wit/plugin.wit by `npx @bytecodealliance/jco@1.14.0 types ../../wit
// --world-name plugin -o types/wit`, are in types/wit/; the SDK hides them
// behind these.

import type { Endpoint as WitEndpoint } from "./types/wit/interfaces/hookgate-plugin-endpoints.js";

export type Body = string | Uint8Array;
export type Header = [name: string, value: string];

/** One event, as the gateway received it or as an earlier plugin rewrote it. */
export class Event {
  constructor(
    eventType: string,
    body?: Body,
    options?: { id?: string; source?: string; receivedAt?: number | bigint; headers?: Header[] },
  );
  readonly id: string;
  readonly source: string;
  /** Milliseconds since the Unix epoch. */
  readonly receivedAt: number;
  eventType: string;
  get body(): Uint8Array;
  set body(value: Body);
  readonly text: string;
  readonly headers: Header[];
  header(name: string): string | undefined;
  headerAll(name: string): string[];
  setHeader(name: string, value: string): void;
  appendHeader(name: string, value: string): void;
  removeHeader(name: string): void;
  /** The body as JSON; throws InvalidEvent when it is not. */
  json(): any;
  /** Replaces the body with JSON and sets `content-type: application/json`. */
  setJson(value: unknown): void;
  readonly changed: Set<"eventType" | "headers" | "body">;
}

export class Drop {
  readonly reason: string;
}
export class Target {
  constructor(endpoint: string, options?: { body?: Body; headers?: Header[] });
  readonly endpoint: string;
  readonly body: Uint8Array | undefined;
  readonly headers: Header[];
  withJson(value: unknown): Target;
  withHeader(name: string, value: string): Target;
}
export class Deliver {
  readonly targets: Target[];
}
export class Respond {
  readonly status: number;
  readonly body: Uint8Array;
  readonly headers: Header[];
  json(): any;
}
export type Outcome = Event | Drop | Deliver | Respond;

export function drop(reason: string): Drop;
export function deliver(...targets: (Target | string)[]): Deliver;
export function respond(status: number, body?: Body, headers?: Header[]): Respond;
export function respondJson(status: number, value: unknown): Respond;

export class PluginError extends Error {
  readonly kind: "invalid-event" | "invalid-config" | "failed";
}
export class InvalidEvent extends PluginError {}
export class InvalidConfig extends PluginError {}
export class Failed extends PluginError {}

export type Handler = (event: Event) => Outcome;
export function plugin<H extends Handler>(handler: H): H;
export function registered(): Handler | undefined;

export namespace config {
  function get(key: string): string | undefined;
  function entries(): [string, string][];
  function require(key: string): string;
  function parse<T>(key: string, convert: (raw: string) => T): T | undefined;
  function list(key: string): string[];
  /** A decimal number as Rust's f64 parses one; throws "invalid float literal". */
  function number(text: string): number;
}

export namespace log {
  type Level = "trace" | "debug" | "info" | "warn" | "error";
  function log(level: Level, message: string): void;
  function trace(message: string): void;
  function debug(message: string): void;
  function info(message: string): void;
  function warn(message: string): void;
  function error(message: string): void;
}

export class Endpoint implements WitEndpoint {
  constructor(name: string, eventTypes?: string[], tags?: string[]);
  name: string;
  eventTypes: string[];
  tags: string[];
  hasTag(tag: string): boolean;
}
export function endpoints(): Endpoint[];

export function eventTypeMatches(pattern: string, eventType: string): boolean;

/** A non-negative integer below 2^64 from a decimal string or a safe integer. */
export function toBigInt(value: unknown): bigint | undefined;
/** Nanoseconds as seconds. */
export function seconds(nanos: bigint): number;

/** The in-process test host (`@hookgate/plugin/testing`). */
export class TestHost {
  constructor(options?: { config?: Record<string, string>; endpoints?: Endpoint[] });
  withConfig(key: string, value: string): TestHost;
  withEndpoint(endpoint: Endpoint): TestHost;
  run(handler: Handler | undefined, event: Event): { outcome?: Outcome; error?: PluginError; logs: [string, string][] };
}
