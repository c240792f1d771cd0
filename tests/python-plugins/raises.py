"""Hostile: raises an uncaught exception, which must reach the gateway as a
panic carrying its message and traceback."""

from hookgate import Event, plugin


def refuse(event: Event):
    raise ValueError(f"refusing event {event.id} of type {event.event_type}")


@plugin
def handle(event: Event):
    return refuse(event)
