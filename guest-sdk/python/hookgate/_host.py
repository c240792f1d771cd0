"""Where the SDK's host calls go: the gateway's imports inside a component
(``_component.py`` installs them), or the in-process test host natively.

Not public API.
"""

from typing import List, Optional, Tuple


class Backend:
    """The host functions a plugin may call."""

    def log(self, level: str, message: str) -> None:
        raise NotImplementedError

    def config_get(self, key: str) -> Optional[str]:
        raise NotImplementedError

    def config_entries(self) -> List[Tuple[str, str]]:
        raise NotImplementedError

    def endpoints(self) -> list:
        raise NotImplementedError


class _Outside(Backend):
    """Outside a component and outside a test run: no configuration, no
    endpoints, logs to stderr."""

    def log(self, level: str, message: str) -> None:
        import sys

        print(f"[{level}] {message}", file=sys.stderr)

    def config_get(self, key: str) -> Optional[str]:
        return None

    def config_entries(self) -> List[Tuple[str, str]]:
        return []

    def endpoints(self) -> list:
        return []


current: Backend = _Outside()
