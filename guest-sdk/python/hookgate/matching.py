"""Event-type patterns as endpoints and filters use them: exact names, and
``*`` wildcards such as ``call.*`` or ``*``."""


def event_type_matches(pattern: str, event_type: str) -> bool:
    """Whether ``event_type`` matches ``pattern``. ``*`` matches any run of
    characters (dots and nothing included); everything else matches itself.

    >>> event_type_matches("call.*", "call.completed")
    True
    >>> event_type_matches("call.*", "batch.completed")
    False
    """
    first, *parts = pattern.split("*")
    if not event_type.startswith(first):
        return False
    rest = event_type[len(first):]
    if not parts:
        return rest == ""
    *middle, last = parts
    for part in middle:
        at = rest.find(part)
        if at < 0:
            return False
        rest = rest[at + len(part):]
    return rest.endswith(last)
