"""Every legal and every illegal contract negotiation transition (DSP 2025-1)."""

from __future__ import annotations

import itertools

import pytest

from werk.sharing.negotiation import (
    SENDER,
    TERMINAL,
    TRANSITIONS,
    IllegalTransition,
    Message,
    Party,
    State,
    message_of,
    transition,
)

LEGAL: list[tuple[State | None, Message, Party, State]] = [
    (None, Message.REQUEST, "consumer", State.REQUESTED),
    (None, Message.OFFER, "provider", State.OFFERED),
    (State.REQUESTED, Message.OFFER, "provider", State.OFFERED),
    (State.REQUESTED, Message.AGREEMENT, "provider", State.AGREED),
    (State.OFFERED, Message.REQUEST, "consumer", State.REQUESTED),
    (State.OFFERED, Message.ACCEPTED, "consumer", State.ACCEPTED),
    (State.ACCEPTED, Message.AGREEMENT, "provider", State.AGREED),
    (State.AGREED, Message.VERIFICATION, "consumer", State.VERIFIED),
    (State.VERIFIED, Message.FINALIZED, "provider", State.FINALIZED),
    *[
        (s, Message.TERMINATION, party, State.TERMINATED)
        for s in (State.REQUESTED, State.OFFERED, State.ACCEPTED, State.AGREED, State.VERIFIED)
        for party in ("consumer", "provider")
    ],
]


@pytest.mark.parametrize(("state", "message", "sender", "after"), LEGAL)
def test_legal_transitions(
    state: State | None, message: Message, sender: Party, after: State
) -> None:
    assert transition(state, message, sender) == after


def _illegal() -> list[tuple[State | None, Message, Party]]:
    legal = {(s, m, p) for s, m, p, _ in LEGAL}
    states: list[State | None] = [None, *State]
    parties: list[Party] = ["consumer", "provider"]
    return [
        (s, m, p)
        for s, m, p in itertools.product(states, Message, parties)
        if (s, m, p) not in legal
    ]


@pytest.mark.parametrize(("state", "message", "sender"), _illegal())
def test_every_other_transition_is_illegal(
    state: State | None, message: Message, sender: Party
) -> None:
    with pytest.raises(IllegalTransition) as caught:
        transition(state, message, sender)
    assert caught.value.status == 400
    assert caught.value.key == "dsp.illegal_transition"


def test_the_table_is_what_the_tests_cover() -> None:
    assert len(_illegal()) + len(LEGAL) == 8 * len(Message) * 2
    assert {(s, m) for s, m, _, _ in LEGAL} == set(TRANSITIONS)
    for state in TERMINAL:
        assert not any(s == state for s, _ in TRANSITIONS)
    assert SENDER[Message.ACCEPTED] == frozenset({"consumer"})
    assert SENDER[Message.FINALIZED] == frozenset({"provider"})


def test_message_names_accept_both_spellings() -> None:
    assert message_of("dspace:ContractRequestMessage") == Message.REQUEST
    assert message_of("ContractNegotiationEventMessage", "ACCEPTED") == Message.ACCEPTED
    assert message_of("ContractNegotiationEventMessage", "dspace:FINALIZED") == Message.FINALIZED
    with pytest.raises(Exception, match="not a contract negotiation message"):
        message_of("ContractNegotiationEventMessage", "STARTED")
