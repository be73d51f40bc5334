"""Kafka: the local cluster shopstream can run, and how every command talks to Kafka.

- `state`: the local cluster as recorded in `<home>/kafka/cluster.json` (no network).
- `cluster`: `LocalCluster`, its broker+controller processes (start, heal, stop).
- `properties`: a local node's server.properties and log4j2 file.
- `security`, `tls`: the local cluster's SASL_SSL set-up (SCRAM users, CA, certificate).
- `connection`: where Kafka is and how to authenticate, for librdkafka and for Spark.
- `clients`: an AdminClient, the first connection, waiting until brokers answer.
- `clientlog`: librdkafka's own log lines, sent to `<home>/logs/kafka-clients.log`.
- `retry`: the one retry policy of requests to the cluster, with its transient errors.
- `topics`: the pipeline's topics (create, delete, ensure, max.message.bytes).
- `offsets`: watermarks, end offsets, retained message counts.
- `status`: the `kafka status` document (brokers down, partitions under-replicated).

Nothing here is imported by the package itself: import the module that holds a name, so
a command that needs no Kafka never loads it.
"""
