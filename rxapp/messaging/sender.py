"""The outbox sender: delivers queued messages exactly once.

One pass (`run_once`):
1. Messages that may already have reached the provider (a previous attempt whose answer was never stored,
   e.g. the process was killed between the provider's answer and the commit) are looked up at the provider
   by their reference first; found ones are marked sent and never sent again.
2. Every other due message goes through the safety rules: held (with the time it may go), blocked (with the
   reason, and a task for a person where the Code still requires contact) or marked `sending` and committed
   before the provider is called. An attendance text waits, untouched, while an earlier attendance text to
   the same victim about the same incident is not yet with the provider (`outbox.TextOrder`): the text
   carrying the link is never overtaken by "arriving soon", not even while it waits for a retry.
   Routine updates cleared to go for the same victim, case, channel and language in the same pass go as one
   message listing them (`rxapp/messaging/bundles.py`); every row of it moves with the others.
3. Sends run concurrently; each answer is stored in its own short transaction.
Runs in the one elected runner process (see `rxapp/plumbing/runner.py`); on PostgreSQL the claim also uses
`FOR UPDATE SKIP LOCKED` so a second sender could never take the same row.
"""
from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Mapping, Optional

from sqlmodel import select

from integrations.outbound import Lookup, OutboundMessage, Provider, ProviderError
from rxapp.domain import bundling, safety
from rxapp.domain.statuses import (
    DUE_MESSAGE_STATUSES,
    MessageNote,
    MessageStatus,
    TaskKind,
)
from rxapp.messaging import bundles
from rxapp.messaging.checks import SendFacts, rows_by_id
from rxapp.messaging.models import Message
from rxapp.messaging.outbox import TextOrder, log_event, render_for_send
from rxapp.messaging.providers import providers_from_settings
from rxapp.messaging.receipts import fall_back, send_another_way, task_due
from rxapp.plumbing.columns import utcnow
from rxapp.plumbing.config import Settings, settings
from rxapp.plumbing.db import engine, migrate, session_scope
from rxapp.tasks.service import open_task

log = logging.getLogger(__name__)
DUE_STATUSES = DUE_MESSAGE_STATUSES
GIVE_UP_AFTER = timedelta(hours=24)  # then a person takes over (Notify itself stops trying texts after 72 hours)
UNKNOWN = "unknown"  # a look-up that could not be made: neither found nor not found


@dataclass
class Outgoing:
    message_id: int
    reference: str
    channel: str
    destination: str
    subject: str
    body: str
    members: tuple[int, ...] = ()  # every row this one provider message carries (a bundle), else just this one

    @property
    def rows(self) -> tuple[int, ...]:
        return self.members or (self.message_id,)


@dataclass
class PassResult:
    sent: int = 0
    held: int = 0
    blocked: int = 0
    retried: int = 0
    failed: int = 0
    recovered: int = 0
    rerouted: int = 0  # sent another way: no provider for their channel
    combined: int = 0  # provider messages that carried several updates at once (each row counts in `sent`)
    errors: list[str] = field(default_factory=list)
    incidents: set[int] = field(default_factory=set)  # whose message history changed in a way staff see


