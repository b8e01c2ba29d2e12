"""Run the Dataspace Protocol contract negotiation state machine (pure).

States and messages are those of DSP 2025-1 (``contract.negotiation.protocol.md``); both parties
hold the same state. The transitions (consumer = C, provider = P)::

    (none)      --ContractRequestMessage[C]-->                REQUESTED
    (none)      --ContractOfferMessage[P]-->                  OFFERED
    REQUESTED   --ContractOfferMessage[P]-->                  OFFERED    (counter-offer)
    REQUESTED   --ContractAgreementMessage[P]-->              AGREED
    OFFERED     --ContractRequestMessage[C]-->                REQUESTED  (counter-request)
    OFFERED     --ContractNegotiationEventMessage:ACCEPTED[C]--> ACCEPTED
    ACCEPTED    --ContractAgreementMessage[P]-->              AGREED
    AGREED      --ContractAgreementVerificationMessage[C]-->  VERIFIED
    VERIFIED    --ContractNegotiationEventMessage:FINALIZED[P]--> FINALIZED
    non-terminal --ContractNegotiationTerminationMessage[C|P]--> TERMINATED

FINALIZED and TERMINATED are terminal (EDC once let FINALIZED → TERMINATED; Connector PR #4544
fixed it). Anything else is an :class:`IllegalTransition` — the HTTPS binding answers 400.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Literal

from werk.errors import InvalidInput

Party = Literal["consumer", "provider"]


class State(StrEnum):
    """Contract negotiation states."""

    REQUESTED = "REQUESTED"
    OFFERED = "OFFERED"
    ACCEPTED = "ACCEPTED"
    AGREED = "AGREED"
    VERIFIED = "VERIFIED"
    FINALIZED = "FINALIZED"
    TERMINATED = "TERMINATED"


class Message(StrEnum):
    """Contract negotiation messages (an event message is named by its event type)."""

    REQUEST = "ContractRequestMessage"
    OFFER = "ContractOfferMessage"
    ACCEPTED = "ContractNegotiationEventMessage:ACCEPTED"
    AGREEMENT = "ContractAgreementMessage"
    VERIFICATION = "ContractAgreementVerificationMessage"
    FINALIZED = "ContractNegotiationEventMessage:FINALIZED"
    TERMINATION = "ContractNegotiationTerminationMessage"


TERMINAL: Final = frozenset({State.FINALIZED, State.TERMINATED})

SENDER: Final[dict[Message, frozenset[Party]]] = {
    Message.REQUEST: frozenset({"consumer"}),
    Message.OFFER: frozenset({"provider"}),
    Message.ACCEPTED: frozenset({"consumer"}),
    Message.AGREEMENT: frozenset({"provider"}),
    Message.VERIFICATION: frozenset({"consumer"}),
    Message.FINALIZED: frozenset({"provider"}),
    Message.TERMINATION: frozenset({"consumer", "provider"}),
}
"""Who may send each message."""

TRANSITIONS: Final[dict[tuple[State | None, Message], State]] = {
    (None, Message.REQUEST): State.REQUESTED,
    (None, Message.OFFER): State.OFFERED,
    (State.REQUESTED, Message.OFFER): State.OFFERED,
    (State.REQUESTED, Message.AGREEMENT): State.AGREED,
    (State.OFFERED, Message.REQUEST): State.REQUESTED,
    (State.OFFERED, Message.ACCEPTED): State.ACCEPTED,
    (State.ACCEPTED, Message.AGREEMENT): State.AGREED,
    (State.AGREED, Message.VERIFICATION): State.VERIFIED,
    (State.VERIFIED, Message.FINALIZED): State.FINALIZED,
    **{
        (s, Message.TERMINATION): State.TERMINATED
        for s in (State.REQUESTED, State.OFFERED, State.ACCEPTED, State.AGREED, State.VERIFIED)
    },
}
"""Every legal (state, message) pair and the state it leads to."""


class IllegalTransition(InvalidInput):
    """A message that is not allowed in the negotiation's state or from its sender (DSP: 400)."""

    default_key = "dsp.illegal_transition"
    status = 400


class BadMessage(InvalidInput):
    """A protocol message that is malformed or names something the provider does not know
    (DSP: 400 with an error body)."""

    default_key = "dsp.invalid_message"
    status = 400


def transition(state: State | None, message: Message, sender: Party) -> State:
    """Return the state ``message`` from ``sender`` leads to from ``state``.

    Raises:
        IllegalTransition: the sender may not send it, or not in this state.
    """
    if sender not in SENDER[message]:
        raise IllegalTransition(
            f"a {sender} may not send {message.value}",
            state=state.value if state else None,
            dsp_message=message.value,
            sender=sender,
        )
    after = TRANSITIONS.get((state, message))
    if after is None:
        raise IllegalTransition(
            f"{message.value} is not allowed in state {state.value if state else '(none)'}",
            state=state.value if state else None,
            dsp_message=message.value,
            sender=sender,
        )
    return after


def message_of(type_name: str, event_type: str | None = None) -> Message:
    """Return the message for a DSP ``@type`` (``dspace:`` prefix allowed) and event type.

    Raises:
        InvalidInput: not a contract negotiation message.
    """
    name = type_name.removeprefix("dspace:")
    if name == "ContractNegotiationEventMessage":
        event = (event_type or "").removeprefix("dspace:")
        name = f"{name}:{event}"
    try:
        return Message(name)
    except ValueError as exc:
        raise BadMessage(
            f"{type_name!r} (eventType {event_type!r}) is not a contract negotiation message",
            key="dsp.unknown_message",
            field="@type",
        ) from exc
