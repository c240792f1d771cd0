"""The README's ten-line plugin: passes call events, drops the rest."""

from hookgate import Event, drop, plugin


@plugin
def handle(event: Event):
    if event.event_type.startswith("call."):
        return event
    return drop(f"{event.event_type} is not a call event")
