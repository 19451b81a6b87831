"""The closed sets of words the product stores for the state of its things: a message, a task, a Code duty, a
case, a victim's text, a member of staff's role.

Each is an `enum.StrEnum`: a member is equal to its value and is stored as that plain string, so the
database and anything that reads it (pages, reports, tests) see exactly the words written here. Change a
value only with a migration that rewrites the rows holding it.

Other closed sets live beside the rules that use them: an attendance's `IncidentStatus` and a resource's
`ResourceState` in `attendance.py`, a message's `MessageKind` and the safety rules' `Action` and `Rule` in
`safety.py`, the contact `Channel` in `contact.py`.
"""
from __future__ import annotations

from enum import StrEnum


class MessageStatus(StrEnum):
    """Where a message in the outbox stands (`Message.status`, and the statuses in its history)."""

    QUEUED = "queued"  # written to the outbox, not yet looked at by the sender
    HELD = "held"  # a safety rule said not yet (quiet hours, network limits): due again at `due_at`
    RETRY = "retry"  # the provider failed or refused for now: tried again at `due_at`
    SENDING = "sending"  # handed to the provider, its answer not yet stored
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"  # the provider's receipt says it arrived
    TEMPORARY_FAILURE = "temporary-failure"  # the provider's words: the phone was off, the inbox full
    PERMANENT_FAILURE = "permanent-failure"  # the provider's words: the number or address does not work
    TECHNICAL_FAILURE = "technical-failure"  # the provider's words: its own fault
    BLOCKED = "blocked"  # a safety rule stopped it for good
    FAILED = "failed"  # we gave up (refused, could not render, or retried too long)
    CANCELLED = "cancelled"  # no longer needed (the officer arrived first, the same channel failed)


# The sender looks at these when their `due_at` comes.
DUE_MESSAGE_STATUSES = (MessageStatus.QUEUED, MessageStatus.HELD, MessageStatus.RETRY)
# Nothing more will happen to a message in one of these (a late receipt may still say it was delivered).
FINAL_MESSAGE_STATUSES = (MessageStatus.DELIVERED, MessageStatus.PERMANENT_FAILURE, MessageStatus.TECHNICAL_FAILURE,
                          MessageStatus.BLOCKED, MessageStatus.FAILED, MessageStatus.CANCELLED)


class MessageNote(StrEnum):
    """Entries in a message's history (`MessageEvent.status`) that are not a status of the message."""

    FALLBACK = "fallback"  # sent again by another channel after a permanent failure
    TASK = "task"  # a person took the contact over


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"  # a person (or the records system, or a message after all) told the victim
    CANCELLED = "cancelled"  # no longer needed


class TaskKind(StrEnum):
    """What a task asks a person to do (`Task.kind`)."""

    CONTACT_VICTIM = "contact_victim"  # automation could not or must not send a message
    DELIVERY_FAILED = "delivery_failed"  # a message could not be delivered and no other channel is left
    OPTED_OUT = "opted_out"  # the victim replied STOP; agree another way to keep them informed
    REPLY_RECEIVED = "reply_received"  # the victim texted us
    TELL_VICTIM = "tell_victim"  # a Code duty on a case that a person must meet
    CHECK_RECORD = "check_record"  # the records system sent something that cannot be right (a future date)
    PORTAL_MESSAGE = "portal_message"  # the victim wrote to the officer (portal or a text reply): read and reply
    UPDATE_REQUESTED = "update_requested"  # the victim pressed "ask for an update" in the portal


class HowTold(StrEnum):
    """How the victim was told when a person, or the records system, met a duty (`Task.how_told`)."""

    PHONE = "phone"
    IN_PERSON = "in_person"
    LETTER = "letter"
    SMS = "sms"
    EMAIL = "email"
    PORTAL = "portal"
    DECLINED = "declined"  # the victim did not want it (a referral they declined)
    NOT_REACHED = "not_reached"  # tried and failed: still owed
    RECORDS = "records"  # the records system says a person met it (never chosen on a task's form)


class DutyState(StrEnum):
    """A Code duty's state (`Duty.state`)."""

    DUE = "due"  # automation is on it
    HANDED = "handed"  # a task for a person
    DONE = "done"
    CANCELLED = "cancelled"  # no longer owed


class OccurrenceStatus(StrEnum):
    """A recorded crime's status (`Occurrence.status`)."""

    OPEN = "open"
    FINALISED = "finalised"


class InboundHandling(StrEnum):
    """What was done with a text a victim sent us (`InboundText.handled_as`)."""

    REPLY = "reply"  # a task for a person
    STOP = "stop"  # an opt-out


class StaffRole(StrEnum):
    """A member of staff's role (`StaffUser.role`)."""

    FCR = "fcr"  # force control room
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    PCC = "pcc"  # the Police and Crime Commissioner's office: the compliance figures, never a victim's details
