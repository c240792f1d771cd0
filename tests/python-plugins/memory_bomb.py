"""Hostile: allocates until the memory limit stops it."""

from hookgate import Event, plugin


@plugin
def handle(event: Event):
    hoard = []
    while True:
        hoard.append(bytearray(1 << 20))
