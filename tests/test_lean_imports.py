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


WORKER_MAIN = """
import sys
import bot.cli  # what each parse worker of `kurilwatch run` imports first: its parent's main
print(sorted({"httpx", "telegram", "aiohttp", "rich"} & set(sys.modules)))
"""


def _run(script: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_bot_imports_httpx_without_its_console_client_which_still_imports() -> None:
    """httpx's console client (rich, pygments) cost every daemon start 0.1-0.2 s of CPU for
    nothing it runs (`bot.lean_import`)."""
    assert _run(LEAN_HTTPX).split() == ["True", "AsyncClient", "True"]


def test_a_parse_worker_imports_none_of_the_telegram_side() -> None:
    """A spawned worker imports its parent's main module, `bot.cli`, and with it `bot`: httpx
    imported there cost each of the daemon's two workers 0.4 s of CPU at every start."""
    assert _run(WORKER_MAIN).split() == ["[]"]
