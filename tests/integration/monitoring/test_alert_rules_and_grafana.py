"""The Prometheus alert rules pass promtool (syntax and rule unit tests); Grafana's dashboard
and Prometheus' configs refer only to what exists."""

from __future__ import annotations

import json
import re
import subprocess

import yaml

from tests.support.infra import REPO

PROMETHEUS = REPO / "deploy/prometheus"


def test_alert_rules_pass_promtool_check_and_their_unit_tests() -> None:
    result = subprocess.run(
        [str(PROMETHEUS / "check.sh")], capture_output=True, text=True, timeout=280, stdin=subprocess.DEVNULL
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 11 rules found" in result.stdout
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    names = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    # A relay that publishes nothing and an event Kafka refuses each page or warn on their own; so do
    # a consumer that is stuck or far behind, new dead letters, and a service that stopped answering.
    assert {
        "OutboxBacklog",
        "OutboxStalled",
        "OutboxEventParked",
        "ConsumerStuck",
        "ConsumerLagHigh",
        "DeadLettersWaiting",
        "DeadLettersGrowing",
        "ServiceDown",
        "DoorbraakDecisionOverdue",
    } <= names


def test_both_prometheus_configs_load_the_alert_rules() -> None:
    for name in ("prometheus.yml", "prometheus-local.yml"):
        config = yaml.safe_load((PROMETHEUS / name).read_text())
        assert config["rule_files"] == ["alerts.yml"], name
        result = subprocess.run(
            ["promtool", "check", "config", str(PROMETHEUS / name)],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_grafana_dashboard_uses_the_provisioned_data_source_and_schakel_metrics() -> None:
    dashboard = json.loads((REPO / "deploy/grafana/dashboards/schakel.json").read_text())
    source = yaml.safe_load((REPO / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    uid = source["datasources"][0]["uid"]
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert all(t["datasource"]["uid"] == uid for p in dashboard["panels"] for t in p["targets"])
    metrics = {m for e in exprs for m in re.findall(r"\b(?:schakel|faststream)_[a-z_]+", e)}
    assert {
        "schakel_places_free",
        "schakel_shortage_active",
        "schakel_waiting_time_seconds_bucket",
        "schakel_consumer_lag_messages",
        "schakel_outbox_backlog",
        "schakel_outbox_oldest_unsent_age_seconds",
        "schakel_outbox_parked",
        "schakel_dead_letters_waiting_messages",
        "schakel_dead_letters_total",
        "faststream_received_processed_messages_total",
        "faststream_received_processed_messages_duration_seconds_bucket",
    } <= metrics
