"""Write hookgate plugins in Python.

A plugin is a WebAssembly component that hookgate runs once per event, in a
fresh sandboxed instance, to filter the event, rewrite it, choose the
endpoints it goes to, or answer a synchronous caller. This package hides the
generated WIT bindings: decorate one function with :func:`plugin`, and
build the file with ``python -m hookgate build plugin.py -o plugin.wasm``.

Natively (outside a component) the same code runs against the in-process
host of :mod:`hookgate.testing`, so a plugin's tests run with pytest.
"""

from typing import Callable, Optional

from . import config, log
from .endpoints import Endpoint, endpoints
from .errors import Failed, InvalidConfig, InvalidEvent, PluginError
from .event import Event
from .matching import event_type_matches
from .outcome import Deliver, Drop, Outcome, Respond, Target, deliver, drop, respond, respond_json

__all__ = [
    "Deliver",
    "Drop",
    "Endpoint",
    "Event",
    "Failed",
    "InvalidConfig",
    "InvalidEvent",
    "Outcome",
    "PluginError",
    "Respond",
    "Target",
    "config",
    "deliver",
    "drop",
    "endpoints",
    "event_type_matches",
    "log",
    "plugin",
    "respond",
    "respond_json",
]

Handler = Callable[[Event], Outcome]

_handler: Optional[Handler] = None


def plugin(handler: Handler) -> Handler:
    """Makes ``handler`` the plugin's: the gateway calls it once per event.

    It returns the event to pass it on (with what it changed), or
    :func:`drop`, :func:`deliver`, :func:`respond`; it raises
    :class:`InvalidEvent`, :class:`InvalidConfig` or :class:`Failed` to fail
    the event on purpose. Any other exception is reported as a ``panic``.
    A component holds one plugin module; natively, where tests import
    several, the last one registered is :func:`registered`.
    """
    global _handler
    previous = _handler
    if previous is not None and previous is not handler and previous.__module__ == handler.__module__:
        raise RuntimeError(
            f"a plugin has one handler: {previous.__qualname__} is already registered in {handler.__module__}"
        )
    _handler = handler
    return handler


def registered() -> Optional[Handler]:
    """The function :func:`plugin` registered, if any."""
    return _handler


def checked(outcome: object) -> Outcome:
    """``outcome`` if it is something a handler may return; otherwise a
    ``TypeError`` saying what to return instead."""
    if isinstance(outcome, (Event, Drop, Deliver, Respond)):
        return outcome
    raise TypeError(
        f"the handler returned {outcome!r}: return the event to pass it on, "
        "or drop(reason), deliver(...), respond(...)"
    )
