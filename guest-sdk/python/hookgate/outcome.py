"""What a plugin decides: pass the event on, drop it, deliver it, or answer
the caller of a synchronous source.

A handler returns the :class:`~hookgate.Event` itself to pass it on (with
whatever it changed), or what :func:`drop`, :func:`deliver`,
:func:`respond` or :func:`respond_json` build.
"""

from dataclasses import dataclass, field
from typing import Any, Iterable, List, Optional, Tuple, Union

from .event import Body, Event, _bytes, dumps


@dataclass(frozen=True)
class Drop:
    """Deliver nothing; the reason is recorded with the event."""

    reason: str


@dataclass
class Target:
    """One delivery chosen by a plugin: the endpoint's name, the body to
    send (``None`` sends the event's), and extra headers."""

    endpoint: str
    body: Optional[bytes] = None
    headers: List[Tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.body is not None:
            self.body = _bytes(self.body)

    def with_json(self, value: Any) -> "Target":
        """This delivery with ``value`` as its JSON body."""
        return Target(self.endpoint, dumps(value), [*self.headers, ("content-type", "application/json")])

    def with_header(self, name: str, value: str) -> "Target":
        """This delivery with one more header."""
        return Target(self.endpoint, self.body, [*self.headers, (name, value)])


@dataclass(frozen=True)
class Deliver:
    """Deliver to exactly these endpoints and end the chain."""

    targets: Tuple[Target, ...]


@dataclass(frozen=True)
class Respond:
    """Answer the caller with this response and deliver nothing. On a source
    with ``mode = "sync"`` it is the caller's answer; elsewhere it is
    recorded with the event."""

    status: int
    headers: Tuple[Tuple[str, str], ...]
    body: bytes

    def json(self) -> Any:
        """The body as JSON, for tests."""
        import json

        return json.loads(self.body)


#: What a handler may return.
Outcome = Union[Event, Drop, Deliver, Respond]


def drop(reason: str) -> Drop:
    """Drops the event with a reason."""
    return Drop(reason)


def deliver(*targets: Union[Target, str]) -> Deliver:
    """Delivers to exactly these endpoints (a name delivers the event's own
    body)."""
    return Deliver(tuple(Target(t) if isinstance(t, str) else t for t in targets))


def respond(status: int, body: Body = b"", headers: Iterable[Tuple[str, str]] = ()) -> Respond:
    """Answers the caller with ``status``, this body and these headers (the
    gateway adds ``content-type: application/json`` when none is given)."""
    return Respond(status, tuple(headers), _bytes(body))


def respond_json(status: int, value: Any) -> Respond:
    """Answers the caller with ``status`` and ``value`` as a JSON body."""
    return Respond(status, (("content-type", "application/json"),), dumps(value))
