"""The safety rules checked before every automated message: may it go now, must it wait, or must it never go?

`decide` takes what is known about one message at the moment of sending (`MessageContext`) and returns a
`Decision`: "send", "hold" (with the time it may be tried again) or "block" (with whether a person must now
take the contact over as a task). Every decision carries the rule that made it and a plain-English reason
for staff, so the outbox can show why any message went, waited or stopped.

The rules come from shared/domain/victims-code.md ("Safety rules that override automation") and the phone
networks' limits in shared/contracts/govuk-notify.md. The numbers (quiet hours, limits, which flags need a
confirmed safe contact) live in `SafetyRules`, so a force or a new Code changes data, not code.

Precedence, first match wins, and why in this order:

1. DO_NOT_CONTACT: the strongest instruction there is. Nobody contacts the victim by any route, so no
   task is opened either: a task that says "contact the victim" would invite exactly what the flag forbids.
2. Domestic abuse or a sexual offence without a contact confirmed as safe: a text read by the wrong
   person can put the victim in danger. The Code turns the update into a task for the officer in charge,
   so the victim still hears, by a safe route. It comes before every rule below because it is the one
   whose reason staff must act on: if the same message is also opted out or undeliverable, the fact that
   matters is that the contact may not be safe.
3. A crime still in progress: no automated message at all. A text about an attendance would be stale or
   dangerous by the time it is read, so it is simply dropped; a routine update still owed under the Code
   becomes a task.
4. Opted out (of every automated update, or of this channel): the victim's own choice. A task only
   when the Code still requires the police to tell them, because the duty outlives the opt-out.
5. No consent to texts: we may not text a number the victim did not agree to be texted on. As with an
   opt-out, a task only when the Code still requires contact.
6. The destination failed permanently: sending again would fail again. A task, so that a person finds
   another way; the caller decides whether another channel can take it first. This comes after the
   victim's own choices because "they asked us not to" is the truer record than "it would not arrive".
7. The control room holds texts for the incident (`rxapp/attendance/holds.py`): every message about it
   waits while the hold stands, and when a person releases it, each goes through these rules again, so it
   goes, waits or becomes a task as they say then. A hold, not a block, because the controller's reason is
   for now (the caller is not yet safe to text, the facts are changing), and a person decides when it ends.
   It comes after the blocks, so a message that must never go is stopped now, with its task opened now.
8. The phone networks' limits (100 texts, or 20 identical texts, to one number in an hour): the network
   would refuse the text, so it waits until the hour allows it. Holds come after blocks so that a
   message that must never go is stopped now, with its task opened now, rather than in an hour's time.
9. Quiet hours, 21:00 to 08:00 Europe/London, for routine messages only: they wait until 08:00.
   Attendance messages are about an officer coming now and go at any hour. Quiet hours protect a night's
   sleep, not office hours: a message held on the Friday night before a bank holiday Monday goes at 08:00
   on Saturday, because Saturday morning is still morning and the victim is just as awake. Working days
   matter to the Code's deadlines (worked out elsewhere), not to when a phone may buzz.
10. Otherwise: send.

Times: `now` is an aware UTC datetime (a naive one is taken to be UTC). Quiet hours are on the local clock
of `SafetyRules.timezone`, so they follow BST and GMT; a hold made on the night the clocks change releases
at 08:00 local time, whatever that is in UTC.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from enum import StrEnum
from typing import Optional
from zoneinfo import ZoneInfo

from .contact import Channel


class Action(StrEnum):
    """What to do with a message now."""

    SEND = "send"
    HOLD = "hold"  # try again at `Decision.release_at`
    BLOCK = "block"  # never


class MessageKind(StrEnum):
    """What a message is about (`Message.kind`, a template's kind), which decides the rules it meets."""

    ATTENDANCE = "attendance"  # about an incident happening now: goes at any hour
    ROUTINE = "routine"  # investigation updates and the like: waits for the morning
    # A direct answer to something the victim just did (such as the confirmation of a STOP); it is treated
    # like an attendance message for quiet hours.
    SERVICE = "service"


class Rule(StrEnum):
    """The rule that decided, in order of precedence (see the module notes for why). Stored as `Message.rule`."""

    DO_NOT_CONTACT = "do_not_contact"
    SAFE_CONTACT_NOT_CONFIRMED = "safe_contact_not_confirmed"
    CRIME_IN_PROGRESS = "crime_in_progress"
    OPTED_OUT = "opted_out"
    OPTED_OUT_OF_CHANNEL = "opted_out_of_channel"
    NO_SMS_CONSENT = "no_sms_consent"
    DESTINATION_FAILED = "destination_failed"
    CONTROL_ROOM_FLAG = "control_room_flag"  # the control room holds texts for the incident
    NETWORK_LIMIT = "network_limit"
    NETWORK_LIMIT_IDENTICAL = "network_limit_identical"
    QUIET_HOURS = "quiet_hours"
    CLEAR = "clear"


RULE_ORDER = tuple(Rule)

# The members under their older module-level names, for callers that use them.
SEND, HOLD, BLOCK = Action.SEND, Action.HOLD, Action.BLOCK
ATTENDANCE, ROUTINE, SERVICE = MessageKind.ATTENDANCE, MessageKind.ROUTINE, MessageKind.SERVICE
DO_NOT_CONTACT = Rule.DO_NOT_CONTACT
SAFE_CONTACT_NOT_CONFIRMED = Rule.SAFE_CONTACT_NOT_CONFIRMED
CRIME_IN_PROGRESS = Rule.CRIME_IN_PROGRESS
CONTROL_ROOM_FLAG = Rule.CONTROL_ROOM_FLAG
OPTED_OUT = Rule.OPTED_OUT
OPTED_OUT_OF_CHANNEL = Rule.OPTED_OUT_OF_CHANNEL
NO_SMS_CONSENT = Rule.NO_SMS_CONSENT
DESTINATION_FAILED = Rule.DESTINATION_FAILED
NETWORK_LIMIT = Rule.NETWORK_LIMIT
NETWORK_LIMIT_IDENTICAL = Rule.NETWORK_LIMIT_IDENTICAL
QUIET_HOURS = Rule.QUIET_HOURS
CLEAR = Rule.CLEAR

# Feed flags (shared/contracts/dispatch-feed.md and records-feed.md).
FLAG_DO_NOT_CONTACT = "DO_NOT_CONTACT"
FLAG_DOMESTIC_ABUSE = "DOMESTIC_ABUSE"
FLAG_SEXUAL_OFFENCE = "SEXUAL_OFFENCE"
FLAG_CRIME_IN_PROGRESS = "CRIME_IN_PROGRESS"
FLAG_SAFE_CONTACT_CONFIRMED = "SAFE_CONTACT_CONFIRMED"

_FLAG_WORDS = {
    FLAG_DOMESTIC_ABUSE: "domestic abuse",
    FLAG_SEXUAL_OFFENCE: "sexual offence",
}

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


@dataclass(frozen=True)
class SafetyRules:
    """The numbers behind the rules, as data.

    Quiet hours run from `quiet_start` up to (not including) `quiet_end` on the local clock of `timezone`;
    they may span midnight. Equal start and end mean no quiet hours. The network limits are the most texts
    (and the most identical texts) one number may already have had in `limit_window` before the next must
    wait: the networks refuse "more than 100" and "more than 20", so the 101st and the 21st wait.
    """

    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    timezone: str = "Europe/London"
    max_texts_per_window: int = 100
    max_identical_texts_per_window: int = 20
    limit_window: timedelta = timedelta(hours=1)
    # Kinds that go at any hour: an officer on the way cannot wait for the morning.
    quiet_hours_exempt_kinds: frozenset[str] = frozenset({MessageKind.ATTENDANCE, MessageKind.SERVICE})
    # Flags under which nothing automated may go until a contact is confirmed as safe. A force may add
    # others (stalking, honour-based abuse) without a code change.
    safe_contact_required_flags: frozenset[str] = frozenset({FLAG_DOMESTIC_ABUSE, FLAG_SEXUAL_OFFENCE})
    # A message held by the control room is looked at again this often while the hold stands (a release
    # makes it due at once: this is only the fallback).
    control_room_recheck: timedelta = timedelta(minutes=15)


@dataclass(frozen=True)
class MessageContext:
    """Everything the rules need to know about one message, gathered by the caller at the moment of sending."""

    kind: str  # a MessageKind: attendance (an incident happening now) or routine (investigation updates etc.)
    channel: str  # a Channel: sms or email
    now: datetime  # aware UTC
    flags: frozenset[str]  # STORM/NICHE flags: DO_NOT_CONTACT, DOMESTIC_ABUSE, SEXUAL_OFFENCE, ...
    safe_contact_confirmed: bool
    opted_out_all: bool
    opted_out_channels: frozenset[str]
    sms_consent: bool
    destination_failed_permanently: bool  # this number or address had a permanent failure
    sent_to_destination_last_hour: int  # texts to this number in the last hour
    identical_to_destination_last_hour: int  # texts with this very body to this number in the last hour
    incident_flagged_by_control_room: bool = False  # the control room holds texts for this incident
    contact_required_by_code: bool = False  # the Victims' Code still requires contact: a block becomes a task
    # When the oldest of the counted texts went, if the caller knows: a held text may then go as soon as
    # that one leaves the window. Without it the hold lasts a whole window, which is always enough.
    oldest_sent_last_hour: Optional[datetime] = None
    oldest_identical_last_hour: Optional[datetime] = None


@dataclass(frozen=True)
class Decision:
    """What to do with a message, the rule that decided it, and why in words staff can read."""

    action: Action
    rule: Rule
    reason: str
    release_at: Optional[datetime] = None  # hold only: when to try again (UTC)
    make_task: bool = False  # block only: a person must take the contact over


def decide(ctx: MessageContext, rules: SafetyRules = SafetyRules()) -> Decision:
    """Apply the rules in order of precedence (see the module notes); the first that applies decides."""
    now = _utc(ctx.now)
    flags = frozenset(ctx.flags)
    # An unknown kind gets the stricter, routine treatment.
    routine = ctx.kind not in (MessageKind.ATTENDANCE, MessageKind.SERVICE)
    texting = ctx.channel == Channel.SMS
    channel_words = "texts" if texting else "emails" if ctx.channel == Channel.EMAIL else f"{ctx.channel} messages"

    if FLAG_DO_NOT_CONTACT in flags:
        return Decision(Action.BLOCK, Rule.DO_NOT_CONTACT,
                        "The case is marked do not contact, so no automated message may go to the victim. "
                        "No task is opened: nobody should contact them unless the flag is lifted.")

    sensitive = sorted(flags & rules.safe_contact_required_flags)
    safe = ctx.safe_contact_confirmed or FLAG_SAFE_CONTACT_CONFIRMED in flags
    if sensitive and not safe:
        what = " and ".join(_FLAG_WORDS.get(f, f.replace("_", " ").lower()) for f in sensitive)
        # A Code update becomes a task for the officer in charge; an attendance text (an officer is already
        # on the way, and will speak to the victim) just does not go.
        owed = routine or ctx.contact_required_by_code
        then = (" The officer in charge must tell the victim by a safe route." if owed
                else " The attending officer will speak to the victim.")
        return Decision(Action.BLOCK, Rule.SAFE_CONTACT_NOT_CONFIRMED,
                        f"This is a {what} case and no contact has been confirmed as safe to use, so no "
                        "automated message may go." + then,
                        make_task=owed)

    if FLAG_CRIME_IN_PROGRESS in flags:
        cause = "The crime is still in progress"
        if routine:
            return Decision(Action.BLOCK, Rule.CRIME_IN_PROGRESS, f"{cause}, so no automated message may go. The "
                                                                  "update has become a task for the officer in charge.",
                            make_task=True)
        return Decision(Action.BLOCK, Rule.CRIME_IN_PROGRESS, f"{cause}, so no automated message may go. This "
                                                              "attendance message will not be sent.")

    if ctx.opted_out_all:
        return Decision(Action.BLOCK, Rule.OPTED_OUT,
                        "The victim has opted out of all automated updates." + _code_task_words(ctx),
                        make_task=ctx.contact_required_by_code)
    if ctx.channel in ctx.opted_out_channels:
        return Decision(Action.BLOCK, Rule.OPTED_OUT_OF_CHANNEL,
                        f"The victim has opted out of automated {channel_words}." + _code_task_words(ctx),
                        make_task=ctx.contact_required_by_code)

    if texting and not ctx.sms_consent:
        return Decision(Action.BLOCK, Rule.NO_SMS_CONSENT,
                        "The victim has not agreed to receive texts." + _code_task_words(ctx),
                        make_task=ctx.contact_required_by_code)

    if ctx.destination_failed_permanently:
        where = "this number" if texting else "this address"
        return Decision(Action.BLOCK, Rule.DESTINATION_FAILED,
                        f"Messages to {where} have failed permanently (it may be wrong or no longer in use). "
                        "Another channel, or a person, must take over.", make_task=True)

    if ctx.incident_flagged_by_control_room:
        release = now + rules.control_room_recheck
        return Decision(Action.HOLD, Rule.CONTROL_ROOM_FLAG,
                        "The control room is holding texts for this incident. It waits until they release "
                        "them, then the rules are checked again.", release_at=release)

    if texting:
        window_hours = _hours_words(rules.limit_window)
        if ctx.sent_to_destination_last_hour >= rules.max_texts_per_window:
            release = _limit_release(now, ctx.oldest_sent_last_hour, rules)
            return Decision(Action.HOLD, Rule.NETWORK_LIMIT,
                            f"{ctx.sent_to_destination_last_hour} texts have gone to this number in the last "
                            f"{window_hours}; phone networks refuse more than {rules.max_texts_per_window}. "
                            f"Held until {_local_words(release, rules)}.", release_at=release)
        if ctx.identical_to_destination_last_hour >= rules.max_identical_texts_per_window:
            release = _limit_release(now, ctx.oldest_identical_last_hour, rules)
            return Decision(Action.HOLD, Rule.NETWORK_LIMIT_IDENTICAL,
                            f"{ctx.identical_to_destination_last_hour} identical texts have gone to this number "
                            f"in the last {window_hours}; phone networks refuse more than "
                            f"{rules.max_identical_texts_per_window}. Held until {_local_words(release, rules)}.",
                            release_at=release)

    if ctx.kind not in rules.quiet_hours_exempt_kinds and in_quiet_hours(now, rules):
        release = quiet_hours_end(now, rules)
        return Decision(Action.HOLD, Rule.QUIET_HOURS,
                        f"Quiet hours ({rules.quiet_start:%H:%M} to {rules.quiet_end:%H:%M} {_zone_words(rules)}): "
                        f"routine messages wait until the morning. Held until {_local_words(release, rules)}.",
                        release_at=release)

    return Decision(Action.SEND, Rule.CLEAR, "No safety rule stops this message.")


CODE_QUIET_HOURS = (time(21, 0), time(8, 0))  # the Code's: no routine text between 21:00 and 08:00


def parse_quiet_hours(raw: str) -> tuple[time, time]:
    """QUIET_HOURS: "21:00-08:00" (local start and end; may span midnight), or "off" (none: equal start and
    end). Raises ValueError with the expected form."""
    text = raw.strip().lower()
    if text == "off":
        return time(0, 0), time(0, 0)
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ValueError("QUIET_HOURS must be two local times such as 21:00-08:00, or off") from None
    return start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)


