// The event a plugin receives, with helpers to read and rewrite it.

import { Failed, InvalidEvent } from "./errors.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A body given as bytes or a string (UTF-8). */
export function bytes(body) {
  if (typeof body === "string") return encoder.encode(body);
  if (body instanceof Uint8Array) return body;
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (Array.isArray(body)) return Uint8Array.from(body);
  throw new TypeError(`a body is a string or bytes, not ${Object.prototype.toString.call(body)}`);
}

/** `value` as compact JSON in UTF-8. */
export function dumps(value) {
  let text;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new Failed(`cannot serialise the body as JSON: ${error.message}`);
  }
  if (text === undefined) throw new Failed(`cannot serialise ${typeof value} as JSON`);
  return encoder.encode(text);
}

/**
 * One event, as the gateway received it or as an earlier plugin rewrote it.
 * Header names match case-insensitively; a name may occur several times.
 * The event remembers which parts were changed, so passing it on unchanged
 * costs nothing.
 */
export class Event {
  #id;
  #source;
  #eventType;
  #receivedAt;
  #headers;
  #body;
  #changed = new Set();

  /**
   * An event as the gateway would pass it; the defaults are a test's (id
   * `msg_test`, source `test`, no headers, received at 0).
   */
  constructor(eventType, body = "", { id = "msg_test", source = "test", receivedAt = 0, headers = [] } = {}) {
    this.#id = id;
    this.#source = source;
    this.#eventType = eventType;
    this.#receivedAt = Number(receivedAt);
    this.#headers = headers.map(([name, value]) => [name, value]);
    this.#body = bytes(body);
  }

  /** The gateway's message id, stable across retries and replays. */
  get id() {
    return this.#id;
  }

  /** The name of the source the event was posted to. */
  get source() {
    return this.#source;
  }

  /** When the gateway accepted the event, in milliseconds since the Unix epoch. */
  get receivedAt() {
    return this.#receivedAt;
  }

  /** The event type, for example `call.completed`; settable. */
  get eventType() {
    return this.#eventType;
  }

  set eventType(value) {
    this.#eventType = String(value);
    this.#changed.add("eventType");
  }

  /** The raw body; settable with a string or a Uint8Array. */
  get body() {
    return this.#body;
  }

  set body(value) {
    this.#body = bytes(value);
    this.#changed.add("body");
  }

  /** The body decoded as UTF-8. */
  get text() {
    return decoder.decode(this.#body);
  }

  /** Every header in order, as `[name, value]` pairs (a copy). */
  get headers() {
    return this.#headers.map(([name, value]) => [name, value]);
  }

  /** The first value of a header, matched case-insensitively. */
  header(name) {
    const wanted = name.toLowerCase();
    return this.#headers.find(([n]) => n.toLowerCase() === wanted)?.[1];
  }

  /** Every value of a header, in order. */
  headerAll(name) {
    const wanted = name.toLowerCase();
    return this.#headers.filter(([n]) => n.toLowerCase() === wanted).map(([, v]) => v);
  }

  /** Sets a header, replacing every value it had. */
  setHeader(name, value) {
    const wanted = name.toLowerCase();
    this.#headers = this.#headers.filter(([n]) => n.toLowerCase() !== wanted);
    this.#headers.push([name, String(value)]);
    this.#changed.add("headers");
  }

  /** Adds a header value, keeping the values it already had. */
  appendHeader(name, value) {
    this.#headers.push([name, String(value)]);
    this.#changed.add("headers");
  }

  /** Removes every value of a header. */
  removeHeader(name) {
    const wanted = name.toLowerCase();
    const kept = this.#headers.filter(([n]) => n.toLowerCase() !== wanted);
    if (kept.length !== this.#headers.length) {
      this.#headers = kept;
      this.#changed.add("headers");
    }
  }

  /** The body parsed as JSON; `InvalidEvent` with the parser's message when it is not. */
  json() {
    try {
      return JSON.parse(this.text);
    } catch (error) {
      throw new InvalidEvent(`body is not the expected JSON: ${error.message}`);
    }
  }

  /** Replaces the body with `value` as JSON and sets `content-type: application/json`. */
  setJson(value) {
    this.body = dumps(value);
    this.setHeader("content-type", "application/json");
  }

  /** Which parts were rewritten: of `eventType`, `headers`, `body`. */
  get changed() {
    return new Set(this.#changed);
  }
}
