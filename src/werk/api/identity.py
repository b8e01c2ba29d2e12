"""Turn a request's credential into a principal: the admin key, an API key, or a login token.

Three credentials, one answer (a :class:`~werk.sharing.principal.Principal`):

* the **admin key** from the settings: the platform operator, admin on everything;
* an **API key** (``werk_...``): its role, participant and grants (see
  :mod:`werk.api.credentials`); a revoked key fails from the next request on;
* a **login token** (``wt1.<claims>.<signature>``), sent as a bearer token or in the dashboard's
  httpOnly cookie: short-lived, HMAC-SHA256 signed with the server's token secret, and checked
  against the user on every request — a disabled user, a changed password or a logout ends it at
  once, and the user's grants are read fresh, so a revoked grant holds from the next request.

Failed logins are counted per user and per client address in time buckets on the store's exact
counters, so the limit holds across API processes sharing a PostgreSQL store.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar, Final

from werk.api.credentials import hash_secret, key_grants, top_role
from werk.api.users import User, Users
from werk.errors import AuthError
from werk.settings import Settings
from werk.sharing.principal import Grant, Principal, Role
from werk.store import Store

TOKEN_PREFIX: Final = "wt1."
COOKIE: Final = "werk_session"
REVOKED: Final = "token-revoked"
"""Document kind of tokens ended by logout before they expired (keyed by token id)."""

log = logging.getLogger("werk.api.identity")


class TooManyAttempts(AuthError):
    """Too many failed logins for a user or from an address; try again after ``retry_after``."""

    default_key = "auth.too_many_attempts"
    status: ClassVar[int] = 429


def token_secret(settings: Settings) -> bytes:
    """Return the key that signs tokens: from the settings, or kept in the data directory.

    A secret made here is 256 random bits written with mode 0600; every process using the same
    data directory shares it.
    """
    if settings.token_secret is not None:
        return settings.token_secret.get_secret_value().encode()
    path = Path(settings.data_dir) / "token-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32))
        log.info("made a token secret in %s", path)
    return path.read_text().strip().encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Claims:
    """What a token says: who, under which user epoch, which token, until when."""

    user: str
    epoch: int
    id: str
    expires: datetime


class Tokens:
    """Issue and check short-lived login tokens.

    Args:
        secret: HMAC key.
        ttl: How long a token lives.
    """

    def __init__(self, secret: bytes, ttl: timedelta) -> None:
        self._secret = secret
        self.ttl = ttl

    def _sign(self, claims: str) -> str:
        mac = hmac.new(self._secret, (TOKEN_PREFIX + claims).encode(), hashlib.sha256)
        return _b64(mac.digest())

    def issue(self, user: User, now: datetime) -> tuple[str, Claims]:
        """Return a token for ``user`` and its claims."""
        claims = Claims(user.name, user.epoch, secrets.token_urlsafe(12), now + self.ttl)
        body = _b64(
            json.dumps(
                {
                    "sub": claims.user,
                    "ep": claims.epoch,
                    "jti": claims.id,
                    "exp": int(claims.expires.timestamp()),
                },
                separators=(",", ":"),
            ).encode()
        )
        return f"{TOKEN_PREFIX}{body}.{self._sign(body)}", claims

    def read(self, token: str, now: datetime) -> Claims:
        """Return the claims of a genuine, unexpired token.

        Raises:
            AuthError: ``auth.invalid_token`` (malformed or tampered), ``auth.expired_token``.
        """
        body, _, signature = token.removeprefix(TOKEN_PREFIX).partition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            raise AuthError("token is not genuine", key="auth.invalid_token", field="Authorization")
        try:
            data = json.loads(_unb64(body))
            claims = Claims(
                str(data["sub"]),
                int(data["ep"]),
                str(data["jti"]),
                datetime.fromtimestamp(int(data["exp"]), UTC),
            )
        except (ValueError, KeyError, TypeError) as exc:  # signed by us, so only on a key change
            raise AuthError(
                "token is malformed", key="auth.invalid_token", field="Authorization"
            ) from exc
        if claims.expires <= now:
            raise AuthError(
                f"token expired at {claims.expires.isoformat()}; log in again",
                key="auth.expired_token",
                field="Authorization",
            )
        return claims


class LoginThrottle:
    """Count failed logins per user and per client address in fixed time windows.

    Args:
        store: Holds the counters (exact, shared by every API process on the store).
        attempts: Failures allowed per user per window (four times as many per address: many
            people may sit behind one plant's NAT).
        window: Window length.
    """

    def __init__(self, store: Store, attempts: int, window: timedelta) -> None:
        self.store = store
        self.attempts = attempts
        self.window_s = max(1, int(window.total_seconds()))

    def _names(self, user: str, address: str, now: datetime) -> tuple[tuple[str, int], ...]:
        bucket = int(now.timestamp()) // self.window_s
        return (
            (f"login-fail:user:{user}:{bucket}", self.attempts),
            (f"login-fail:addr:{address}:{bucket}", self.attempts * 4),
        )

    def check(self, user: str, address: str, now: datetime) -> None:
        """Refuse a login attempt when the user or the address used up its failures.

        Raises:
            TooManyAttempts: with ``retry_after`` seconds (to the end of the window).
        """
        for name, limit in self._names(user, address, now):
            if self.store.counter(name) >= limit:
                retry = self.window_s - int(now.timestamp()) % self.window_s
                raise TooManyAttempts(
                    f"too many failed logins; try again in {retry} s",
                    retry_after=retry,
                    user=user,
                )

    def failed(self, user: str, address: str, now: datetime) -> None:
        """Count one failed login."""
        for name, _ in self._names(user, address, now):
            self.store.increment(name)


class Identity:
    """Resolve credentials to principals and log users in and out.

    Args:
        store: Keys, users and counters.
        settings: Admin key, token secret and lifetime, login limits.
    """

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.users = Users(store)
        admin = settings.admin_key
        self._admin = admin.get_secret_value().encode() if admin is not None else None
        self._tokens: Tokens | None = None
        self.throttle = LoginThrottle(
            store, settings.login_attempts, timedelta(seconds=settings.login_window_s)
        )
        # a key's grants are written before its secret is shown and never change, so they are
        # read once per key id; the key row itself (revocation) is read on every request
        self._key_grants: dict[int, tuple[str, tuple[Grant, ...]]] = {}

    @property
    def tokens(self) -> Tokens:
        """The token issuer (its secret is read or made on first use)."""
        if self._tokens is None:
            self._tokens = Tokens(
                token_secret(self.settings), timedelta(seconds=self.settings.token_ttl_s)
            )
        return self._tokens

    def principal(
        self, authorization: str | None, cookie: str | None, now: datetime | None = None
    ) -> Principal:
        """Return the principal of a bearer credential, or else of the session cookie.

        Raises:
            AuthError: no credential, an unknown, revoked, expired or tampered one.
        """
        if authorization:
            if not authorization.lower().startswith("bearer "):
                raise AuthError(
                    "send a key or token as 'Authorization: Bearer <secret>'",
                    field="Authorization",
                )
            secret = authorization[7:].strip()
        elif cookie:
            secret = cookie
        else:
            raise AuthError(
                "log in, or send an API key as 'Authorization: Bearer <key>'",
                field="Authorization",
            )
        if secret.startswith(TOKEN_PREFIX):
            return self.user_of(secret, now or datetime.now(UTC)).principal()
        return self._key_principal(secret)

    def admin(self, authorization: str | None) -> Principal | None:
        """Return the platform administrator when ``authorization`` bears the admin key.

        Decided without the store, so the API need not hand the admin's requests to a thread.
        """
        if self._admin is None or not authorization or authorization[:7].lower() != "bearer ":
            return None
        if not hmac.compare_digest(authorization[7:].strip().encode(), self._admin):
            return None
        return Principal(name="admin", role=Role.ADMIN, kind="admin")

    def _key_principal(self, secret: str) -> Principal:
        if self._admin is not None and hmac.compare_digest(secret.encode(), self._admin):
            return Principal(name="admin", role=Role.ADMIN, kind="admin")
        key = self.store.key_by_hash(hash_secret(secret))
        if key is None:
            raise AuthError("API key is not known", key="auth.unknown_key", field="Authorization")
        if key.revoked_at is not None:
            raise AuthError(
                f"API key {key.name!r} was revoked at {key.revoked_at.isoformat()}",
                key="auth.revoked_key",
                field="Authorization",
            )
        found = self._key_grants.get(key.id)
        if found is None:
            found = self._key_grants[key.id] = key_grants(self.store, key.name)
        participant, grants = found
        role = Role(key.role)
        if role != Role.EDGE:
            role = top_role(grants) or role
        return Principal(
            name=key.name,
            role=role,
            participant=participant,
            grants=grants,
            edge=key.edge,
            kind="edge" if role == Role.EDGE else "key",
        )

    def user_of(self, token: str, now: datetime) -> User:
        """Return the user a token stands for, if it is still good.

        Raises:
            AuthError: tampered, expired, logged out, the user gone, disabled or re-keyed.
        """
        claims = self.tokens.read(token, now)
        user = self.users.find(claims.user)
        if user is None or user.disabled:
            raise AuthError(
                f"user {claims.user!r} may not log in", key="auth.disabled_user", user=claims.user
            )
        if user.epoch != claims.epoch or self.store.document(REVOKED, claims.id) is not None:
            raise AuthError(
                "this session has ended; log in again", key="auth.expired_token", user=user.name
            )
        return user

    def login(
        self, name: str, password: str, address: str, now: datetime | None = None
    ) -> tuple[str, Claims, User]:
        """Check a user's password and return a new token, its claims and the user.

        Raises:
            TooManyAttempts: the user or the address failed too often lately.
            AuthError: wrong user or password (one answer for both), or a disabled user.
        """
        now = now or datetime.now(UTC)
        self.throttle.check(name, address, now)
        user = self.users.verify(name, password)
        if user is None:
            self.throttle.failed(name, address, now)
            raise AuthError(
                "user or password is wrong", key="auth.invalid_credentials", field="password"
            )
        if user.disabled:
            raise AuthError(f"user {name!r} is disabled", key="auth.disabled_user", user=name)
        token, claims = self.tokens.issue(user, now)
        return token, claims, user

    def logout(self, token: str, now: datetime | None = None) -> None:
        """End a token before it expires (and forget ended tokens that expired meanwhile)."""
        now = now or datetime.now(UTC)
        claims = self.tokens.read(token, now)
        self.store.put_document(
            REVOKED, claims.id, {"expires": claims.expires.isoformat()}, keep_history=False
        )
        for doc in self.store.documents(REVOKED):
            expires = doc.body.get("expires")
            if isinstance(expires, str) and datetime.fromisoformat(expires) <= now:
                self.store.delete_document(REVOKED, doc.key)
