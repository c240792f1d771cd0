// The README's ten-line plugin: passes call events, drops the rest.
import { drop, plugin } from "@hookgate/plugin";

plugin((event) => {
  if (event.eventType.startsWith("call.")) return event;
  return drop(`${event.eventType} is not a call event`);
});
