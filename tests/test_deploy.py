"""The shipped systemd unit has the sandboxing and the restart policy the README promises."""

from __future__ import annotations

from tests.conftest import ROOT


def directives() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in (ROOT / "deploy" / "kurilwatch.service").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_unit_is_sandboxed_and_restarts_on_failure() -> None:
    unit = directives()
    expected = {
        "DynamicUser": "yes",
        "StateDirectory": "kurilwatch",
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "Restart": "on-failure",
        "EnvironmentFile": "/etc/kurilwatch/token.env",
    }
    for key, value in expected.items():
        assert unit.get(key) == [value], key
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    [start] = unit["ExecStart"]
    assert start.endswith("kurilwatch run --config /etc/kurilwatch/config.yaml")
    assert "TELEGRAM_BOT_TOKEN" not in "".join(v for vs in unit.values() for v in vs)
