"""Name who is calling: a principal, the participant it belongs to, and its roles on asset paths.

Roles are granted on an asset path and inherited down the tree: ``engineer`` on ``acme/wob``
holds on ``acme/wob/body/line-1/press-01`` too. The empty path is the root (everything). A
principal sees a path when one of its grants is that path or an ancestor of it; it sees the
parts of a prefix that lie under one of its grants; anything else does not exist for it.

Every principal belongs to one participant (a tenant: a plant operator, a machine builder, a
supplier, the platform operator). Reads of another participant's data go through an agreement,
decided in :mod:`werk.sharing.door`, never through roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal


class Role(StrEnum):
    """What a principal may do where it is granted."""

    ADMIN = "admin"
    ENGINEER = "engineer"
    VIEWER = "viewer"
    EDGE = "edge"


RANK: Final[dict[Role, int]] = {Role.EDGE: 0, Role.VIEWER: 1, Role.ENGINEER: 2, Role.ADMIN: 3}
"""Reading power of each role: a higher role may do everything a lower one may (edges read
nothing)."""

PLATFORM: Final = "platform"
"""Participant of the platform operator (the admin key and platform admins)."""


def covers(prefix: str, path: str) -> bool:
    """Return whether ``path`` is ``prefix`` or lies below it (the empty prefix covers all)."""
    return not prefix or path == prefix or path.startswith(prefix + "/")


@dataclass(frozen=True, slots=True)
class Grant:
    """A role on an asset path and everything below it."""

    path: str
    role: Role


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling.

    Attributes:
        name: User name or key name.
        role: The highest role of any grant (what the principal may do somewhere).
        participant: The tenant the principal belongs to.
        grants: Roles on paths. A platform key without grants (the admin key, keys made
            before grants existed) holds ``role`` on everything; users and other participants'
            keys hold only what they are granted (a supplier without grants reads nothing by
            role, only under agreements).
        edge: Edge id, for edge keys.
        kind: How it authenticated.
    """

    name: str
    role: Role
    participant: str = PLATFORM
    grants: tuple[Grant, ...] = ()
    edge: str | None = None
    kind: Literal["admin", "key", "user", "edge"] = "key"

    def effective_grants(self) -> tuple[Grant, ...]:
        """Return the grants, or ``role`` on the root for a platform key without any."""
        if self.grants or self.participant != PLATFORM or self.kind == "user":
            return self.grants
        return (Grant("", self.role),)

    def role_on(self, path: str) -> Role | None:
        """Return the highest role held on ``path`` (granted there or on an ancestor)."""
        best: Role | None = None
        for grant in self.effective_grants():
            if covers(grant.path, path) and (best is None or RANK[grant.role] > RANK[best]):
                best = grant.role
        return best

    def may(self, role: Role, path: str) -> bool:
        """Return whether the principal holds ``role`` (or a higher one) on ``path``."""
        held = self.role_on(path)
        return held is not None and RANK[held] >= RANK[role]

    def visible_under(self, prefix: str, role: Role = Role.VIEWER) -> tuple[str, ...]:
        """Return the paths under ``prefix`` this principal may read with ``role``.

        ``(prefix,)`` when a grant covers the whole prefix; the granted sub-paths below it when
        only parts are granted; ``()`` when nothing is.
        """
        usable = [g for g in self.effective_grants() if RANK[g.role] >= RANK[role]]
        if any(covers(g.path, prefix) for g in usable):
            return (prefix,)
        below = sorted({g.path for g in usable if covers(prefix, g.path)})
        # keep only the outermost granted paths
        return tuple(p for p in below if not any(q != p and covers(q, p) for q in below))
