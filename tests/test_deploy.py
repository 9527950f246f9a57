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
