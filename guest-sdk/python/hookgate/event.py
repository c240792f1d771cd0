"""The event a plugin receives, with helpers to read and rewrite it."""

import json
from typing import Any, Iterable, List, Optional, Tuple, Union

from .errors import Failed, InvalidEvent

Body = Union[bytes, bytearray, str]


def _bytes(body: Body) -> bytes:
    return body.encode() if isinstance(body, str) else bytes(body)


def dumps(value: Any) -> bytes:
    """``value`` as compact JSON in UTF-8, the way the gateway's other SDKs
    write it."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as error:
        raise Failed(f"cannot serialise the body as JSON: {error}") from None


class Event:
    """One event, as the gateway received it or as an earlier plugin
    rewrote it.

    Header names are matched case-insensitively; a name may occur several
    times. The event remembers which parts were changed, so passing it on
    unchanged costs nothing.
    """

    __slots__ = ("_id", "_source", "_event_type", "_received_at", "_headers", "_body", "_changed")

    def __init__(
        self,
        event_type: str,
        body: Body = b"",
        *,
        id: str = "msg_test",  # noqa: A002 - the event's own name for it
        source: str = "test",
        received_at: int = 0,
        headers: Iterable[Tuple[str, str]] = (),
    ) -> None:
        """An event as the gateway would pass it; the defaults are a test's
        (id ``msg_test``, source ``test``, no headers)."""
        self._id = id
        self._source = source
        self._event_type = event_type
        self._received_at = received_at
        self._headers: List[Tuple[str, str]] = [(n, v) for n, v in headers]
        self._body = _bytes(body)
        self._changed: set = set()

    @property
    def id(self) -> str:
        """The gateway's message id, stable across retries and replays."""
        return self._id

    @property
    def source(self) -> str:
        """The name of the source the event was posted to."""
        return self._source

    @property
    def received_at(self) -> int:
        """When the gateway accepted the event, in ms since the Unix epoch."""
        return self._received_at

    @property
    def event_type(self) -> str:
        """The event type, for example ``call.completed``; settable."""
        return self._event_type

    @event_type.setter
    def event_type(self, value: str) -> None:
        self._event_type = value
        self._changed.add("event_type")

    @property
    def body(self) -> bytes:
        """The raw body; settable with bytes or a string (UTF-8)."""
        return self._body

    @body.setter
    def body(self, value: Body) -> None:
        self._body = _bytes(value)
        self._changed.add("body")

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (invalid bytes replaced)."""
        return self._body.decode("utf-8", errors="replace")

    @property
    def headers(self) -> List[Tuple[str, str]]:
        """Every header in order, repeated names kept (a copy)."""
        return list(self._headers)

    def header(self, name: str) -> Optional[str]:
        """The first value of a header, matched case-insensitively."""
        wanted = name.lower()
        return next((v for n, v in self._headers if n.lower() == wanted), None)

    def header_all(self, name: str) -> List[str]:
        """Every value of a header, in order, matched case-insensitively."""
        wanted = name.lower()
        return [v for n, v in self._headers if n.lower() == wanted]

    def set_header(self, name: str, value: str) -> None:
        """Sets a header, replacing every value it had."""
        wanted = name.lower()
        self._headers = [(n, v) for n, v in self._headers if n.lower() != wanted]
        self._headers.append((name, value))
        self._changed.add("headers")

    def append_header(self, name: str, value: str) -> None:
        """Adds a header value, keeping the values it already had."""
        self._headers.append((name, value))
        self._changed.add("headers")

    def remove_header(self, name: str) -> None:
        """Removes every value of a header."""
        wanted = name.lower()
        kept = [(n, v) for n, v in self._headers if n.lower() != wanted]
        if len(kept) != len(self._headers):
            self._headers = kept
            self._changed.add("headers")

    def json(self) -> Any:
        """The body parsed as JSON; :class:`InvalidEvent` with the parser's
        message (which gives the position) when it is not JSON."""
        try:
            return json.loads(self._body)
        except (ValueError, UnicodeDecodeError) as error:
            raise InvalidEvent(f"body is not the expected JSON: {error}") from None

    def set_json(self, value: Any) -> None:
        """Replaces the body with ``value`` as JSON and sets
        ``content-type: application/json``."""
        self.body = dumps(value)
        self.set_header("content-type", "application/json")

    def changed(self) -> frozenset:
        """Which parts were rewritten: of ``event_type``, ``headers``,
        ``body``."""
        return frozenset(self._changed)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Event):
            return NotImplemented
        return all(getattr(self, s) == getattr(other, s) for s in self.__slots__)

    def __repr__(self) -> str:
        return (
            f"Event(id={self._id!r}, event_type={self._event_type!r}, "
            f"headers={self._headers!r}, body={self._body[:200]!r})"
        )
