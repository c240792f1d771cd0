// Hostile: throws an uncaught Error, which must reach the gateway as a
// panic carrying its message and stack.
import { plugin } from "@hookgate/plugin";

function refuse(event) {
  throw new RangeError(`refusing event ${event.id} of type ${event.eventType}`);
}

plugin((event) => refuse(event));
