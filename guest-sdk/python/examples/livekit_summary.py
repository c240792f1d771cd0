"""livekit-summary in Python: turns VoiceKit's ``call_finalized`` event,
which carries LiveKit egress info with nanosecond times and sizes as
strings, into a compact call summary. Every other event passes unchanged.

The same outputs as the Rust plugin (``plugins/livekit-summary``), error
messages included; ``tests/it/languages.rs`` compares them on the fixtures.
"""

import json
import math

from hookgate import Event, InvalidEvent, config, plugin

FINALIZED = "call_finalized"
DEFAULT_SUMMARY_TYPE = "call.summary"
NANOS_PER_SECOND = 1e9
BYTES_PER_MB = 1e6


@plugin
def handle(event: Event):
    if event.event_type != FINALIZED:
        return event
    event.set_json(summarize(event.json()))
    summary_type = config.get("event_type")
    event.event_type = DEFAULT_SUMMARY_TYPE if summary_type is None else summary_type
    return event


def summarize(payload):
    """The summary of a ``call_finalized`` payload; durations in seconds to
    the millisecond, the size in bytes and in MB (10^6 bytes, two
    decimals)."""
    data = _object(payload, "data", "")
    egress = _object(data, "egress_info", "data.")
    field = "data.egress_info.{}".format
    started_at = _nanos(egress, "started_at", field("started_at"))
    ended_at = _nanos(egress, "ended_at", field("ended_at"))
    duration = _nanos(egress, "duration", field("duration"))
    size = _nanos(egress, "file_size", field("file_size"))
    if ended_at < started_at:
        raise InvalidEvent("data.egress_info.ended_at is before data.egress_info.started_at")
    return {
        "call_id": _required(data, "call_id", "data.call_id"),
        "call_slug": data.get("call_slug"),
        "workflow_id": data.get("workflow_id"),
        "organization_id": data.get("organization_id"),
        "recording_url": data.get("recording_url"),
        "file_type": _string(egress, "file_type", field("file_type")),
        "egress_id": egress.get("egress_id"),
        "egress_status": _string(egress, "status", field("status")),
        "room_name": _string(egress, "room_name", field("room_name")),
        "recording_duration_seconds": _round(duration / NANOS_PER_SECOND, 3),
        "wall_time_seconds": _round((ended_at - started_at) / NANOS_PER_SECOND, 3),
        "size_bytes": size,
        "size_mb": _round(size / BYTES_PER_MB, 2),
        "finalized_at": payload.get("timestamp") if isinstance(payload, dict) else None,
    }


def _object(parent, key, prefix):
    value = parent.get(key) if isinstance(parent, dict) else None
    if value is None and not (isinstance(parent, dict) and key in parent):
        raise InvalidEvent(f"{prefix}{key} is missing")
    if not isinstance(value, dict):
        raise InvalidEvent(f"{prefix}{key} must be an object, found {_kind(value)}")
    return value


def _required(data, key, path):
    value = data.get(key)
    if value is None:
        raise InvalidEvent(f"{path} is missing")
    return value


def _string(data, key, path):
    value = _required(data, key, path)
    if not isinstance(value, str):
        raise InvalidEvent(f"{path} must be a string, found {_kind(value)}")
    return value


def _nanos(data, key, path):
    """A non-negative integer given as a decimal string (LiveKit's style)
    or a JSON number."""
    value = _required(data, key, path)
    parsed = None
    if isinstance(value, str):
        digits = value.strip().removeprefix("+")
        if digits.isascii() and digits.isdigit():
            parsed = int(digits)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        parsed = value
    if parsed is None or parsed >= 1 << 64:
        shown = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        raise InvalidEvent(f"{path} must be a non-negative integer (as a string or number), found {shown}")
    return parsed


def _round(value, decimals):
    """Rounds half away from zero, as Rust's ``f64::round``."""
    scaled = value * 10**decimals
    whole = math.floor(abs(scaled))
    if abs(scaled) - whole >= 0.5:
        whole += 1
    return math.copysign(whole, scaled) / 10**decimals


def _kind(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
