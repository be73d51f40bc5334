"""The local cluster's security: SASL_SSL with SCRAM-SHA-512 users over TLS.

`kafka start --security sasl_ssl` makes, once per data directory, a private CA and the
broker's certificate (`tls.py`) and two SCRAM passwords (clients', brokers') under
`<home>/kafka/security/`. `client.json` there, written last, says "this data dir is
secured"; every later command reads its client settings from it (`client_security`), so
no further configuration is needed to connect.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shopstream.home import KafkaSecurity
from shopstream.kafka.state import LocalSecurity
from shopstream.kafka.tls import issue_broker_tls, write_private

if TYPE_CHECKING:
    from shopstream.config import Settings

SCRAM_MECHANISM = "SCRAM-SHA-512"
CLIENT_USER = "shopstream"
BROKER_USER = "broker"  # inter-broker traffic authenticates too


@dataclass(frozen=True)
class SecuredBroker:
    """What a SASL_SSL local broker is started with."""

    ca: Path
    keystore: Path
    client_password: str = field(repr=False)
    broker_password: str = field(repr=False)

    def users(self) -> dict[str, str]:
        return {CLIENT_USER: self.client_password, BROKER_USER: self.broker_password}


def security_dir(settings: Settings) -> Path:
    """Where the local cluster's TLS files, passwords and client settings live."""
    return settings.files.kafka_security.dir


def formatted_security(security_dir: Path) -> LocalSecurity:
    """What this data dir's cluster serves clients with (its users live in its metadata)."""
    return "sasl_ssl" if KafkaSecurity(security_dir).client.is_file() else "plaintext"


def secure(security_dir: Path, fresh: bool) -> SecuredBroker:
    """The TLS files and SCRAM passwords, made once per data dir (new with new data)."""
    files = KafkaSecurity(security_dir)
    if fresh or not files.client.is_file():
        security_dir.mkdir(parents=True, exist_ok=True)
        security_dir.chmod(0o700)
        tls = issue_broker_tls(security_dir)
        write_private(files.client_password, secrets.token_hex(24).encode())
        write_private(files.broker_password, secrets.token_hex(24).encode())
        # Written last: its presence means "this data dir is secured" (see above).
        doc = {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": SCRAM_MECHANISM,
            "sasl_username": CLIENT_USER,
            "ssl_ca_location": str(tls.ca),
        }
        files.client.write_text(json.dumps(doc, indent=2))
    return SecuredBroker(
        ca=files.ca,
        keystore=files.keystore,
        client_password=files.client_password.read_text().strip(),
        broker_password=files.broker_password.read_text().strip(),
    )


def client_security(security_dir: Path) -> dict[str, Any]:
    """The client settings of a secured local cluster (password included), else {}."""
    files = KafkaSecurity(security_dir)
    if not files.client.is_file():
        return {}
    doc: dict[str, Any] = json.loads(files.client.read_text())
    doc["sasl_password"] = files.client_password.read_text().strip()
    return doc
