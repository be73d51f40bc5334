"""`shopstream kafka start|stop|status|topics`: the local broker and the pipeline topics."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from shopstream.cli.common import HomeOption, console, print_json, settings_from


class Security(StrEnum):
    plaintext = "plaintext"
    sasl_ssl = "sasl_ssl"


kafka_app = typer.Typer(help="Run a local Kafka (KRaft) broker or cluster and manage topics.")

DataDirOption = typer.Option(
    None,
    "--data-dir",
    envvar="SHOPSTREAM_KAFKA__DATA_DIR",
    help="Local broker data and state (default <home>/kafka); other commands read the env var.",
)


@kafka_app.command("start")
def start(
    brokers: int = typer.Option(None, "--brokers", help="1, or 3 for a replicated cluster."),
    port: int = typer.Option(None, "--port", help="First broker port (0 = free port)."),
    security: Security = typer.Option(
        None,
        "--security",
        case_sensitive=False,
        help="sasl_ssl: TLS (a generated CA) and SCRAM-SHA-512 users; other commands pick "
        "up the client settings. Default: what the data was started with, else plaintext.",
    ),
    data_dir: Path = DataDirOption,
    home: Path = HomeOption,
) -> None:
    """Start the local broker(s) (idempotent; restarts only dead ones) and create the topics."""
    from shopstream.errors import ConfigError
    from shopstream.kafka.cluster import LocalCluster
    from shopstream.kafka.topics import ensure_topics

    settings = settings_from(
        home, kafka={"brokers": brokers, "broker_port": port, "data_dir": data_dir}
    )
    if settings.kafka.bootstrap_servers:
        if security is not None:
            raise ConfigError(
                "--security applies to the local broker only; for the configured cluster "
                "set kafka.security_protocol and the sasl_/ssl_ settings instead."
            )
        console.print(f"using the configured cluster {settings.kafka.bootstrap_servers}")
        bootstrap = settings.kafka.bootstrap_servers
    else:
        cluster = LocalCluster(settings)
        with console.status("starting Kafka..."):
            state = cluster.start(security=security.value if security else None)
        bootstrap = state.bootstrap
        console.print(f"Kafka running: {bootstrap} ({len(state.brokers)} broker(s))")
        if state.security == "sasl_ssl":
            console.print(
                f"security: SASL_SSL, SCRAM-SHA-512 user shopstream; CA {cluster.security_dir}"
                "/ca.pem; password in client.password there (0600); later commands use them"
            )
    topics = ensure_topics(settings, bootstrap)
    console.print("topics: " + ", ".join(f"{t} ({p} partitions)" for t, p in topics.items()))


@kafka_app.command("stop")
def stop(data_dir: Path = DataDirOption, home: Path = HomeOption) -> None:
    """Stop the local broker(s) still alive, gracefully; data stays for the next start."""
    from shopstream.kafka.cluster import LocalCluster

    n = LocalCluster(settings_from(home, kafka={"data_dir": data_dir})).stop()
    console.print(f"stopped {n} broker(s)" if n else "no local broker was running")


@kafka_app.command("status")
def status(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    data_dir: Path = DataDirOption,
    home: Path = HomeOption,
) -> None:
    """Brokers (and which are down), topics, partitions, message counts, under-replication."""
    from rich.table import Table

    from shopstream.kafka.status import cluster_status

    doc = cluster_status(settings_from(home, kafka={"data_dir": data_dir}))
    if as_json:
        print_json(doc)
        return
    if doc["degraded"]:
        console.print(
            f"[bold yellow]cluster degraded:[/] {doc['degraded_reason']}", highlight=False
        )
    console.print(f"bootstrap: {doc['bootstrap']}")
    for b in doc["brokers"]:
        extra = f" pid {b['pid']}" if "pid" in b else ""
        down = " [bold red]DOWN[/] (restart it with `shopstream kafka start`)"
        console.print(
            f"broker {b['id']}: {b['host']}:{b['port']}{extra}"
            + (down if b.get("alive") is False else ""),
            highlight=False,
        )
    table = Table("topic", "partitions", "messages")
    for name, t in doc["topics"].items():
        table.add_row(name, str(t["partitions"]), f"{t['messages']:,}")
    console.print(table)
    if doc["under_replicated"]:
        under = Table("under-replicated", "partition", "leader", "replicas", "in sync")
        for p in doc["under_replicated"]:
            under.add_row(
                p["topic"], str(p["partition"]), str(p["leader"]), str(p["replicas"]), str(p["isr"])
            )
        console.print(under)


def register(app: typer.Typer) -> None:
    app.add_typer(kafka_app, name="kafka")
