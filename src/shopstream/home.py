"""Every file shopstream keeps in its home, named here and nowhere else.

All local state sits under one directory (`home`: `--home`, `SHOPSTREAM_HOME`, default
`./.shopstream`), so two homes never interfere and `shopstream reset` deletes one tree.
Two settings move a part of it elsewhere: `kafka.data_dir` (the local cluster) and
`warehouse.duckdb_path` (the DuckDB file, with its writer sidecar beside it).

    <home>/
      kafka/                        the local cluster (`kafka.data_dir`)
        cluster.json                its brokers while it runs (kafka/state.py)
        last-cluster.json           the same after `kafka stop`: the next start reuses ports
        node-<id>/                  server.properties, log4j2.properties, data/ (the log)
        security/                   ca.pem, broker.pem, client.json, client.password,
                                    broker.password (`kafka start --security sasl_ssl`)
      checkpoints/<stage>/          each stage's Structured Streaming checkpoint
      metrics/<stage>.jsonl         each stage's Spark progress, a JSON line per batch
      logs/                         kafka-<id>.log, spark.log, kafka-clients.log
      spark/                        Spark's log4j2.properties and scratch (warehouse/, local/)
      warehouse.duckdb              the DuckDB warehouse (`warehouse.duckdb_path`)
      warehouse.duckdb.writer.json  who writes it, readable while DuckDB locks the file
      warehouse-outage.json         since when the warehouse is unavailable, while it is
      sql.json, sql-password        where the SQL endpoint listens; its generated password
      dashboard.json                where the running dashboard listens
      dlq/replayed.jsonl            the dead letters already replayed
      bench/<run>/                  scratch homes of benchmark runs

Examples:
    >>> home = Home(Path("/h"), kafka=Path("/h/kafka"), duckdb=Path("/h/warehouse.duckdb"))
    >>> home.checkpoint("silver").as_posix(), home.progress_log("silver").as_posix()
    ('/h/checkpoints/silver', '/h/metrics/silver.jsonl')
    >>> home.kafka_node_data(2).as_posix(), home.kafka_security.ca.as_posix()
    ('/h/kafka/node-2/data', '/h/kafka/security/ca.pem')
    >>> writer_sidecar(home.duckdb).name
    'warehouse.duckdb.writer.json'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shopstream.config import Settings


@dataclass(frozen=True)
class KafkaSecurity:
    """The files of a secured local cluster, in one directory (0700)."""

    dir: Path

    @property
    def ca(self) -> Path:
        """The CA certificate: what clients trust."""
        return self.dir / "ca.pem"

    @property
    def keystore(self) -> Path:
        """The broker's private key and certificate chain (0600)."""
        return self.dir / "broker.pem"

    @property
    def client(self) -> Path:
        """Clients' settings, password aside; written last, so it means "secured"."""
        return self.dir / "client.json"

    @property
    def client_password(self) -> Path:
        return self.dir / "client.password"

    @property
    def broker_password(self) -> Path:
        return self.dir / "broker.password"


@dataclass(frozen=True)
class Home:
    """The files of one home (see the module's docstring for the tree)."""

    root: Path
    kafka: Path  # the local cluster's directory: <home>/kafka unless kafka.data_dir
    duckdb: Path  # the DuckDB warehouse: <home>/warehouse.duckdb unless duckdb_path

    @classmethod
    def of(cls, settings: Settings) -> Home:
        """The home `settings` name, every path absolute."""
        root = settings.home.resolve()
        kafka = (settings.kafka.data_dir or root / "kafka").resolve()
        duckdb = (settings.warehouse.duckdb_path or root / "warehouse.duckdb").resolve()
        return cls(root, kafka=kafka, duckdb=duckdb)

    # ---------------------------------------------------------------- the local cluster
    @property
    def kafka_state(self) -> Path:
        """The running local cluster's record (kafka/state.py)."""
        return self.kafka / "cluster.json"

    @property
    def kafka_last_state(self) -> Path:
        """The stopped cluster's record: its ports, reused by the next start."""
        return self.kafka / "last-cluster.json"

    def kafka_node(self, node_id: int) -> Path:
        """A local node's directory: its server.properties, log4j2.properties and data."""
        return self.kafka / f"node-{node_id}"

    def kafka_node_data(self, node_id: int) -> Path:
        """Where a local broker keeps its log segments."""
        return self.kafka_node(node_id) / "data"

    def kafka_node_properties(self, node_id: int) -> Path:
        return self.kafka_node(node_id) / "server.properties"

    def kafka_node_log4j(self, node_id: int) -> Path:
        return self.kafka_node(node_id) / "log4j2.properties"

    def kafka_node_meta(self, node_id: int) -> Path:
        """Kafka's own record of a formatted data dir (it holds the cluster id)."""
        return self.kafka_node_data(node_id) / "meta.properties"

    @property
    def kafka_security(self) -> KafkaSecurity:
        return KafkaSecurity(self.kafka / "security")

    # ---------------------------------------------------------------- Spark
    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    def checkpoint(self, stage: str) -> Path:
        """The Spark checkpoint directory of a stage's query."""
        return self.checkpoints / stage

    def progress_log(self, stage: str) -> Path:
        """The file a stage appends its Spark progress to, one JSON line per batch."""
        return self.root / "metrics" / f"{stage}.jsonl"

    @property
    def spark(self) -> Path:
        """Spark's own files: its log4j2 configuration and scratch directories."""
        return self.root / "spark"

    @property
    def spark_log4j(self) -> Path:
        return self.spark / "log4j2.properties"

    # ---------------------------------------------------------------- logs
    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def kafka_log(self, node_id: int) -> Path:
        """A local broker's log."""
        return self.logs / f"kafka-{node_id}.log"

    @property
    def spark_log(self) -> Path:
        """Spark's JVM log (and the JVM's stderr)."""
        return self.logs / "spark.log"

    @property
    def kafka_client_log(self) -> Path:
        """librdkafka's own log lines, from every Kafka client of a command."""
        return self.logs / "kafka-clients.log"

    # ---------------------------------------------------------------- serving, state
    @property
    def warehouse_outage(self) -> Path:
        """Since when the warehouse is unavailable (while a writer waits for it)."""
        return self.root / "warehouse-outage.json"

    @property
    def sql_endpoint(self) -> Path:
        """Where a running SQL endpoint listens, so other commands can find it."""
        return self.root / "sql.json"

    @property
    def sql_password(self) -> Path:
        """The SQL endpoint's generated password (when `sql.password` is not set)."""
        return self.root / "sql-password"

    @property
    def dashboard(self) -> Path:
        """Where a running dashboard listens, so `shopstream status` can ask it."""
        return self.root / "dashboard.json"

    @property
    def dlq_replayed(self) -> Path:
        """Which dead letters this home has already replayed."""
        return self.root / "dlq" / "replayed.jsonl"

    def bench(self, run: str) -> Path:
        """The scratch home of one benchmark run."""
        return self.root / "bench" / run


def writer_sidecar(database: Path) -> Path:
    """`<file>.writer.json`: who writes a DuckDB file, beside it wherever it is."""
    return database.with_name(database.name + ".writer.json")
