"""deploy/: the compose file, Prometheus rules, Grafana dashboard and image commands are valid.

The validators are Debian's `docker-compose` and `prometheus` (promtool), which
`make system-deps` installs; without them a test skips locally but fails in CI.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from shopstream.alerts.rules import RULES
from shopstream.status.prometheus import make_registry

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OPERATIONS = ROOT / "docs" / "operations.md"
SHOPSTREAM = Path(sys.executable).parent / "shopstream"


def tool(name: str) -> str:
    """Path of a validator; `make test` installs it first, so its absence is a failure."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: `make system-deps` installs it")
    return path


def exported_names() -> set[str]:
    """Every sample name /metrics can emit (counters as _total, summaries as _count/_sum)."""
    # warehouse_info.ok: the one family that is conditional (Gold's batch summary).
    text = generate_latest(make_registry(lambda: {"warehouse_info": {"ok": True}})).decode()
    names: set[str] = set()
    for fam in text_string_to_metric_families(text):
        suffixes = {"counter": ["_total"], "summary": ["_count", "_sum"]}.get(fam.type, [""])
        names |= {fam.name + s for s in suffixes}
    return names


def used_names(text: str) -> set[str]:
    return set(re.findall(r"\bshopstream_[a-z_]+", text))


def test_exposition_is_not_empty() -> None:
    names = exported_names()
    assert "shopstream_stage_lag" in names and "shopstream_dead_letters_total" in names


def test_compose_file_is_valid() -> None:
    compose = tool("docker-compose")
    for profile in ([], ["--profile", "snowflake", "--profile", "demo"]):
        cmd = [compose, "-f", str(DEPLOY / "compose.yaml"), *profile, "config", "-q"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr


def test_alert_rules_and_prometheus_config_pass_promtool() -> None:
    promtool = tool("promtool")
    for args in (["check", "rules", "alerts.yml"], ["check", "config", "prometheus.yml"]):
        proc = subprocess.run(
            [promtool, *args], cwd=DEPLOY / "prometheus", capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_alerts_cover_the_issue_and_use_only_exported_metrics() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    alerts = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"]}
    for kind in ("Stalled", "Lag", "DeadLetter", "WarehouseUnavailable"):
        assert any(kind in name for name in alerts), kind
    used = used_names("\n".join(alerts.values()))
    assert used and used <= exported_names(), used - exported_names()


def test_business_alerts_are_exactly_the_rules_with_their_severities() -> None:
    """One Prometheus alert per rule of RULES, on its own open series, and no other."""
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    business = {
        r["alert"]: r
        for g in rules["groups"]
        for r in g["rules"]
        if "shopstream_business_alert" in r["expr"]
    }
    assert sorted(business) == sorted(rule.name for rule in RULES)
    for rule in RULES:
        alert = business[rule.name]
        expr = " ".join(alert["expr"].split())
        assert expr == f'shopstream_business_alert_open{{alertname="{rule.name}"}} == 1', expr
        assert alert["labels"] == {"severity": rule.severity}, rule.name
        assert alert["annotations"]["summary"] == rule.summary, rule.name


def test_grafana_dashboard_queries_exported_metrics() -> None:
    dash = json.loads((DEPLOY / "grafana" / "dashboards" / "shopstream.json").read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    used = used_names("\n".join(exprs))
    assert used and used <= exported_names(), used - exported_names()
    source = (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    uids = {p["datasource"]["uid"] for p in dash["panels"]}
    assert uids == {d["uid"] for d in yaml.safe_load(source)["datasources"]}


def test_operations_guide_documents_every_exported_metric() -> None:
    doc = OPERATIONS.read_text()
    missing = sorted(n for n in exported_names() if f"`{n}`" not in doc)
    assert not missing, f"docs/operations.md lacks: {missing}"
    assert used_names(doc) <= exported_names(), used_names(doc) - exported_names()


def _dockerfile_json(instruction: str) -> list[str]:
    m = re.search(rf"^{instruction}\s+(\[.*\])\s*$", (DEPLOY / "Dockerfile").read_text(), re.M)
    assert m, instruction
    return json.loads(m.group(1))


def _app_commands() -> list[list[str]]:
    """The image's default command and every compose service that runs `shopstream`."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    commands = [_dockerfile_json("CMD")]
    for service in compose["services"].values():
        if service.get("image") == "shopstream:latest" and "entrypoint" not in service:
            commands.append(service["command"])
    return commands


@pytest.mark.parametrize("command", _app_commands(), ids=lambda c: " ".join(c))
def test_image_commands_parse(command: list[str]) -> None:
    (entry,) = _dockerfile_json("ENTRYPOINT")
    assert entry == SHOPSTREAM.name
    proc = subprocess.run(
        [str(SHOPSTREAM), *command, "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_spark_daemons_in_compose_use_the_images_pyspark() -> None:
    import pyspark

    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    home = re.search(r"SPARK_HOME=(\S+)", (DEPLOY / "Dockerfile").read_text())
    assert home and home.group(1).endswith("/site-packages/pyspark")
    for name in ("spark-master", "spark-worker"):
        (entry,) = compose["services"][name]["entrypoint"]
        assert entry == f"{home.group(1)}/bin/spark-class"
    assert (Path(pyspark.__file__).parent / "bin" / "spark-class").is_file()


def test_prometheus_scrapes_a_host_the_dashboard_answers_to() -> None:
    """The dashboard refuses foreign Host headers: Prometheus's target must be allowed."""
    import json

    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = [t for job in scrape["scrape_configs"] for c in job["static_configs"]
               for t in c["targets"]]  # fmt: skip
    for target in targets:
        host = target.rsplit(":", 1)[0]
        env = compose["services"][host]["environment"]
        assert host in json.loads(env["SHOPSTREAM_DASHBOARD__ALLOWED_HOSTS"]), target
