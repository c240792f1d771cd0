// What a plugin decides. A handler returns the Event itself to pass it on
// (with whatever it changed), or what drop, deliver, respond or respondJson
// build.

import { bytes, dumps } from "./event.js";

/** Deliver nothing; the reason is recorded with the event. */
export class Drop {
  constructor(reason) {
    this.reason = String(reason);
  }
}

/** One delivery chosen by a plugin. */
export class Target {
  /** The endpoint's name, the body to send (`undefined`: the event's) and extra headers. */
  constructor(endpoint, { body, headers = [] } = {}) {
    this.endpoint = endpoint;
    this.body = body === undefined ? undefined : bytes(body);
    this.headers = headers.map(([name, value]) => [name, value]);
  }

  /** This delivery with `value` as its JSON body. */
  withJson(value) {
    return new Target(this.endpoint, {
      body: dumps(value),
      headers: [...this.headers, ["content-type", "application/json"]],
    });
  }

  /** This delivery with one more header. */
  withHeader(name, value) {
    return new Target(this.endpoint, { body: this.body, headers: [...this.headers, [name, value]] });
  }
}

/** Deliver to exactly these endpoints and end the chain. */
export class Deliver {
  constructor(targets) {
    this.targets = targets;
  }
}

/** Answer the caller (of a `mode = "sync"` source) and deliver nothing. */
export class Respond {
  constructor(status, body, headers) {
    this.status = status;
    this.body = bytes(body);
    this.headers = headers.map(([name, value]) => [name, value]);
  }

  /** The body as JSON, for tests. */
  json() {
    return JSON.parse(new TextDecoder().decode(this.body));
  }
}

/** Drops the event with a reason. */
export const drop = (reason) => new Drop(reason);

/** Delivers to exactly these endpoints (a name delivers the event's own body). */
export const deliver = (...targets) =>
  new Deliver(targets.map((t) => (typeof t === "string" ? new Target(t) : t)));

/** Answers the caller with `status`, this body and these headers. */
export const respond = (status, body = "", headers = []) => new Respond(status, body, headers);

/** Answers the caller with `status` and `value` as a JSON body. */
export const respondJson = (status, value) =>
  new Respond(status, dumps(value), [["content-type", "application/json"]]);
