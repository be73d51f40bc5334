"""Kafka: the local cluster shopstream can run, and how every command talks to Kafka."""
