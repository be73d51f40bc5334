"""Infrastructure: JVM jars, the local Kafka broker, the Spark session, ports."""
