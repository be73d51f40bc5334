"""Where this home's SQL endpoint listens, and its password: what a client needs to reach it.

The process serving the endpoint records it in the home (`sql_endpoint_file`); readers in
other processes (`shopstream sql`, status, a second dashboard) look it up here. Only the
standard library: a reader must not pay for the server's imports (sqlglot, DuckDB).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shopstream.config import Settings


def sql_endpoint_file(settings: Settings) -> Path:
    """Where a running endpoint records where it listens, so other commands can find it."""
    return settings.files.sql_endpoint


def password_file(settings: Settings) -> Path:
    """The generated password of this home (used when `sql.password` is not set)."""
    return settings.files.sql_password


def endpoint_password(settings: Settings, *, create: bool = False) -> str | None:
    """The configured password, else this home's generated one (made, 0600, if `create`)."""
    if settings.sql.password is not None:
        return settings.sql.password.get_secret_value()
    path = password_file(settings)
    with contextlib.suppress(FileNotFoundError):
        return path.read_text().strip()
    if not create:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(18)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    return password


@dataclass(frozen=True)
class EndpointInfo:
    """A running endpoint as recorded in the home (no password in it)."""

    host: str
    port: int
    user: str
    database: str
    pid: int
    tls: bool

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"


def running_endpoint(settings: Settings) -> EndpointInfo | None:
    """The endpoint recorded in this home if its process is still alive, else None."""
    try:
        data = json.loads(sql_endpoint_file(settings).read_text())
        info = EndpointInfo(**{k: data[k] for k in EndpointInfo.__dataclass_fields__})
        os.kill(info.pid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info
