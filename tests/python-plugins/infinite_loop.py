"""Hostile: never returns, until the wall-time limit stops it."""

from hookgate import Event, plugin


@plugin
def handle(event: Event):
    spins = 0
    while True:
        spins += 1
