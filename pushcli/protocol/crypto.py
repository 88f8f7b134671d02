"""Encrypted channels: shared secret and NaCl secretbox (pynacl imported on first use)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from pushcli.errors import ConfigError

MASTER_KEY_BYTES = 32


def decode_master_key(b64: str) -> bytes:
    try:
        key = base64.b64decode(b64.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("encryption master key is not valid base64") from None
    if len(key) != MASTER_KEY_BYTES:
        raise ConfigError(f"encryption master key must be {MASTER_KEY_BYTES} bytes, got {len(key)}")
    return key


def shared_secret(channel: str, master_key: bytes) -> bytes:
    """SHA256(channel name bytes + master key): the per-channel secretbox key."""
    return hashlib.sha256(channel.encode() + master_key).digest()


def shared_secret_b64(channel: str, master_key: bytes) -> str:
    return base64.b64encode(shared_secret(channel, master_key)).decode()


def encrypt(channel: str, data: str, master_key: bytes, nonce: bytes | None = None) -> str:
    """Wire data for an encrypted channel: ``{"nonce", "ciphertext"}`` as a JSON string."""
    import nacl.secret
    import nacl.utils

    box = nacl.secret.SecretBox(shared_secret(channel, master_key))
    nonce = nonce or nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
    sealed = box.encrypt(data.encode(), nonce)
    return json.dumps(
        {
            "nonce": base64.b64encode(nonce).decode(),
            "ciphertext": base64.b64encode(sealed.ciphertext).decode(),
        },
        separators=(",", ":"),
    )


class DecryptError(Exception):
    pass


def decrypt(channel: str, wire: str | dict[str, Any], master_key: bytes) -> str:
    """Decrypt an encrypted-channel payload; raise DecryptError when it cannot be."""
    return open_box(wire, shared_secret(channel, master_key), key_name="master key")


def open_box(wire: str | dict[str, Any], key: bytes, *, key_name: str = "shared secret") -> str:
    """Decrypt ``{"nonce", "ciphertext"}`` with a channel's shared secret (derived from the
    master key, or given by an auth endpoint); raise DecryptError when it cannot be."""
    import nacl.exceptions
    import nacl.secret

    try:
        payload = json.loads(wire) if isinstance(wire, str) else wire
        nonce = base64.b64decode(payload["nonce"])
        ciphertext = base64.b64decode(payload["ciphertext"])
    except (ValueError, KeyError, TypeError) as e:
        raise DecryptError(f"not an encrypted payload ({e.__class__.__name__})") from None
    try:
        return nacl.secret.SecretBox(key).decrypt(ciphertext, nonce).decode()
    except (nacl.exceptions.CryptoError, ValueError, UnicodeDecodeError):
        raise DecryptError(f"cannot decrypt: wrong {key_name} or corrupted payload") from None


def require_master_key(b64: str | None, channel: str) -> bytes:
    if not b64:
        raise ConfigError(
            f"{channel} is an encrypted channel but no encryption master key is configured",
            hint="set PUSHER_ENCRYPTION_MASTER_KEY_BASE64 or encryption_master_key in the profile",
        )
    return decode_master_key(b64)
