"""An in-process host, so a plugin's unit tests run natively with pytest.

It stands in for the gateway's host functions only: configuration, the
endpoint list and logging. It does not enforce the gateway's time or memory
limits; run the built component with ``hookgate plugin run`` for those.

>>> from hookgate import Event, config, plugin
>>> from hookgate.testing import TestHost
>>> def tagger(event):
...     event.set_header("x-tag", config.require("tag"))
...     return event
>>> run = TestHost().with_config("tag", "blue").run(tagger, Event("t", "{}"))
>>> run.outcome.header("x-tag")
'blue'
"""

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from . import _host, checked, registered
from .endpoints import Endpoint
from .errors import PluginError
from .event import Event
from .outcome import Outcome


@dataclass
class Run:
    """What one call of a handler did."""

    #: What it returned, or ``None`` when it raised a plugin error.
    outcome: Optional[Outcome]
    #: The plugin error it raised, if any.
    error: Optional[PluginError]
    #: Each line it logged, as ``(level, message)``, in order.
    logs: List[Tuple[str, str]] = field(default_factory=list)


class _Recording(_host.Backend):
    def __init__(self, host: "TestHost") -> None:
        self.host = host
        self.logs: List[Tuple[str, str]] = []

    def log(self, level: str, message: str) -> None:
        self.logs.append((level, message))

    def config_get(self, key: str) -> Optional[str]:
        return self.host.config.get(key)

    def config_entries(self) -> List[Tuple[str, str]]:
        return sorted(self.host.config.items())

    def endpoints(self) -> list:
        return sorted(self.host.endpoints, key=lambda e: e.name)


class TestHost:
    """Configuration and endpoints for running a handler in-process."""

    __test__ = False  # not a pytest test class

    def __init__(
        self, config: Optional[Dict[str, str]] = None, endpoints: Tuple[Endpoint, ...] = ()
    ) -> None:
        self.config: Dict[str, str] = dict(config or {})
        self.endpoints: List[Endpoint] = list(endpoints)

    def with_config(self, key: str, value: str) -> "TestHost":
        """A copy of this host with one more configuration key."""
        return TestHost({**self.config, key: value}, tuple(self.endpoints))

    def with_endpoint(self, endpoint: Endpoint) -> "TestHost":
        """A copy of this host with one more endpoint."""
        return TestHost(self.config, (*self.endpoints, endpoint))

    def run(self, handler: Optional[Callable[[Event], Outcome]], event: Event) -> Run:
        """Calls ``handler`` (``None``: the one :func:`hookgate.plugin`
        registered) on ``event``, capturing its logs. A plugin error is
        returned in :attr:`Run.error`; any other exception propagates, as a
        bug in a test should."""
        handler = handler or registered()
        if handler is None:
            raise RuntimeError("no handler: pass one, or decorate one with @hookgate.plugin")
        recording = _Recording(self)
        previous, _host.current = _host.current, recording
        try:
            outcome = checked(handler(event))
            return Run(outcome, None, recording.logs)
        except PluginError as error:
            return Run(None, error, recording.logs)
        finally:
            _host.current = previous
