"""The endpoints a plugin can route to."""

from dataclasses import dataclass, field
from typing import List

from . import _host


@dataclass(frozen=True)
class Endpoint:
    """A configured endpoint, without its URL or secrets."""

    #: The endpoint's unique name, what a :class:`~hookgate.Target` names.
    name: str
    #: The event types it subscribes to; may hold wildcards (``call.*``).
    event_types: List[str] = field(default_factory=list)
    #: Tags set by the operator, for example ``team:billing``.
    tags: List[str] = field(default_factory=list)

    def has_tag(self, tag: str) -> bool:
        """Whether the endpoint carries this tag."""
        return tag in self.tags


def endpoints() -> List[Endpoint]:
    """Every configured endpoint, sorted by name."""
    return _host.current.endpoints()
