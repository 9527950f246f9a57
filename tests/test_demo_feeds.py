"""The demo's sample feed server: a poll cut short by Ctrl-C is not an error to print."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler

import pytest

from bot.demo import QuietServer


def test_a_client_hanging_up_prints_no_traceback_but_a_bug_still_does(
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = QuietServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    try:
        for error in (ConnectionResetError(104, "reset by peer"), BrokenPipeError(32, "pipe")):
            try:
                raise error
            except OSError:
                server.handle_error(None, ("127.0.0.1", 1))
        try:
            raise ValueError("a bug in the handler")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 1))
    finally:
        server.server_close()
    err = capsys.readouterr().err
    assert err.count("Traceback") == 1 and "ValueError: a bug in the handler" in err
    assert "reset by peer" not in err and "BrokenPipeError" not in err
