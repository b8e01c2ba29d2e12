"""Create API key credentials: a random secret for the caller, only its hash for the store."""

from __future__ import annotations

import hashlib
import secrets

from werk.store import ApiKey, Store

SECRET_PREFIX = "werk_"


def new_secret() -> str:
    """Return a new API key secret (256 random bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """Return the stored form of a secret.

    A fast hash is right for 256-bit random secrets: the hash reveals nothing guessable, and
    checking a key on every ingest request costs microseconds. Passwords need a slow hash.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(store: Store, *, name: str, role: str, edge: str | None) -> tuple[ApiKey, str]:
    """Create and store a key; return it and its secret (shown once, never stored)."""
    secret = new_secret()
    key = store.create_key(
        name=name, role=role, edge=edge, secret_hash=hash_secret(secret), prefix=secret[:12]
    )
    return key, secret