class OutboxSender:
    """Delivers the outbox through one provider per channel (`providers`: channel -> `Provider`)."""

    def __init__(self, db_url: Optional[str] = None, *, providers: Mapping[str, Provider], concurrency: int = 16,
                 batch: int = 500, stale_after: timedelta = timedelta(seconds=60),
                 rules: safety.SafetyRules | None = None, now=utcnow, failpoint: Optional[str] = None):
        self.db_url = db_url
        self.providers = dict(providers)
        self.failpoint = failpoint
        self.concurrency, self.batch = concurrency, batch
        self.stale_after = stale_after
        self.rules = rules or safety.SafetyRules()
        self._now = now
        self._postgres = (db_url or str(engine().url)).startswith("postgresql")

    @classmethod
    def from_settings(cls, cfg: Settings) -> Optional["OutboxSender"]:
        """The sender for this configuration, or None when no provider is configured."""
        providers = providers_from_settings(cfg)
        start, end = cfg.quiet_hours
        rules = safety.SafetyRules(quiet_start=start, quiet_end=end)
        return cls(providers=providers, failpoint=cfg.failpoint, rules=rules) if providers else None

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()

    # ---- one pass ---------------------------------------------------------------------------------

    async def run_once(self) -> PassResult:
        result = PassResult()
        now = self._now()
        to_check = await asyncio.to_thread(self._maybe_sent, now)
        found = await self._check_provider(to_check)
        checked = {message_id for message_id, _, _ in to_check}
        outgoing = await asyncio.to_thread(self._claim, now, found, checked, result)
        if outgoing:
            gate = asyncio.Semaphore(self.concurrency)
            answers: list[tuple[tuple[int, ...], str]] = []

            async def one(item: Outgoing):
                async with gate:
                    provider_id = await self._deliver(item, result)
                    if provider_id is not None:
                        answers.append((item.rows, provider_id))

            await asyncio.gather(*(one(item) for item in outgoing))
            if self.failpoint == "after_provider_answer" and answers:
                # Fault tests only: die exactly between the provider's answers and the commit.
                os.kill(os.getpid(), signal.SIGKILL)
            # One commit for the pass's answers: until it lands they stay "sending", and a restart looks
            # each one up at the provider before anything is sent again.
            await asyncio.to_thread(self._store_sent, answers)
            result.sent += sum(len(rows) for rows, _ in answers)
            result.combined += sum(1 for rows, _ in answers if len(rows) > 1)
        return result

    async def drain(self, max_passes: int = 1000) -> PassResult:
        """Passes until nothing is due (for tests, the CLI and benchmarks)."""
        total = PassResult()
        for _ in range(max_passes):
            r = await self.run_once()
            for name in ("sent", "held", "blocked", "retried", "failed", "recovered", "rerouted", "combined"):
                setattr(total, name, getattr(total, name) + getattr(r, name))
            total.errors += r.errors
            total.incidents |= r.incidents
            if not (r.sent or r.retried or r.recovered or r.blocked or r.held or r.failed or r.rerouted):
                break
        return total

    # ---- step 1: did an earlier attempt get through? ----------------------------------------------

    def _maybe_sent(self, now: datetime) -> list[tuple[int, str, str]]:
        """(message id, reference to look up, channel): a row that went in a bundle is also looked up by the
        reference the bundle went under."""
        stale = now - self.stale_after
        with session_scope(self.db_url) as session:
            q = select(Message.id, Message.reference, Message.channel).where(
                ((Message.status == MessageStatus.SENDING) & (Message.sending_since <= stale))
                | ((Message.status == MessageStatus.RETRY) & (Message.due_at <= now) & (Message.attempts > 0))
            ).limit(self.batch)
            rows = list(session.exec(q))
            under = bundles.sent_under(session, [message_id for message_id, _, _ in rows])
        return rows + [(message_id, under[message_id], channel) for message_id, reference, channel in rows
                       if under.get(message_id, reference) != reference]

    async def _check_provider(self, candidates) -> dict[int, Optional[str]]:
        """message id -> provider id for messages the provider already has (live, not failed)."""
        found: dict[int, Optional[str]] = {}
        asked: dict[tuple[str, str], object] = {}  # a bundle's reference is asked about once
        for message_id, reference, channel in candidates:
            provider = self.providers.get(channel)
            if provider is None:
                continue  # no provider for it now: the claim sends it another way
            if (channel, reference) not in asked:
                try:
                    asked[channel, reference] = await provider.find_by_reference(reference)
                except Exception as exc:  # cannot ask just now: leave it for the next pass rather than repeat
                    asked[channel, reference] = exc
                    log.warning("could not check a message at the provider (%s)", type(exc).__name__)
            answer = asked[channel, reference]
            if isinstance(answer, Exception):
                found.setdefault(message_id, UNKNOWN)
                continue
            if answer is Lookup.CANNOT_TELL:
                continue  # SMTP has no look-up; the Message-ID header lets mail systems drop a repeat
            if answer is not None:
                found[message_id] = answer  # found under either reference: it went
        return found

    # ---- step 2: safety rules, then claim ---------------------------------------------------------

    def _claim(self, now: datetime, found: dict[int, Optional[str]], checked: set[int],
               result: PassResult) -> list[Outgoing]:
        ready: list[tuple[Message, object]] = []
        stale = now - self.stale_after
        with session_scope(self.db_url) as session:
            q = (select(Message).where(
                (Message.status.in_(DUE_STATUSES) & (Message.due_at <= now))
                | ((Message.status == MessageStatus.SENDING) & (Message.sending_since <= stale)))
                .order_by(Message.due_at, Message.id).limit(self.batch))
            if self._postgres:
                q = q.with_for_update(skip_locked=True)
            due = session.exec(q).all()
            facts = SendFacts(session, due, now)
            # A later attendance text waits (still queued, untouched) until the earlier one is with the provider.
            for message in TextOrder(session, due).in_order(due):
                may_have_gone = (message.status == MessageStatus.SENDING
                                 or (message.status == MessageStatus.RETRY and message.attempts > 0))
                if may_have_gone and message.id not in checked:
                    continue  # not looked up at the provider yet: next pass
                provider_id = found.get(message.id)
                if provider_id == UNKNOWN:
                    continue
                if provider_id is not None:
                    message.status, message.provider_id = MessageStatus.SENT, provider_id
                    message.sent_at = message.sent_at or now
                    message.updated_at = now
                    log_event(session, message, MessageStatus.SENT,
                              "found at the provider after an interrupted attempt")
                    result.recovered += 1
                    continue
                if message.channel not in self.providers:
                    # Configured away (no Notify key any more, say): another channel now, never a long retry.
                    send_another_way(session, message, now, frozenset(self.providers),
                                     f"no provider for {message.channel} is configured")
                    result.rerouted += 1
                    continue
                stale_reason = facts.no_longer_relevant(message)
                if stale_reason:
                    message.status, message.reason, message.updated_at = MessageStatus.CANCELLED, stale_reason, now
                    log_event(session, message, MessageStatus.CANCELLED, stale_reason)
                    continue
                decision = safety.decide(facts.context(message), self.rules)
                message.rule, message.reason, message.updated_at = decision.rule, decision.reason, now
                if decision.action != safety.Action.SEND and message.incident_id:
                    result.incidents.add(message.incident_id)
                if decision.action == safety.Action.HOLD:
                    message.status = MessageStatus.HELD
                    message.due_at = decision.release_at or now + timedelta(minutes=5)
                    log_event(session, message, MessageStatus.HELD, decision.reason)
                    result.held += 1
                    continue
                if decision.action == safety.Action.BLOCK:
                    message.status = MessageStatus.BLOCKED
                    log_event(session, message, MessageStatus.BLOCKED, decision.reason)
                    if decision.make_task:
                        task = open_task(session, kind=TaskKind.CONTACT_VICTIM, title="Tell the victim in person",
                                         detail=f"An automated '{message.template}' message was stopped: "
                                                f"{decision.reason} Tell the victim safely and record how.",
                                         incident_id=message.incident_id, victim_id=message.victim_id,
                                         message_id=message.id, due_at=task_due(session, message, now),
                                         occurrence_id=message.occurrence_id, duty_id=message.duty_id)
                        log_event(session, message, MessageNote.TASK, f"task {task.id} for a person")
                    result.blocked += 1
                    continue
                try:
                    rendered = render_for_send(session, message)
                except Exception as exc:
                    message.status, message.reason = MessageStatus.FAILED, f"could not render: {type(exc).__name__}"
                    log_event(session, message, MessageStatus.FAILED, message.reason)
                    result.failed += 1
                    continue
                message.status, message.sending_since = MessageStatus.SENDING, now
                message.attempts += 1
                ready.append((message, rendered))
            return self._combine(session, ready)

    def _combine(self, session, ready: list[tuple[Message, object]]) -> list[Outgoing]:
        """One provider message per group of updates that go together (`rxapp/domain/bundling.py`)."""
        by_id = {message.id: (message, rendered) for message, rendered in ready}
        outgoing: list[Outgoing] = []
        for ids in bundling.group(bundles.candidate(message) for message, _ in ready):
            rows = [by_id[i][0] for i in ids]
            lead = rows[0]
            if len(rows) > 1:
                try:
                    subject, body = bundles.render_bundle(session, rows)
                except Exception as exc:  # each goes on its own rather than not at all
                    log.error("could not write a combined message (%s); sending separately", type(exc).__name__)
                else:
                    bundles.note_bundle(session, rows)
                    outgoing.append(Outgoing(lead.id, lead.reference, lead.channel, lead.destination,
                                             subject or "", body, members=ids))
                    continue
            for message in rows:
                rendered = by_id[message.id][1]
                outgoing.append(Outgoing(message.id, message.reference, message.channel, message.destination,
                                         rendered.subject or "", rendered.body))
        return outgoing

    # ---- step 3: send and store the answer --------------------------------------------------------

    async def _deliver(self, item: Outgoing, result: PassResult) -> Optional[str]:
        try:
            return await self._send(item)
        except Exception as exc:
            failure = exc if isinstance(exc, ProviderError) else ProviderError(
                # Not the provider's answer but a fault of ours: retry, and look it up first.
                f"unexpected {type(exc).__name__}", retryable=True, outcome_unknown=True)
            await asyncio.to_thread(self._store_failure, item.rows, failure)
            if failure.retryable:
                result.retried += 1
            else:
                result.failed += 1
            result.errors.append(type(exc).__name__)
            return None

    async def _send(self, item: Outgoing) -> str:
        return await self.providers[item.channel].send(
            OutboundMessage(item.reference, item.destination, item.body, item.subject))

    def _store_sent(self, answers: list[tuple[tuple[int, ...], str]]) -> None:
        if not answers:
            return
        now = self._now()
        with session_scope(self.db_url) as session:
            stored = rows_by_id(session, Message, [message_id for rows, _ in answers for message_id in rows])
            for rows, provider_id in answers:
                together = f", one message listing {len(rows)} updates" if len(rows) > 1 else ""
                for message_id in rows:
                    message = stored[message_id]
                    message.status, message.provider_id, message.sent_at = MessageStatus.SENT, provider_id, now
                    message.updated_at, message.sending_since = now, None
                    log_event(session, message, MessageStatus.SENT,
                              f"accepted by the provider on attempt {message.attempts}{together}")

    def _store_failure(self, message_ids: tuple[int, ...], exc: ProviderError) -> None:
        """The provider did not take the message: every row it carried retries together (one due time, so they
        go together again) or fails together."""
        now = self._now()
        detail, retryable = exc.reason, exc.retryable
        with session_scope(self.db_url) as session:
            rows = [session.get(Message, message_id) for message_id in message_ids]
            retry = retryable and now - min(row.created_at for row in rows) < GIVE_UP_AFTER
            if retry:
                # Exponential backoff with jitter; a rate limit waits at least a minute.
                base = 60 if exc.rate_limited else 2 ** max(row.attempts for row in rows)
                delay = min(600, base) * (0.5 + random.random() / 2)
                if exc.outcome_unknown:
                    # The provider may still be working on the request we gave up on: wait until it must
                    # have finished, so the look-up before the retry sees it if it went through.
                    delay = max(delay, self.stale_after.total_seconds())
            for message in rows:
                message.updated_at, message.sending_since = now, None
                if retry:
                    message.status, message.due_at = MessageStatus.RETRY, now + timedelta(seconds=delay)
                    message.reason = f"provider error ({detail}); retrying"
                    log_event(session, message, MessageStatus.RETRY, message.reason)
                else:
                    message.status = MessageStatus.FAILED
                    message.reason = f"provider refused the message ({detail})"
                    log_event(session, message, MessageStatus.FAILED, message.reason)
                    fall_back(session, message, now)


def main(argv: list[str] | None = None) -> int:
    """`python -m rxapp.messaging.sender --once`: one drain of the outbox with the configured providers."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m rxapp.messaging.sender", description="Deliver the outbox")
    parser.add_argument("--once", action="store_true", help="drain what is due, then exit")
    parser.add_argument("--stale-after", type=float, default=60.0,
                        help="seconds after which an unanswered attempt is checked at the provider")
    args = parser.parse_args(argv)
    migrate()
    sender = OutboxSender.from_settings(settings())
    if sender is None:
        print("error: configure NOTIFY_API_KEY (and NOTIFY_BASE_URL) or SMTP_URL", file=__import__("sys").stderr)
        return 2
    sender.stale_after = timedelta(seconds=args.stale_after)

    async def _go():
        while True:
            result = await sender.drain()
            print(f"sent {result.sent}, recovered {result.recovered}, held {result.held}, blocked {result.blocked}, "
                  f"retry {result.retried}, failed {result.failed}", flush=True)
            if args.once:
                return
            await asyncio.sleep(1)

    asyncio.run(_go())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
