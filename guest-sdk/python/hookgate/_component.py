"""The component side of the SDK: the gateway's imports behind the SDK's
host calls, and the exported ``handle`` that runs the registered handler.

Imported only inside a component (the build's entry module imports it), so
the generated bindings (``wit_world``, made by componentize-py at build
time) are never needed natively. Not public API.
"""

import gc
import traceback

import wit_world
from componentize_py_types import Err
from wit_world.imports import config as wit_config
from wit_world.imports import endpoints as wit_endpoints
from wit_world.imports import log as wit_log
from wit_world.imports import types

from . import _host, checked, registered
from .endpoints import Endpoint
from .errors import InvalidConfig, InvalidEvent, PluginError
from .event import Event
from .outcome import Deliver, Drop, Respond

_LEVELS = {
    "trace": wit_log.Level.TRACE,
    "debug": wit_log.Level.DEBUG,
    "info": wit_log.Level.INFO,
    "warn": wit_log.Level.WARN,
    "error": wit_log.Level.ERROR,
}


class _Gateway(_host.Backend):
    def log(self, level: str, message: str) -> None:
        wit_log.log(_LEVELS[level], message)

    def config_get(self, key: str):
        return wit_config.get(key)

    def config_entries(self):
        return list(wit_config.entries())

    def endpoints(self):
        return [Endpoint(e.name, list(e.event_types), list(e.tags)) for e in wit_endpoints.all()]


_host.current = _Gateway()


def _headers(pairs):
    return [types.Header(name, value) for name, value in pairs]


def _action(outcome):
    if isinstance(outcome, Event):
        changed = outcome.changed()
        return types.Action_Continue(
            types.Rewrite(
                outcome.event_type if "event_type" in changed else None,
                _headers(outcome.headers) if "headers" in changed else None,
                outcome.body if "body" in changed else None,
            )
        )
    if isinstance(outcome, Drop):
        return types.Action_Drop(outcome.reason)
    if isinstance(outcome, Deliver):
        return types.Action_Deliver(
            [types.Target(t.endpoint, t.body, _headers(t.headers)) for t in outcome.targets]
        )
    if isinstance(outcome, Respond):
        return types.Action_Respond(types.Response(outcome.status, _headers(outcome.headers), outcome.body))
    raise TypeError(f"not an outcome: {outcome!r}")


def _error(error: PluginError):
    if isinstance(error, InvalidEvent):
        return types.PluginError_InvalidEvent(error.message)
    if isinstance(error, InvalidConfig):
        return types.PluginError_InvalidConfig(error.message)
    return types.PluginError_Failed(error.message)


class WitWorld(wit_world.WitWorld):
    """The component's export."""

    def handle(self, event: types.Event) -> types.Action:
        try:
            handler = registered()
            if handler is None:
                raise RuntimeError("no handler: decorate one function with @hookgate.plugin")
            ours = Event(
                event.event_type,
                event.body,
                id=event.id,
                source=event.source,
                received_at=event.received_at,
                headers=[(h.name, h.value) for h in event.headers],
            )
            return _action(checked(handler(ours)))
        except PluginError as error:
            raise Err(_error(error)) from None
        except BaseException as error:
            # Reported before the trap, so the gateway shows a panic with
            # the exception and its traceback, not an anonymous trap.
            wit_log.report_panic(
                f"{type(error).__name__}: {error}\n{''.join(traceback.format_exc())}".rstrip()
            )
            raise


# This module is imported last, when componentize-py pre-initialises the
# component at build time: every object alive now is in the snapshot each
# instance starts from. Freezing them keeps the collector from walking (and
# so writing to, page by page) the snapshot on every event.
gc.collect()
gc.freeze()
