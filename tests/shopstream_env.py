"""The environment that points a `shopstream` subprocess at a test's broker, topics and home."""

from __future__ import annotations

import os

from shopstream.config import Settings


def cli_env(settings: Settings) -> dict[str, str]:
    """`settings` as a user would pass them: SHOPSTREAM_* variables over this environment."""
    k = settings.kafka
    return os.environ | {
        "SHOPSTREAM_HOME": str(settings.home),
        "SHOPSTREAM_KAFKA__BOOTSTRAP_SERVERS": k.bootstrap_servers or "",
        "SHOPSTREAM_KAFKA__RAW_TOPIC": k.raw_topic,
        "SHOPSTREAM_KAFKA__CLEAN_TOPIC": k.clean_topic,
        "SHOPSTREAM_KAFKA__DEAD_LETTER_TOPIC": k.dead_letter_topic,
        "SHOPSTREAM_SPARK__MASTER": settings.spark.master,
    }
