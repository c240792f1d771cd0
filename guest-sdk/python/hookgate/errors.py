"""The errors a plugin raises on purpose.

Each is recorded with the event, which goes to the dead letter; none is
retried, since the same input would fail the same way. Any other exception
is a bug: it reaches the gateway as a ``panic`` with its traceback.
"""


class PluginError(Exception):
    """A failure the plugin detected and reports on purpose."""

    #: The kind the gateway records: ``invalid_event``, ``invalid_config``
    #: or ``failed``.
    kind = "failed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.message == self.message

    def __hash__(self) -> int:
        return hash((type(self), self.message))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InvalidEvent(PluginError):
    """The event lacks something the plugin needs; the message names the
    field, for example ``data.egress_info.duration is missing``."""

    kind = "invalid_event"


class InvalidConfig(PluginError):
    """The plugin's configuration is missing a key or has a bad value."""

    kind = "invalid_config"


class Failed(PluginError):
    """Any other failure the plugin reports."""

    kind = "failed"
