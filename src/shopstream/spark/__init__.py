"""Spark: the session every job runs in, and what it needs around it.

- `session`: the SparkSession factory (jars, local defaults, UTC, logs to <home>/logs).
- `jars`: the JVM artifacts Maven resolves from `jvm/pom.xml` (Kafka's and Spark's).
- `class_archive`: the driver's class-data-sharing archive (halves a session's start-up).
- `standalone`: a standalone master + workers on loopback (`bench scale`, cluster test).
- `slots`: task slots of a master, and Silver's mode (Real-time Mode or micro-batches).
- `checkpoints`: each stage's Structured Streaming checkpoint and progress log.
"""
