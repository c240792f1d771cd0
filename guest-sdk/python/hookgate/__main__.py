"""``python -m hookgate build ...``: see :mod:`hookgate.build`."""

import sys

if len(sys.argv) < 2 or sys.argv[1] != "build":
    sys.exit("usage: python -m hookgate build PLUGIN.py [-o OUT.wasm] [--wit DIR] [--path DIR]")
from .build import main  # noqa: E402

main(sys.argv[2:])
