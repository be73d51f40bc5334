"""SCRAM-SHA-256 (RFC 5802/7677), the server side, as PostgreSQL speaks it.

The password is turned into a verifier once (salt, StoredKey, ServerKey); each login is a
`ScramExchange`: client-first -> server-first -> client-final -> server-final.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

MECHANISM = "SCRAM-SHA-256"
ITERATIONS = 4096


class ScramError(Exception):
    """The client's SCRAM messages are malformed or its proof is wrong."""


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


@dataclass(frozen=True, repr=False)
class Verifier:
    """What the server keeps of a password: enough to check a proof, not to log in."""

    salt: bytes
    iterations: int
    stored_key: bytes
    server_key: bytes

    @classmethod
    def from_password(cls, password: str, iterations: int = ITERATIONS) -> Verifier:
        salt = secrets.token_bytes(16)
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
        return cls(
            salt,
            iterations,
            hashlib.sha256(_hmac(salted, b"Client Key")).digest(),
            _hmac(salted, b"Server Key"),
        )


def _attributes(text: str) -> dict[str, str]:
    out = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or len(key) != 1:
            raise ScramError(f"malformed SCRAM attribute {part!r}")
        out[key] = value
    return out


@dataclass
class ScramExchange:
    """One login's state; feed it the client's two messages in order."""

    verifier: Verifier
    _gs2_header: str = ""
    _client_first_bare: str = ""
    _server_first: str = ""
    _nonce: str = ""
    _server_nonce: str = field(default_factory=lambda: secrets.token_urlsafe(18))

    def server_first(self, client_first: str) -> str:
        """Answer the client-first message (`n,,n=user,r=nonce`)."""
        flag, _, rest = client_first.partition(",")
        authzid, _, bare = rest.partition(",")
        if flag not in ("n", "y") or authzid:
            # 'p' = channel binding, which we do not advertise (no SCRAM-SHA-256-PLUS).
            raise ScramError("channel binding is not supported; use SCRAM-SHA-256")
        attrs = _attributes(bare)
        if "r" not in attrs:
            raise ScramError("client-first message without a nonce")
        self._gs2_header = f"{flag},{authzid},"
        self._client_first_bare = bare
        self._nonce = attrs["r"] + self._server_nonce
        salt = base64.b64encode(self.verifier.salt).decode()
        self._server_first = f"r={self._nonce},s={salt},i={self.verifier.iterations}"
        return self._server_first

    def server_final(self, client_final: str) -> str:
        """Check the client's proof; return the server signature (`v=...`)."""
        without_proof, _, proof_part = client_final.rpartition(",p=")
        attrs = _attributes(without_proof)
        if attrs.get("r") != self._nonce:
            raise ScramError("SCRAM nonce mismatch")
        if base64.b64decode(attrs.get("c", "")) != self._gs2_header.encode():
            raise ScramError("SCRAM channel binding mismatch")
        try:
            proof = base64.b64decode(proof_part, validate=True)
        except ValueError:
            raise ScramError("malformed SCRAM proof") from None
        auth_message = f"{self._client_first_bare},{self._server_first},{without_proof}".encode()
        signature = _hmac(self.verifier.stored_key, auth_message)
        if len(proof) != len(signature):
            raise ScramError("malformed SCRAM proof")
        client_key = bytes(a ^ b for a, b in zip(proof, signature, strict=True))
        if not hmac.compare_digest(hashlib.sha256(client_key).digest(), self.verifier.stored_key):
            raise ScramError("wrong password")
        server_signature = _hmac(self.verifier.server_key, auth_message)
        return "v=" + base64.b64encode(server_signature).decode()
