"""RSA key pairs for Snowflake key-pair authentication: generate, load, register.

Snowflake wants the private key as unencrypted PKCS#8 DER bytes at connect time and the
public key body (base64 of SubjectPublicKeyInfo, no PEM header lines) on the user.

Examples:
    >>> stmt = generate_keypair(Path("keys"), passphrase=None, user="SHOPSTREAM")  # doctest: +SKIP
    >>> der = load_private_key_der(path=Path("keys/rsa_key.p8"))  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shopstream.warehouse.exceptions import PrivateKeyError

PRIVATE_KEY_FILE = "rsa_key.p8"
PUBLIC_KEY_FILE = "rsa_key.pub"
KEY_BITS = 2048


@dataclass(frozen=True)
class KeyPairFiles:
    """Where `generate_keypair` wrote the pair, and the statement that registers it."""

    private_key: Path
    public_key: Path
    alter_user_sql: str


def generate_keypair(
    out_dir: Path, passphrase: str | None = None, user: str = "<user>", *, overwrite: bool = False
) -> KeyPairFiles:
    """Write a 2048-bit RSA pair as PKCS#8 PEM (private 0600) and return the ALTER USER SQL."""
    out_dir.mkdir(parents=True, exist_ok=True)
    priv_path, pub_path = out_dir / PRIVATE_KEY_FILE, out_dir / PUBLIC_KEY_FILE
    if not overwrite and (priv_path.exists() or pub_path.exists()):
        raise PrivateKeyError(
            f"{priv_path} or {pub_path} already exists; choose another --out directory "
            "or delete the old pair if it is no longer registered."
        )
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    priv_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    pub_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # Create with 0600 from the start so the key is never readable by others, not even briefly.
    if priv_path.exists():
        priv_path.unlink()
    fd = os.open(priv_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(priv_pem)
    os.chmod(priv_path, 0o600)  # umask cannot widen it, but an odd umask could narrow the intent
    pub_path.write_bytes(pub_pem)
    return KeyPairFiles(priv_path, pub_path, alter_user_sql(user, pub_pem))


def public_key_body(pub_pem: bytes) -> str:
    """The base64 body of a public key PEM, without header/footer lines or newlines."""
    lines = pub_pem.decode("ascii").strip().splitlines()
    return "".join(line for line in lines if not line.startswith("-----"))


def alter_user_sql(user: str, pub_pem: bytes) -> str:
    """`ALTER USER ... SET RSA_PUBLIC_KEY='...';` for a public key PEM."""
    return f"ALTER USER {user} SET RSA_PUBLIC_KEY='{public_key_body(pub_pem)}';"


def load_private_key_der(
    *, path: Path | None = None, pem_base64: str | None = None, passphrase: str | None = None
) -> bytes:
    """Read a PEM private key (file or base64 of the PEM) and return unencrypted PKCS#8 DER."""
    if path is not None:
        source = str(path)
        try:
            pem = Path(path).expanduser().read_bytes()
        except FileNotFoundError:
            raise PrivateKeyError(
                f"private key file {source} does not exist; set "
                "SHOPSTREAM_WAREHOUSE__SNOWFLAKE__PRIVATE_KEY_PATH to the .p8 file "
                "(create one with `shopstream snowflake keygen --out DIR`)."
            ) from None
        except OSError as err:
            raise PrivateKeyError(
                f"cannot read private key file {source}: {err.strerror}."
            ) from None
    elif pem_base64 is not None:
        source = "private_key_base64"
        try:
            pem = base64.b64decode(pem_base64.strip(), validate=False)
        except (binascii.Error, ValueError):
            raise PrivateKeyError(
                "private_key_base64 is not valid base64; it must be the base64 of the whole "
                "PEM file, e.g. `base64 -w0 rsa_key.p8`."
            ) from None
    else:
        raise PrivateKeyError(
            "no Snowflake private key configured: set "
            "SHOPSTREAM_WAREHOUSE__SNOWFLAKE__PRIVATE_KEY_PATH or "
            "SHOPSTREAM_WAREHOUSE__SNOWFLAKE__PRIVATE_KEY_BASE64 (key-pair auth is the only "
            "supported method)."
        )
    return _pem_to_der(pem, passphrase, source)


def _pem_to_der(pem: bytes, passphrase: str | None, source: str) -> bytes:
    """Decrypt/parse PEM and re-serialize as unencrypted PKCS#8 DER, with readable errors."""
    if b"-----BEGIN" not in pem or b"PRIVATE KEY-----" not in pem:
        raise PrivateKeyError(
            f"{source} does not contain a PEM private key (expected a "
            "'-----BEGIN ... PRIVATE KEY-----' block)."
        )
    encrypted = b"ENCRYPTED" in pem
    if encrypted and not passphrase:
        raise PrivateKeyError(
            f"the private key in {source} is encrypted; set "
            "SHOPSTREAM_WAREHOUSE__SNOWFLAKE__PRIVATE_KEY_PASSPHRASE."
        )
    pw = passphrase.encode() if (passphrase and encrypted) else None
    try:
        key = serialization.load_pem_private_key(pem, password=pw)
    except ValueError:
        # cryptography says "Bad decrypt" or "Could not deserialize"; never echo the key.
        if encrypted:
            raise PrivateKeyError(
                f"cannot decrypt the private key in {source}: wrong passphrase."
            ) from None
        raise PrivateKeyError(f"{source} holds a malformed private key.") from None
    except TypeError:
        raise PrivateKeyError(f"cannot load the private key in {source}.") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise PrivateKeyError(f"the private key in {source} is not RSA; Snowflake needs RSA.")
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
