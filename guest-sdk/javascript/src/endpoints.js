// The endpoints a plugin can route to.

import { backend } from "./host.js";

/** A configured endpoint, without its URL or secrets. */
export class Endpoint {
  constructor(name, eventTypes = [], tags = []) {
    this.name = name;
    this.eventTypes = eventTypes;
    this.tags = tags;
  }

  /** Whether the endpoint carries this tag. */
  hasTag(tag) {
    return this.tags.includes(tag);
  }
}

/** Every configured endpoint, sorted by name. */
export function endpoints() {
  return backend().endpoints();
}
