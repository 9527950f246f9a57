"""The test suite. Imported before any test module or conftest.py, by pytest and each xdist
worker: under PYTHONDONTWRITEBYTECODE it keeps the suite's bytecode in a cache of its own.

With that variable set, no process the suite starts kept what it compiled: every xdist worker
rewrote every test module's asserts again, and every `kurilwatch` command and daemon and each of
its parse workers compiled the modules of bot/, watchers/ and store/ from source again (12% of
the CPU of tests/test_cli.py). Their bytecode now goes to .pytest_cache/pyc (PYTHONPYCACHEPREFIX,
ignored by git), not beside the sources, as the variable asks.
"""

import os
import sys
from pathlib import Path

if sys.dont_write_bytecode and not sys.pycache_prefix:
    _PREFIX = str(Path(__file__).resolve().parent.parent / ".pytest_cache" / "pyc")
    sys.pycache_prefix = _PREFIX
    sys.dont_write_bytecode = False
    os.environ["PYTHONPYCACHEPREFIX"] = _PREFIX  # the processes the tests start
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
