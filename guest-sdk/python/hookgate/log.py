"""Logging into the gateway's log, attributed to the plugin and the event.

Output is limited per invocation (16 KiB by default); what goes beyond is
dropped and marked truncated. ``print`` and stderr land in the same log.
"""

from . import _host

#: The levels, lowest first.
LEVELS = ("trace", "debug", "info", "warn", "error")


def log(level: str, message: str) -> None:
    """Writes one line at ``level`` (one of :data:`LEVELS`)."""
    if level not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}")
    _host.current.log(level, str(message))


def trace(message: str) -> None:
    """Logs a line at ``trace``."""
    log("trace", message)


def debug(message: str) -> None:
    """Logs a line at ``debug``."""
    log("debug", message)


def info(message: str) -> None:
    """Logs a line at ``info``."""
    log("info", message)


def warn(message: str) -> None:
    """Logs a line at ``warn``."""
    log("warn", message)


def error(message: str) -> None:
    """Logs a line at ``error``."""
    log("error", message)
