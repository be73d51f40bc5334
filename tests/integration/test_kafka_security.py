"""The pipeline through a secured local Kafka (SASL_SSL, SCRAM-SHA-512, a generated CA).

Driven as a user would: `kafka start --security sasl_ssl`, then `produce`, `process
--available-now`, `status --json` and `dlq show` with no further configuration (they read
the client settings `kafka start` recorded). The warehouse must equal the generator's
ground truth. A wrong password, a wrong mechanism and an untrusted CA must each stop
`process` in one line naming the setting, exit 2, before Spark starts. The password must
appear in none of the outputs or logs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_pipeline_truth import _truth_figures, _warehouse_figures

from shopstream.config import load_settings
from shopstream.kafka.tls import issue_broker_tls

EVENTS = 10_000


def _run(env: dict[str, str], *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "shopstream", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A SASL_SSL broker started by the CLI under a fresh home; the env reaching it."""
    home = tmp_path_factory.mktemp("secured-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPSTREAM_")} | {
        "SHOPSTREAM_CONFIG": "/nonexistent/shopstream.toml",
        "SHOPSTREAM_HOME": str(home),
        "SHOPSTREAM_SPARK__MASTER": "local[2]",
        "SHOPSTREAM_SPARK__TRIGGER_SECONDS": "0.2",
    }
    started = _run(env, "kafka", "start", "--security", "sasl_ssl")
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        yield env
    finally:
        _run(env, "kafka", "stop")


def _one_line_exit_2(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-3000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr[-3000:]
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def test_pipeline_through_sasl_ssl_equals_truth_and_never_shows_the_secret(
    secured: dict[str, str], tmp_path: Path
) -> None:
    env = secured
    home = Path(env["SHOPSTREAM_HOME"])
    security = home / "kafka" / "security"
    password = (security / "client.password").read_text().strip()
    broker_password = (security / "broker.password").read_text().strip()
    assert json.loads((security / "client.json").read_text())["security_protocol"] == "SASL_SSL"
    assert (security / "client.password").stat().st_mode & 0o077 == 0
    outputs: list[str] = []

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        proc = _run(env, *args)
        outputs.extend([proc.stdout, proc.stderr])
        return proc

    # The listener really is SASL_SSL: without the recorded settings a client cannot talk.
    plain = _run(env | {"SHOPSTREAM_KAFKA__SECURITY_PROTOCOL": "PLAINTEXT"}, "kafka", "status")
    assert plain.returncode == 2, plain.stdout + plain.stderr

    truth_file = tmp_path / "truth.json"
    produced = run("produce", "-n", str(EVENTS), "--seed", "14", "--truth", str(truth_file))
    assert produced.returncode == 0, produced.stderr[-3000:]
    truth = json.loads(truth_file.read_text())

    done = run("process", "--available-now")
    assert done.returncode == 0, done.stderr[-3000:]
    settings = load_settings(home=home)
    assert _warehouse_figures(settings) == _truth_figures(truth)

    status = run("status", "--json")
    assert status.returncode == 0, status.stderr[-3000:]
    doc = json.loads(status.stdout)
    assert doc["raw"] == EVENTS
    assert doc["clean"] == truth["clean"]
    assert doc["dead_letter"]["total"] == truth["dead_letter"]["total"]

    kafka = run("kafka", "status", "--json")
    assert json.loads(kafka.stdout)["security_protocol"] == "SASL_SSL"

    dlq = run("dlq", "show", "--json", "--limit", "5")
    assert dlq.returncode == 0, dlq.stderr[-3000:]
    shown = json.loads(dlq.stdout)
    assert len(shown) == min(5, truth["dead_letter"]["total"]) > 0
    assert {d["reason"] for d in shown} <= set(truth["dead_letter"]["by_reason"])

    # Each misconfiguration: one line naming the setting, exit 2, before Spark starts.
    other_ca = issue_broker_tls(tmp_path / "other-ca").ca
    cases = [
        ({"SHOPSTREAM_KAFKA__SASL_PASSWORD": "not-the-password"}, "SASL_PASSWORD"),
        ({"SHOPSTREAM_KAFKA__SASL_MECHANISM": "SCRAM-SHA-256"}, "SASL_MECHANISM"),
        ({"SHOPSTREAM_KAFKA__SSL_CA_LOCATION": str(other_ca)}, "SSL_CA_LOCATION"),
    ]
    for extra, setting in cases:
        proc = _run(env | extra, "process", "--available-now", timeout=120)
        outputs.extend([proc.stdout, proc.stderr])
        _one_line_exit_2(proc, f"SHOPSTREAM_KAFKA__{setting}")

    # The secrets are in the files made to hold them (0600) and nowhere else: not in any
    # output, log, checkpoint, metrics file, the warehouse or the broker's data.
    assert (home / "logs" / "spark.log").is_file()
    holders = {security / "client.password", security / "broker.password"}
    holders |= set(home.glob("kafka/node-*/server.properties"))
    files = [p for p in home.rglob("*") if p.is_file() and p not in holders]
    for secret in (password, broker_password):
        assert not [text for text in outputs if secret in text]
        assert not [p for p in files if secret.encode() in p.read_bytes()]
