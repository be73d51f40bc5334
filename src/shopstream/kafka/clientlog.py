"""librdkafka's own log lines go to `<home>/logs/kafka-clients.log`, not to the terminal.

Without a `logger` in its configuration librdkafka prints its lines on stderr: lines
such as `%4|...|GETPID|rdkafka#producer-1| ... Coordinator load in progress: retrying`
reached the console of `up` and `bench`. Every client configuration carries one
(`client_config`, `log_config`): the Python logger `LOGGER_NAME`, whose one handler
appends to the home's kafka-clients.log. So the lines take one path, librdkafka ->
Python logging -> the file. confluent-kafka hands them over while the application polls
the client (poll, flush, list_topics...); `log_level` still decides which it emits.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shopstream.config import Settings

LOGGER_NAME = "shopstream.kafka.librdkafka"
_FORMAT = "%(asctime)s %(levelname)s %(message)s"
_lock = threading.Lock()


class _HomeLog(logging.FileHandler):
    """Appends to a file of the home, made (with its directory) at its first line only:
    a command that reads a home must not create one."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8", delay=True)

    def _open(self) -> IO[str]:
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


def client_logger(settings: Settings) -> logging.Logger:
    """The logger librdkafka's lines go to, writing this home's kafka-clients.log.

    One per process: the clients of a command use one home (a process that moves on to
    another home, as the tests and benchmarks do, moves the file with it).
    """
    path = str(settings.files.kafka_client_log)
    logger = logging.getLogger(LOGGER_NAME)
    with _lock:
        if not any(isinstance(h, _HomeLog) and h.baseFilename == path for h in logger.handlers):
            for old in list(logger.handlers):
                logger.removeHandler(old)
                old.close()
            handler = _HomeLog(Path(path))
            handler.setFormatter(logging.Formatter(_FORMAT))
            logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)  # librdkafka's log_level filters already
        logger.propagate = False  # the file only, never the terminal
    return logger


def log_config(settings: Settings) -> dict[str, Any]:
    """The librdkafka configuration that sends its log lines to the home's log file."""
    return {"logger": client_logger(settings)}
