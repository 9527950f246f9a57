"""What the daemon and the commands leave unimported at their start, and what still works."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

LEAN_HTTPX = """
import sys
import bot.daemon  # what `kurilwatch run` imports before it starts
lean = not {"httpx._main", "pygments", "rich"} & set(sys.modules)
import httpx, httpx._main  # both still import when asked for
print(lean, httpx.AsyncClient.__name__, callable(httpx._main.main))
"""


def test_the_bot_imports_httpx_without_its_console_client_which_still_imports() -> None:
    """httpx's console client (rich, pygments) cost every daemon start 0.1-0.2 s of CPU for
    nothing it runs (`bot.lean_import`)."""
    result = subprocess.run(
        [sys.executable, "-c", LEAN_HTTPX], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "AsyncClient", "True"]
