"""The operator's signature on exported records: Ed25519 over canonical JSON or PDF bytes."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "Ed25519"


def canonical_json(document: Any) -> bytes:
    """Serialise a JSON document the one way its signature is computed over."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class RecordSigner:
    """Signs and verifies with the operator's key; publishes the public half."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self.public_key: Ed25519PublicKey = private_key.public_key()
        raw = self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.public_raw_b64 = base64.b64encode(raw).decode()
        self.public_pem = self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        self.key_id = hashlib.sha256(raw).hexdigest()[:16]

    @classmethod
    def from_pem(cls, pem: str) -> RecordSigner:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("signing key: an Ed25519 private key is required")
        return cls(key)

    @classmethod
    def load_or_create(cls, path: Path) -> RecordSigner:
        """Read the key at `path`, generating it (mode 0600) on first start."""
        if path.exists():
            return cls.from_pem(path.read_text())
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return cls(key)

    def sign(self, data: bytes) -> str:
        """Return the base64 signature of `data`."""
        return base64.b64encode(self._private.sign(data)).decode()

    def verify(self, data: bytes, signature_b64: str) -> bool:
        """Return whether `signature_b64` is this key's signature of `data`."""
        try:
            signature = base64.b64decode(signature_b64, validate=True)
            self.public_key.verify(signature, data)
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True
