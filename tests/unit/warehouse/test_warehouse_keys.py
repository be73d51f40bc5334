"""Key-pair handling for Snowflake, and secrets kept out of reprs and error messages."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from shopstream.config import load_settings
from shopstream.warehouse import Warehouse
from shopstream.warehouse.exceptions import PrivateKeyError, QueryError
from shopstream.warehouse.keys import generate_keypair, load_private_key_der

PASSPHRASE = "correct-horse-battery-staple-42"


def test_generated_pair_has_safe_modes_and_loads(tmp_path: Path) -> None:
    files = generate_keypair(tmp_path / "keys", user="LOADER")
    assert stat.S_IMODE(files.private_key.stat().st_mode) == 0o600
    der = load_private_key_der(path=files.private_key)
    key = serialization.load_der_private_key(der, password=None)
    pub = files.public_key.read_bytes()
    assert (
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == pub
    )
    assert key.key_size == 2048  # type: ignore[attr-defined]
    body = "".join(pub.decode().strip().splitlines()[1:-1])
    assert files.alter_user_sql == f"ALTER USER LOADER SET RSA_PUBLIC_KEY='{body}';"
    assert "-----" not in files.alter_user_sql
    with pytest.raises(PrivateKeyError, match="already exists"):
        generate_keypair(tmp_path / "keys")


def test_encrypted_key_needs_the_right_passphrase(tmp_path: Path) -> None:
    files = generate_keypair(tmp_path, passphrase=PASSPHRASE)
    assert b"ENCRYPTED" in files.private_key.read_bytes()
    assert load_private_key_der(path=files.private_key, passphrase=PASSPHRASE)
    with pytest.raises(PrivateKeyError, match="wrong passphrase") as wrong:
        load_private_key_der(path=files.private_key, passphrase="not-it")
    assert "not-it" not in str(wrong.value)
    with pytest.raises(PrivateKeyError, match="PASSPHRASE"):
        load_private_key_der(path=files.private_key)


def test_key_from_base64_of_the_pem(tmp_path: Path) -> None:
    files = generate_keypair(tmp_path)
    b64 = base64.b64encode(files.private_key.read_bytes()).decode()
    assert load_private_key_der(pem_base64=b64) == load_private_key_der(path=files.private_key)


def test_unusable_keys_have_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(PrivateKeyError, match="does not exist"):
        load_private_key_der(path=tmp_path / "missing.p8")
    junk = tmp_path / "junk.p8"
    junk.write_text("hello, not a key")
    with pytest.raises(PrivateKeyError, match="does not contain a PEM private key"):
        load_private_key_der(path=junk)
    with pytest.raises(PrivateKeyError, match="no Snowflake private key"):
        load_private_key_der()


def test_secrets_are_absent_from_settings_repr(tmp_path: Path) -> None:
    files = generate_keypair(tmp_path, passphrase=PASSPHRASE)
    b64 = base64.b64encode(files.private_key.read_bytes()).decode()
    settings = load_settings(
        warehouse={
            "kind": "snowflake",
            "snowflake": {
                "account": "a",
                "user": "u",
                "private_key_base64": b64,
                "private_key_passphrase": PASSPHRASE,
            },
        }
    )
    for text in (repr(settings), str(settings), repr(settings.warehouse.snowflake)):
        assert PASSPHRASE not in text and b64[:40] not in text


def test_secrets_are_absent_from_warehouse_errors_and_repr(
    fakesnow_patch: None, tmp_path: Path
) -> None:
    from shopstream.warehouse import open_warehouse

    files = generate_keypair(tmp_path, passphrase=PASSPHRASE)
    settings = load_settings(
        warehouse={
            "kind": "snowflake",
            "snowflake": {
                "account": "a",
                "user": "u",
                "private_key_path": str(files.private_key),
                "private_key_passphrase": PASSPHRASE,
            },
        }
    )
    wh: Warehouse = open_warehouse(settings)
    with wh:
        wh.init()
        assert PASSPHRASE not in repr(wh)
        # The engine echoes the unknown column, i.e. the secret, in its message.
        with pytest.raises(QueryError) as info:
            wh.query(f'SELECT "{PASSPHRASE}" FROM kpis')
        assert PASSPHRASE not in str(info.value) and "***" in str(info.value)
