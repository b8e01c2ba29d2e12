"""Keep the people who log in: users, their participant, their role grants, their passwords.

Users are store documents (kind ``user``, keyed by the user name), so they live in the same
store as the data and need no table of their own. A password is kept only as a scrypt hash
(memory-hard: 32 MiB per guess, RFC 7914) with a per-user random salt and the cost parameters
stored beside it, so raising the cost later does not lock anyone out. scrypt is in the standard
library; argon2 would need a native wheel for one function.

Every change that should end existing sessions (a new password, disabling) bumps the user's
``epoch``; tokens carry the epoch they were issued under and stop working when it moves.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Final

from werk.api.credentials import grants_from_body, grants_to_body, participant_of, top_role
from werk.errors import Conflict, InvalidInput, NotFound
from werk.sharing.participants import Participants
from werk.sharing.principal import PLATFORM, Grant, Principal, Role
from werk.store import Store

KIND: Final = "user"
"""Document kind users are stored under."""

MIN_PASSWORD: Final = 10
"""Shortest password accepted (NIST SP 800-63B asks for at least 8; werk asks a little more)."""

SCRYPT_N: Final = 2**15
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
_MAXMEM: Final = 64 * 1024 * 1024  # 128 * r * n = 32 MiB, plus headroom

_NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,99}")


def validate_name(name: str) -> str:
    """Return ``name`` if it is a valid user name (lower case, a-z 0-9 . _ @ -), else raise.

    Raises:
        InvalidInput: naming the user name.
    """
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise InvalidInput(
            f"user name {name!r} must be 1-100 characters of a-z, 0-9, '.', '_', '@', '-', "
            "starting with a letter or digit",
            key="users.invalid_name",
            field="name",
        )
    return name


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str) -> dict[str, object]:
    """Return the stored form of ``password``: scrypt parameters, salt and hash.

    Raises:
        InvalidInput: the password is shorter than :data:`MIN_PASSWORD`.
    """
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(
            f"a password needs at least {MIN_PASSWORD} characters",
            key="users.weak_password",
            field="password",
        )
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, maxmem=_MAXMEM
    )
    return {
        "alg": "scrypt",
        "n": SCRYPT_N,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
        "salt": _b64(salt),
        "hash": _b64(digest),
    }


def verify_password(password: str, stored: Mapping[str, object] | None) -> bool:
    """Return whether ``password`` matches ``stored`` (a :func:`hash_password` result).

    Without a stored hash a dummy one is checked, so an unknown user costs the same time as a
    wrong password and user names cannot be probed by timing.
    """
    real = stored is not None and stored.get("alg") == "scrypt"
    params = stored if real and stored is not None else _DUMMY
    expected = base64.b64decode(str(params["hash"]))
    n, r, p = (int(str(params[k])) for k in ("n", "r", "p"))
    digest = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(str(params["salt"])),
        n=n,
        r=r,
        p=p,
        maxmem=max(_MAXMEM, 256 * n * r),
        dklen=len(expected),
    )
    return hmac.compare_digest(digest, expected) and real


_DUMMY: Final[dict[str, object]] = {
    "alg": "none",
    "n": SCRYPT_N,
    "r": SCRYPT_R,
    "p": SCRYPT_P,
    "salt": _b64(b"\0" * 16),
    "hash": _b64(b"\0" * 64),
}


@dataclass(frozen=True, slots=True)
class User:
    """A person who logs in.

    Attributes:
        name: Unique user name.
        participant: The participant the user belongs to.
        grants: Roles on asset paths; a user without grants reads nothing by role.
        disabled: A disabled user cannot log in, and its tokens stop working.
        epoch: Bumped when sessions must end (new password, disabled).
        password: The stored password hash (never shown).
        created_at: When the user was created.
        version: Stored document version.
    """

    name: str
    participant: str = PLATFORM
    grants: tuple[Grant, ...] = ()
    disabled: bool = False
    epoch: int = 0
    password: Mapping[str, object] | None = field(default=None, repr=False)
    created_at: datetime | None = None
    version: int = 0

    @property
    def role(self) -> Role:
        """The highest role the user holds anywhere (viewer when it holds none)."""
        return top_role(self.grants) or Role.VIEWER

    def principal(self) -> Principal:
        """Return the principal requests made by this user act as."""
        return Principal(
            name=self.name,
            role=self.role,
            participant=self.participant,
            grants=self.grants,
            kind="user",
        )

    def body(self) -> dict[str, object]:
        """Return the stored document."""
        return {
            "name": self.name,
            "participant": self.participant,
            "grants": grants_to_body(self.grants),
            "disabled": self.disabled,
            "epoch": self.epoch,
            "password": dict(self.password) if self.password is not None else None,
            "created_at": (self.created_at or datetime.now(UTC)).isoformat(),
        }

    @classmethod
    def from_body(cls, body: Mapping[str, object], version: int) -> User:
        """Build a user from its stored document."""
        password = body.get("password")
        created = body.get("created_at")
        return cls(
            name=str(body["name"]),
            participant=participant_of(body),
            grants=grants_from_body(body.get("grants")),
            disabled=bool(body.get("disabled", False)),
            epoch=int(str(body.get("epoch", 0))),
            password=password if isinstance(password, dict) else None,
            created_at=datetime.fromisoformat(created) if isinstance(created, str) else None,
            version=version,
        )


def _dedupe(grants: Iterable[Grant]) -> tuple[Grant, ...]:
    seen: dict[tuple[str, Role], Grant] = {}
    for grant in grants:
        seen.setdefault((grant.path, grant.role), grant)
    return tuple(sorted(seen.values(), key=lambda g: (g.path, g.role.value)))


class Users:
    """The user registry over the store's documents.

    Args:
        store: Where users are kept (documents of kind ``user``).
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(
        self,
        name: str,
        password: str,
        *,
        participant: str = PLATFORM,
        grants: Sequence[Grant] = (),
    ) -> User:
        """Create a user with a password.

        Raises:
            InvalidInput: a bad name or a too short password.
            NotFound: the participant is not registered.
            Conflict: a user of that name exists.
        """
        validate_name(name)
        if not Participants(self.store).exists(participant):
            raise NotFound(
                f"no participant {participant!r}", key="participants.not_found", id=participant
            )
        user = User(
            name=name,
            participant=participant,
            grants=_dedupe(grants),
            password=hash_password(password),
            created_at=datetime.now(UTC),
        )
        try:
            doc = self.store.put_document(KIND, name, user.body(), expected_version=0)
        except Conflict as exc:
            raise Conflict(f"user {name!r} exists already", key="users.exists", user=name) from exc
        return replace(user, version=doc.version)

    def find(self, name: str) -> User | None:
        """Return the user called ``name``, or None."""
        doc = self.store.document(KIND, name)
        return None if doc is None else User.from_body(doc.body, doc.version)

    def get(self, name: str) -> User:
        """Return the user called ``name``.

        Raises:
            NotFound: there is no such user.
        """
        user = self.find(name)
        if user is None:
            raise NotFound(f"no user {name!r}", key="users.not_found", user=name)
        return user

    def list(self, participant: str | None = None) -> list[User]:
        """Return every user (of ``participant``, when given), by name."""
        users = [User.from_body(d.body, d.version) for d in self.store.documents(KIND)]
        return [u for u in users if participant is None or u.participant == participant]

    def _save(self, user: User) -> User:
        # optimistic: two admins editing the same user at once cannot lose one's change
        doc = self.store.put_document(KIND, user.name, user.body(), expected_version=user.version)
        return replace(user, version=doc.version)

    def grant(self, name: str, grant: Grant) -> User:
        """Add a role grant to a user (kept once)."""
        user = self.get(name)
        return self._save(replace(user, grants=_dedupe((*user.grants, grant))))

    def revoke_grant(self, name: str, path: str, role: Role | None = None) -> User:
        """Remove the user's grants on ``path`` (only ``role`` on it, when given).

        Raises:
            NotFound: no such user, or it holds no such grant.
        """
        user = self.get(name)
        kept = tuple(g for g in user.grants if not (g.path == path and role in (None, g.role)))
        if kept == user.grants:
            raise NotFound(
                f"user {name!r} holds no {role or 'role'} on {path or '/'!r}",
                key="users.no_such_grant",
                user=name,
                path=path,
            )
        return self._save(replace(user, grants=kept))

    def set_disabled(self, name: str, disabled: bool = True) -> User:
        """Disable (or enable) a user; disabling ends its sessions."""
        user = self.get(name)
        epoch = user.epoch + 1 if disabled and not user.disabled else user.epoch
        return self._save(replace(user, disabled=disabled, epoch=epoch))

    def set_password(self, name: str, password: str) -> User:
        """Set a new password; every session of the user ends."""
        user = self.get(name)
        return self._save(replace(user, password=hash_password(password), epoch=user.epoch + 1))

    def verify(self, name: str, password: str) -> User | None:
        """Return the user if ``password`` is right, else None (same cost for unknown users)."""
        user = self.find(name) if _NAME.fullmatch(name) else None
        ok = verify_password(password, user.password if user is not None else None)
        return user if ok else None
