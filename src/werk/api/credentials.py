"""Create API key credentials: a random secret for the caller, only its hash for the store.

A key may belong to a participant and carry role grants on asset paths; both are kept beside the
key row as a document (kind ``key-grants``, keyed by the key name), written before the secret is
handed out, so no request can arrive with a key whose grants are not stored yet. A key without
such a document is a platform key holding its role on everything (keys made before grants).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from werk.assets.paths import validate_path
from werk.errors import InvalidInput, PathError
from werk.sharing.participants import Participants
from werk.sharing.principal import PLATFORM, RANK, Grant, Role
from werk.store import ApiKey, Store

SECRET_PREFIX = "werk_"
KEY_GRANTS: Final = "key-grants"
"""Document kind holding a key's participant and grants."""


def new_secret() -> str:
    """Return a new API key secret (256 random bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """Return the stored form of a secret.

    A fast hash is right for 256-bit random secrets: the hash reveals nothing guessable, and
    checking a key on every ingest request costs microseconds. Passwords need a slow hash.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_grant(text: str, *, field: str = "grant") -> Grant:
    """Parse ``PATH=ROLE`` (``acme/wob=viewer``; ``=admin`` is the root) into a grant.

    Raises:
        InvalidInput: no ``=``, an invalid path or an unknown role; names ``field``.
    """
    path, sep, role = text.rpartition("=")
    if not sep:
        raise InvalidInput(
            f"grant {text!r} must be PATH=ROLE, e.g. acme/wob=viewer",
            key="grants.invalid",
            field=field,
        )
    return make_grant(path.strip(), role.strip(), field=field)


def make_grant(path: str, role: str, *, field: str = "grant") -> Grant:
    """Return a validated grant of ``role`` on ``path`` ("" is the root).

    Raises:
        InvalidInput: an invalid path or an unknown role; names ``field``.
    """
    if path:
        try:
            validate_path(path)
        except PathError as exc:
            raise InvalidInput(exc.message, key="grants.invalid_path", field=field) from exc
    try:
        the_role = Role(role)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise InvalidInput(
            f"unknown role {role!r}; one of {known}", key="grants.invalid_role", field=field
        ) from None
    return Grant(path, the_role)


def grants_to_body(grants: Iterable[Grant]) -> list[dict[str, str]]:
    """Return grants as JSON rows ``{"path", "role"}``."""
    return [{"path": g.path, "role": g.role.value} for g in grants]


def grants_from_body(rows: object) -> tuple[Grant, ...]:
    """Return the grants of stored JSON rows (see :func:`grants_to_body`)."""
    if not isinstance(rows, list):
        return ()
    return tuple(
        Grant(str(row["path"]), Role(str(row["role"]))) for row in rows if isinstance(row, dict)
    )


def top_role(grants: Sequence[Grant]) -> Role | None:
    """Return the highest role among ``grants`` (None for none)."""
    return max((g.role for g in grants), key=RANK.__getitem__, default=None)


def create_key(
    store: Store,
    *,
    name: str,
    role: str,
    edge: str | None,
    participant: str | None = None,
    grants: Sequence[Grant] = (),
) -> tuple[ApiKey, str]:
    """Create and store a key; return it and its secret (shown once, never stored).

    Args:
        store: Where the key (by hash) and its grants are kept.
        name: Unique key name.
        role: The key's role; no grant may exceed it.
        edge: Edge id, for edge keys.
        participant: The participant the key belongs to (default: the platform operator).
        grants: Roles on paths; none means ``role`` on everything for a platform key and
            ``role`` on what the participant owns for another participant's key.

    Raises:
        InvalidInput: a grant above the key's role, or an edge key with grants.
        NotFound: the participant is not registered.
        Conflict: a key of that name exists.
    """
    the_role = Role(role)
    if participant and participant != PLATFORM:
        owner = Participants(store).get(participant)
        if not grants and the_role != Role.EDGE:
            # a participant's key sees what the participant owns unless told otherwise
            grants = [Grant(prefix, the_role) for prefix in owner.owns]
    for grant in grants:
        if RANK[grant.role] > RANK[the_role] or (grant.role == Role.EDGE) != (
            the_role == Role.EDGE
        ):
            raise InvalidInput(
                f"grant {grant.path or '/'}={grant.role} does not fit the key's role {the_role}",
                key="grants.above_role",
                field="grant",
            )
    secret = new_secret()
    key = store.create_key(
        name=name, role=role, edge=edge, secret_hash=hash_secret(secret), prefix=secret[:12]
    )
    if grants or (participant and participant != PLATFORM):
        store.put_document(
            KEY_GRANTS,
            name,
            {"participant": participant or PLATFORM, "grants": grants_to_body(grants)},
            keep_history=False,
        )
    return key, secret


def key_grants(store: Store, name: str) -> tuple[str, tuple[Grant, ...]]:
    """Return the participant and grants of key ``name`` (the platform and none by default)."""
    doc = store.document(KEY_GRANTS, name)
    if doc is None:
        return PLATFORM, ()
    return participant_of(doc.body), grants_from_body(doc.body.get("grants"))


def participant_of(body: Mapping[str, object]) -> str:
    """Return the participant named in a stored key or user document."""
    value = body.get("participant")
    return str(value) if value else PLATFORM