def covers_code_quiet_hours(start: time, end: time) -> bool:
    """Whether quiet hours from `start` to `end` include all of the Code's (21:00 to 08:00)."""
    rules = SafetyRules(quiet_start=start, quiet_end=end)
    base = datetime(2026, 1, 5, tzinfo=ZoneInfo(rules.timezone))  # any winter day: minutes on the local clock
    minutes = [base.replace(hour=21) + timedelta(minutes=m) for m in range(11 * 60)]
    return all(in_quiet_hours(at, rules) for at in minutes)


def in_quiet_hours(at: datetime, rules: SafetyRules = SafetyRules()) -> bool:
    """Whether `at` falls in quiet hours on the local clock."""
    local = _utc(at).astimezone(ZoneInfo(rules.timezone)).time().replace(tzinfo=None)
    start, end = rules.quiet_start, rules.quiet_end
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end  # spans midnight


def quiet_hours_end(at: datetime, rules: SafetyRules = SafetyRules()) -> datetime:
    """The first moment at or after `at` when quiet hours are over: the next `quiet_end` on the local
    clock, as UTC. Built from the local date and clock time, so it is 08:00 local whether that day is
    in BST or GMT, including the day the clocks change."""
    zone = ZoneInfo(rules.timezone)
    at = _utc(at)
    local = at.astimezone(zone)
    day = local.date()
    for _ in range(3):
        candidate = datetime.combine(day, rules.quiet_end, tzinfo=zone).astimezone(timezone.utc)
        if candidate > at:
            return candidate
        day += timedelta(days=1)
    raise AssertionError("unreachable: a quiet_end is always within two days")  # pragma: no cover


def _limit_release(now: datetime, oldest: Optional[datetime], rules: SafetyRules) -> datetime:
    # Once the oldest counted text leaves the window there is room again. Without it, waiting a whole
    # window is the one answer that is certainly long enough.
    if oldest is not None:
        release = _utc(oldest) + rules.limit_window
        if release > now:
            return release
    return now + rules.limit_window


def _code_task_words(ctx: MessageContext) -> str:
    if ctx.contact_required_by_code:
        return " The Victims' Code still requires us to tell them, so this has become a task."
    return ""


def _hours_words(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes == 60:
        return "hour"
    if minutes % 60 == 0:
        return f"{minutes // 60} hours"
    return f"{minutes} minutes"


def _local_words(at: datetime, rules: SafetyRules) -> str:
    """'08:00 on Saturday 23 May': names of our own so the words do not follow the server's locale."""
    local = at.astimezone(ZoneInfo(rules.timezone))
    return f"{local:%H:%M} on {_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]}"


def _zone_words(rules: SafetyRules) -> str:
    return "UK time" if rules.timezone == "Europe/London" else f"{rules.timezone} time"


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)
