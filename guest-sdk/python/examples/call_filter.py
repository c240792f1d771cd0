"""call-filter in Python: drops events that do not pass the rules in its
configuration: event types (with ``*`` wildcards), minimum duration,
direction and status, the filters CallIntel's webhook registration offers.

The same outcomes as the Rust plugin (``plugins/call-filter``), drop reasons
and its own error messages included.
"""

import json
import math
from decimal import Decimal

from hookgate import Event, InvalidConfig, config, drop, event_type_matches, plugin

# Where each field is looked for when its `*_field` key is not set: the
# CallIntel (`data.*`), flat, and CallCov (`audio.*`) shapes.
DURATION_FIELDS = ("/data/duration_seconds", "/duration_seconds", "/audio/duration_seconds")
DIRECTION_FIELDS = ("/data/direction", "/direction")
STATUS_FIELDS = ("/data/status", "/status")


@plugin
def handle(event: Event):
    rules = Rules()
    payload = event.json() if rules.needs_body() else None
    reason = rules.check(event.event_type, payload)
    return event if reason is None else drop(reason)


class Rules:
    """The rules of one deployment, read from its configuration."""

    def __init__(self):
        on_missing = config.get("on_missing")
        on_missing = None if on_missing is None else on_missing.strip()
        if on_missing not in (None, "drop", "keep"):
            raise InvalidConfig(
                f"config key `on_missing` must be `drop` or `keep`, not {json.dumps(on_missing, ensure_ascii=False)}"
            )
        self.keep_when_missing = on_missing == "keep"
        self.min_duration = config.parse("min_duration", float)
        if self.min_duration is not None and (not math.isfinite(self.min_duration) or self.min_duration < 0):
            raise InvalidConfig(
                "config key `min_duration` must be a non-negative number of seconds, "
                f"not {_number(self.min_duration)}"
            )
        self.event_types = config.list("event_types")
        self.directions = config.list("direction")
        self.statuses = config.list("status")
        self.duration_field = _pointer("duration_field")
        self.direction_field = _pointer("direction_field")
        self.status_field = _pointer("status_field")

    def needs_body(self):
        return self.min_duration is not None or bool(self.directions) or bool(self.statuses)

    def check(self, event_type, payload):
        """``None`` when every rule passes, else the reason to drop."""
        if self.event_types and not any(event_type_matches(p, event_type) for p in self.event_types):
            return f"event type {event_type} does not match event_types {','.join(self.event_types)}"
        if self.min_duration is not None:
            duration = _find(payload, self.duration_field, DURATION_FIELDS)
            if isinstance(duration, (int, float)) and not isinstance(duration, bool):
                if duration < self.min_duration:
                    return f"duration {_number(duration)}s is below min_duration {_number(self.min_duration)}s"
            elif not self.keep_when_missing:
                return "the event has no duration"
        for name, allowed, field, defaults in (
            ("direction", self.directions, self.direction_field, DIRECTION_FIELDS),
            ("status", self.statuses, self.status_field, STATUS_FIELDS),
        ):
            if not allowed:
                continue
            value = _find(payload, field, defaults)
            if isinstance(value, str):
                if value not in allowed:
                    return f"{name} {value} is not one of {','.join(allowed)}"
            elif not self.keep_when_missing:
                return f"the event has no {name}"
        return None


def _find(payload, field, defaults):
    """The value at the first JSON pointer that resolves."""
    for pointer in (field,) if field is not None else defaults:
        found, value = _resolve(payload, pointer)
        if found:
            return value
    return None


def _resolve(value, pointer):
    """RFC 6901: ``(True, value)`` if ``pointer`` resolves in ``value``."""
    if pointer == "":
        return True, value
    if not pointer.startswith("/"):
        return False, None
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and token.isascii() and token.isdigit() and (token == "0" or not token.startswith("0")):
            if int(token) >= len(value):
                return False, None
            value = value[int(token)]
        else:
            return False, None
    return True, value


def _pointer(key):
    """A JSON pointer from config, accepting ``data.duration`` as
    ``/data/duration``."""
    raw = config.get(key)
    if raw is None:
        return None
    raw = raw.strip()
    return raw if raw.startswith("/") else "/" + raw.replace(".", "/")


def _number(value):
    """A number as Rust's ``f64`` prints it: no exponent, no ``.0``."""
    value = float(value)
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = format(Decimal(repr(value)), "f")
    return text[:-2] if text.endswith(".0") else text
