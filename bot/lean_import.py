"""httpx, imported without its command-line client.

httpx (under python-telegram-bot) imports its `httpx` console client whenever click, rich and
pygments are installed, as they are here (sqlite-utils needs click, the operator CLI rich): 0.1-0.2
s of CPU at every start of the daemon and of each command that talks to Telegram, for a client
nothing here runs. Without it, `httpx.main` only says that its dependencies are missing.
"""

from __future__ import annotations

import sys

if "httpx" not in sys.modules:
    sys.modules["httpx._main"] = None  # type: ignore[assignment]  # its import fails meanwhile
    try:
        import httpx  # noqa: F401
    finally:
        del sys.modules["httpx._main"]
