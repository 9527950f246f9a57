"""What deploy/ ships: the systemd unit's sandboxing and restart policy, and the Grafana dashboard."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from bot.metrics import Metrics
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


def test_the_grafana_dashboard_queries_only_metrics_the_daemon_exports() -> None:
    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
    metrics = Metrics(stale_after=timedelta(minutes=15), stuck_after=timedelta(minutes=10))
    exported = {
        sample.name for family in metrics.registry.collect() for sample in family.samples
    } | {family.name for family in metrics.registry.collect()}
    # counters and histograms show up once they have a labelled sample
    metrics.polls.labels("f", "error").inc()
    metrics.items.labels("f").inc()
    metrics.matches.labels("f").inc()
    metrics.deliveries.labels("sent").inc()
    exported |= {s.name for family in metrics.registry.collect() for s in family.samples}

    panels = dashboard["panels"]
    exprs = [target["expr"] for panel in panels for target in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"kurilwatch_[a-z_]+", expr)}
    assert used, "the dashboard queries nothing"
    assert used <= exported, f"not exported: {sorted(used - exported)}"
    # the required themes of the dashboard are all there
    for theme in (
        "polls_total",
        "deliveries_total",
        "queue_depth",
        "queue_oldest_age",
        "delivery_latency_seconds_bucket",
        "items_total",
        "matches_total",
    ):
        assert any(theme in name for name in used), theme
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    assert all(panel["datasource"]["uid"] == "${DS_PROMETHEUS}" for panel in panels)
    assert [i["name"] for i in dashboard["__inputs"]] == ["DS_PROMETHEUS"]


# system calls the daemon makes that sit in a group the unit denies, found with
# `strace -f -e trace=mbind kurilwatch demo` and `systemd-analyze syscall-filter @resources`
NEEDED_FROM_DENIED_GROUPS = {"mbind": "@resources"}  # OpenBLAS, for the title vectors


def test_the_unit_lets_through_the_system_calls_the_daemon_makes() -> None:
    """A call the filter denies kills the process (SIGSYS): with mbind denied, the daemon died
    at its first title vector and again after each restart."""
    filters = directives()["SystemCallFilter"]
    for call, group in NEEDED_FROM_DENIED_GROUPS.items():
        denied_at = [n for n, f in enumerate(filters) if f.startswith("~") and group in f.split()]
        allowed_at = [
            n for n, f in enumerate(filters) if not f.startswith("~") and call in f.split()
        ]
        assert not denied_at or (allowed_at and max(allowed_at) > max(denied_at)), (
            f"{call} is denied with {group} and never allowed again after it"
        )


def test_matplotlib_keeps_its_font_cache_where_the_unit_lets_it_write() -> None:
    """The dynamic user's home is / on a read-only system: matplotlib logged two warnings and
    built its font cache again in a temporary folder after every start."""
    unit = directives()
    environment = dict(
        pair.split("=", 1) for line in unit.get("Environment", []) for pair in line.split()
    )
    folder = environment.get("MPLCONFIGDIR", "")
    writable = [
        f"/var/{kind}/{name}"
        for kind, key in (("cache", "CacheDirectory"), ("lib", "StateDirectory"))
        for name in unit.get(key, [])
    ]
    assert any(folder.startswith(w + "/") or folder == w for w in writable), (folder, writable)
