"""``python -m hookgate build plugin.py -o plugin.wasm``: a plugin file into
a WebAssembly component, with componentize-py.

The plugin's file and this package are staged alone in a temporary folder
with an entry module that imports both, so the component holds the plugin,
the SDK and the standard library it uses, and nothing else of the folder it
was built from. Modules the plugin imports from elsewhere are found on the
paths given with ``--path``.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

PACKAGE = Path(__file__).resolve().parent
ENTRY = "hookgate_entry"


def default_wit() -> Optional[Path]:
    """The WIT folder: ``$HOOKGATE_WIT``, or the repository's ``wit/`` when
    the SDK is used from a checkout."""
    if os.environ.get("HOOKGATE_WIT"):
        return Path(os.environ["HOOKGATE_WIT"])
    repository = PACKAGE.parents[2] / "wit"
    return repository if (repository / "plugin.wit").is_file() else None


def componentize_py() -> str:
    """The componentize-py command beside this interpreter, or on PATH."""
    beside = Path(sys.executable).parent / "componentize-py"
    if beside.is_file():
        return str(beside)
    found = shutil.which("componentize-py")
    if found is None:
        raise SystemExit(
            "componentize-py is not installed: `pip install -r guest-sdk/python/requirements.lock`"
        )
    return found


def build(plugin: Path, output: Path, wit: Path, paths: List[Path]) -> None:
    """Builds ``plugin`` (a ``.py`` file) into the component ``output``."""
    if plugin.suffix != ".py" or not plugin.is_file():
        raise SystemExit(f"{plugin}: not a Python file")
    module = plugin.stem
    if not module.isidentifier() or module in (ENTRY, "hookgate", "wit_world"):
        raise SystemExit(f"{plugin}: the file name must be a Python module name other than {module!r}")
    with tempfile.TemporaryDirectory(prefix="hookgate-build-") as staging:
        stage = Path(staging)
        shutil.copy(plugin, stage / plugin.name)
        shutil.copytree(
            PACKAGE, stage / "hookgate", ignore=shutil.ignore_patterns("__pycache__", "build.py", "__main__.py")
        )
        (stage / f"{ENTRY}.py").write_text(
            f"import {module}  # registers the handler\nfrom hookgate._component import WitWorld\n\n"
            f'__all__ = ["WitWorld"]\n'
        )
        command = [componentize_py(), "-d", str(wit), "-w", "plugin", "componentize", ENTRY, "-p", str(stage)]
        for path in paths:
            command += ["-p", str(path)]
        output.parent.mkdir(parents=True, exist_ok=True)
        command += ["-o", str(output)]
        environment = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        done = subprocess.run(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stdout)
            raise SystemExit(f"componentize-py failed on {plugin} ({done.returncode})")


def main(argv: List[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m hookgate build", description=__doc__.split("\n")[0])
    parser.add_argument("plugin", type=Path, help="the plugin's .py file")
    parser.add_argument("-o", "--output", type=Path, help="the component to write (default: the file with .wasm)")
    parser.add_argument("--wit", type=Path, default=default_wit(), help="the folder holding plugin.wit")
    parser.add_argument("--path", type=Path, action="append", default=[], help="another folder to import from")
    args = parser.parse_args(argv)
    if args.wit is None:
        raise SystemExit("where is plugin.wit? give --wit or set HOOKGATE_WIT")
    output = args.output or args.plugin.with_suffix(".wasm")
    build(args.plugin, output, args.wit, args.path)
    print(f"plugin: {output}")
