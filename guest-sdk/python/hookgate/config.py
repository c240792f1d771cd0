"""Read-only access to the plugin's configuration: the key/value strings
set when it was deployed."""

import builtins
import json
from typing import Callable, List, Optional, Tuple, TypeVar

from . import _host
from .errors import InvalidConfig

T = TypeVar("T")


def get(key: str) -> Optional[str]:
    """The value of a key, or ``None`` if it is not set."""
    return _host.current.config_get(key)


def entries() -> List[Tuple[str, str]]:
    """Every key and value, sorted by key."""
    return _host.current.config_entries()


def require(key: str) -> str:
    """The value of a key; :class:`InvalidConfig` naming the key if unset."""
    value = get(key)
    if value is None:
        raise InvalidConfig(f"config key `{key}` is not set")
    return value


def parse(key: str, convert: Callable[[str], T]) -> Optional[T]:
    """The value of a key converted with ``convert`` (``int``, ``float``,
    or any function of a string), ``None`` if unset, or
    :class:`InvalidConfig` naming the key and the bad value."""
    raw = get(key)
    if raw is None:
        return None
    try:
        return convert(raw.strip())
    except (ValueError, TypeError) as error:
        raise InvalidConfig(
            f"config key `{key}` has bad value {json.dumps(raw, ensure_ascii=False)}: {error}"
        ) from None


def list(key: str) -> List[str]:  # noqa: A001 - the SDKs' common name
    """The value of a key split on commas, trimmed, empty items removed; an
    empty list if unset."""
    raw = get(key)
    if raw is None:
        return builtins.list()
    return [item.strip() for item in raw.split(",") if item.strip()]
