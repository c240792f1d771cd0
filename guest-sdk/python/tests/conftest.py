"""Makes the SDK and the examples importable without installing them, and
gives the tests the repository's fixtures."""

import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "examples")]
FIXTURES = HERE.parents[2] / "tests" / "fixtures"


@pytest.fixture
def fixture():
    """Reads a fixture by its path under ``tests/fixtures``."""

    def read(name: str) -> bytes:
        return (FIXTURES / name).read_bytes()

    return read


@pytest.fixture
def fixture_json(fixture):
    """A fixture parsed."""
    return lambda name: json.loads(fixture(name))
