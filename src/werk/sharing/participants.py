"""Hold the participants of a werk platform: the tenants that own data and read each other's.

A participant is a plant operator, a machine builder, a supplier or the platform operator. Every
principal (user or API key) belongs to exactly one. A participant *owns* asset path prefixes:
data generated under them — samples, events, and the KPIs computed from them — belongs to it
(issue 7: "data generated in a plant belongs to its operator; KPIs computed from it too"). When
two participants own nested prefixes, the most specific one wins: a machine builder that owns
``acme/wob/body/line-1/press-07`` owns that press's data even inside the operator's site.

The model and :func:`owner_of` are pure; :class:`Participants` is a thin registry over the
store's versioned documents (kind ``participant``, keyed by the participant id).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Final

from werk.assets.paths import segment_problem, validate_path
from werk.errors import Conflict, InvalidInput, NotFound, PathError
from werk.sharing.principal import PLATFORM, covers
from werk.store import Store

KIND: Final = "participant"
"""Document kind participants are stored under."""


class ParticipantKind(StrEnum):
    """The roles a tenant plays in the data space."""

    PLANT_OPERATOR = "plant_operator"
    MACHINE_BUILDER = "machine_builder"
    SUPPLIER = "supplier"
    PLATFORM_OPERATOR = "platform_operator"


def validate_id(participant_id: str) -> str:
    """Return ``participant_id`` if it is a slug (a-z, 0-9, '-'), else raise.

    Raises:
        InvalidInput: naming the id and what is wrong with it.
    """
    problem = segment_problem(participant_id) if isinstance(participant_id, str) else "not text"
    if problem is not None:
        raise InvalidInput(
            f"participant id {participant_id!r} {problem}",
            key="participants.invalid_id",
            field="id",
        )
    return participant_id


def _validate_owns(owns: Iterable[str]) -> tuple[str, ...]:
    checked: list[str] = []
    for index, prefix in enumerate(owns):
        try:
            validate_path(prefix)
        except PathError as exc:
            raise InvalidInput(
                exc.message, key="participants.invalid_owns", field=f"owns[{index}]"
            ) from exc
        checked.append(prefix)
    # one entry per prefix, in a stable order (the document's hash stays the same)
    return tuple(sorted(set(checked)))


@dataclass(frozen=True, slots=True)
class Participant:
    """A tenant of the platform.

    Attributes:
        id: Slug naming the participant (``acme``, ``kuka-service``).
        name: Name shown to people.
        kind: What kind of tenant it is.
        owns: Asset path prefixes whose data belongs to it.
        version: Stored version (0 for one not stored yet).
    """

    id: str
    name: str
    kind: ParticipantKind
    owns: tuple[str, ...] = ()
    version: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        validate_id(self.id)
        if not self.name.strip():
            raise InvalidInput(
                f"participant {self.id!r} needs a name", key="participants.invalid", field="name"
            )
        try:
            object.__setattr__(self, "kind", ParticipantKind(self.kind))
        except ValueError:
            known = ", ".join(k.value for k in ParticipantKind)
            raise InvalidInput(
                f"participant {self.id!r}: kind {self.kind!r} is not one of {known}",
                key="participants.invalid_kind",
                field="kind",
            ) from None
        object.__setattr__(self, "owns", _validate_owns(self.owns))

    def body(self) -> dict[str, object]:
        """Return the JSON document stored for this participant."""
        return {"id": self.id, "name": self.name, "kind": self.kind.value, "owns": list(self.owns)}

    @classmethod
    def from_body(cls, body: Mapping[str, object], version: int = 0) -> Participant:
        """Build a participant from its stored document."""
        owns = body.get("owns") or []
        assert isinstance(owns, list)
        return cls(
            id=str(body["id"]),
            name=str(body["name"]),
            kind=ParticipantKind(str(body["kind"])),
            owns=tuple(str(p) for p in owns),
            version=version,
        )

    def owns_path(self, path: str) -> bool:
        """Return whether one of the owned prefixes covers ``path``."""
        return any(covers(prefix, path) for prefix in self.owns)


PLATFORM_PARTICIPANT: Final = Participant(
    id=PLATFORM, name="Platform operator", kind=ParticipantKind.PLATFORM_OPERATOR
)
"""The platform operator: always there (the admin key and keys without a participant belong to
it), even before any participant was registered."""


def owner_of(participants: Iterable[Participant], path: str) -> str | None:
    """Return the id of the participant owning ``path``: the most specific owned prefix wins.

    Two participants owning the very same prefix is refused by :class:`Participants`; if it
    happens anyway (documents written by hand), the smaller id wins so the answer is stable.
    """
    best: tuple[int, str] | None = None
    for participant in participants:
        for prefix in participant.owns:
            if covers(prefix, path):
                depth = prefix.count("/") + 1
                if (
                    best is None
                    or depth > best[0]
                    or (depth == best[0] and participant.id < best[1])
                ):
                    best = (depth, participant.id)
    return None if best is None else best[1]


class Participants:
    """The participant registry over the store's documents.

    Args:
        store: Where participants are kept (documents of kind ``participant``).
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def create(self, participant: Participant) -> Participant:
        """Register a new participant.

        Raises:
            Conflict: a participant with that id exists, or one of its prefixes is owned already.
        """
        if participant.id == PLATFORM:
            raise Conflict(
                f"participant {PLATFORM!r} is built in", key="participants.exists", id=PLATFORM
            )
        self._refuse_shared_prefixes(participant)
        try:
            doc = self.store.put_document(
                KIND, participant.id, participant.body(), expected_version=0
            )
        except Conflict as exc:
            raise Conflict(
                f"participant {participant.id!r} exists already",
                key="participants.exists",
                id=participant.id,
            ) from exc
        return replace(participant, version=doc.version)

    def get(self, participant_id: str) -> Participant:
        """Return a participant by id (the platform operator is always there).

        Raises:
            NotFound: no participant has that id.
        """
        doc = self.store.document(KIND, participant_id)
        if doc is None:
            if participant_id == PLATFORM:
                return PLATFORM_PARTICIPANT
            raise NotFound(
                f"no participant {participant_id!r}",
                key="participants.not_found",
                id=participant_id,
            )
        return Participant.from_body(doc.body, doc.version)

    def exists(self, participant_id: str) -> bool:
        """Return whether ``participant_id`` names a participant."""
        return participant_id == PLATFORM or self.store.document(KIND, participant_id) is not None

    def list(self) -> list[Participant]:
        """Return every participant, the platform operator first, then by id."""
        stored = [Participant.from_body(d.body, d.version) for d in self.store.documents(KIND)]
        if not any(p.id == PLATFORM for p in stored):
            stored.insert(0, PLATFORM_PARTICIPANT)
        return stored

    def update(
        self,
        participant_id: str,
        *,
        name: str | None = None,
        kind: ParticipantKind | None = None,
        owns: Sequence[str] | None = None,
        expected_version: int | None = None,
    ) -> Participant:
        """Change a participant's name, kind or owned prefixes (read-modify-write, optimistic).

        Raises:
            NotFound: no participant has that id.
            Conflict: it changed since ``expected_version``, or a prefix is owned by another.
        """
        current = self.get(participant_id)
        changed = Participant(
            id=current.id,
            name=name if name is not None else current.name,
            kind=kind if kind is not None else current.kind,
            owns=tuple(owns) if owns is not None else current.owns,
        )
        self._refuse_shared_prefixes(changed)
        version = expected_version if expected_version is not None else current.version
        doc = self.store.put_document(KIND, changed.id, changed.body(), expected_version=version)
        return replace(changed, version=doc.version)

    def owner_of(self, path: str) -> str | None:
        """Return the id of the participant owning ``path`` (most specific prefix), or None."""
        return owner_of(self.list(), path)

    def _refuse_shared_prefixes(self, participant: Participant) -> None:
        # nested prefixes are fine (a builder's press inside an operator's site); the very same
        # prefix owned twice would make ownership a coin toss
        for other in self.list():
            if other.id == participant.id:
                continue
            shared = set(other.owns) & set(participant.owns)
            if shared:
                prefix = sorted(shared)[0]
                raise Conflict(
                    f"{prefix!r} is owned by participant {other.id!r} already",
                    key="participants.owned",
                    path=prefix,
                    owner=other.id,
                )
