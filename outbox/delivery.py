"""The delivery worker: takes due delivery rows, signs, sends, and records what happened.

Rows are leased, not deleted: a worker that dies (even by kill -9) leaves leases that
expire, and the rows are sent again. Receivers dedupe by activity id, so "at least once"
on our side is "exactly once" for them.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from actors.signing import LocalKeys
from federation.client import FetchError
from federation.transport import Transport
from storage import outbox as store
from storage.database import Database, now
from storage.outbox import QUEUE_CHANNEL, Claimed, Outcome

log = structlog.get_logger(__name__)

# How long a stopping worker waits for sends in flight (client timeouts are longer: a
# stop should not wait for a slow host; what it cuts off is sent again after the restart).
DRAIN_SECONDS = 3.0
LEASE = timedelta(seconds=120)  # longer than one attempt can take (client timeouts are 30 s)
MAX_RETRY_AFTER = timedelta(hours=24)
RECORD_EVERY = 8  # outcomes per write while a round is running
# Answers after which trying again makes sense (Mastodon's list); other 4xx are final.
RETRYABLE_4XX = frozenset({401, 408, 429})


@dataclass(frozen=True)
class Policy:
    concurrency: int = 50
    max_attempts: int = 17
    backoff_scale: float = 1.0
    unavailable_after: int = 10

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the n-th failed attempt: n^4 + 15 seconds with jitter, like
        Mastodon's push queue (16 s, 31 s, 96 s, 4.5 min, ... about 18 h at n=16)."""
        base = attempts**4 + 15
        return timedelta(seconds=(base + random.uniform(0, attempts**4 / 2))
                         * self.backoff_scale)


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """The wait a Retry-After header asks for (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(timedelta(seconds=int(value)), MAX_RETRY_AFTER)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:  # "-0000": UTC, says RFC 5322
        moment = moment.replace(tzinfo=now.tzinfo)
    return min(max(moment - now, timedelta(0)), MAX_RETRY_AFTER)


class DeliveryWorker:
    def __init__(
        self, db: Database, transport: Transport, keys: LocalKeys, policy: Policy,
        owner: str = "",
    ) -> None:
        """`owner` names this worker's leases: stable across restarts of one `serve`
        process (its host and listening address), distinct between processes."""
        self.db = db
        self.owner = owner
        self.transport = transport
        self.keys = keys
        self.policy = policy
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """New rows were queued in this process: look now rather than at the next poll."""
        self._wake.set()

    async def run_once(self, at: datetime | None = None) -> int:
        """Expand pending fan-outs, then send one batch of the deliveries due at `at` (now
        by default). Returns how many deliveries were attempted."""
        while await store.expand_fanouts(self.db):
            pass
        claimed = await store.claim_due(
            self.db, at or now(), LEASE, limit=self.policy.concurrency * 4, owner=self.owner
        )
        if not claimed:
            return 0
        semaphore = asyncio.Semaphore(self.policy.concurrency)
        done: list[Outcome] = []

        async def record(at_least: int) -> None:
            # Outcomes are written in small batches as they come: a kill -9 then resends
            # only what was in flight or in the last unwritten batch, not the whole round.
            if len(done) >= at_least:
                batch = done[:]
                done.clear()
                await store.finish(self.db, batch, now(), self.policy.unavailable_after)

        async def attempt(delivery: Claimed) -> None:
            async with semaphore:
                outcome = await self._attempt(delivery)
            done.append(outcome)
            await record(RECORD_EVERY)

        await asyncio.gather(*(attempt(d) for d in claimed))
        await record(1)
        return len(claimed)

    async def _attempt(self, delivery: Claimed) -> Outcome:
        attempts = delivery.attempts + 1
        started = now()
        clock = time.monotonic()
        try:
            key = await self.keys.signing_key(delivery.actor_id)
        except LookupError:
            return self._failed(delivery, attempts, None, "its sender no longer exists",
                                False, False)
        try:
            response = await self.transport.post(
                delivery.inbox, delivery.document.encode("utf-8"), key
            )
        except FetchError as exc:
            return self._failed(delivery, attempts, None, str(exc), exc.temporary, True)
        status = response.status
        if 200 <= status < 300:
            log.debug("delivered", inbox=delivery.inbox, status=status,
                      ms=round((time.monotonic() - clock) * 1000))
            return Outcome(delivery.id, delivery.host, "delivered", attempts, started, status,
                           None, host_failed=False, host_answered=True)
        reason = f"{delivery.host} answered {status}"
        if 400 <= status < 500 and status not in RETRYABLE_4XX:
            log.info("delivery refused", inbox=delivery.inbox, status=status)
            return Outcome(delivery.id, delivery.host, "dead", attempts, started, status, reason,
                           host_failed=False, host_answered=True)
        if status == 429:
            wait = retry_after(response.headers.get("Retry-After"), started)
            if wait is not None and attempts < self.policy.max_attempts:
                return Outcome(delivery.id, delivery.host, "queued", attempts, started + wait,
                               status, reason, host_failed=False, host_answered=True)
        # 401 and 429 come from a live host; 408 and 5xx count against it.
        host_failed = status == 408 or status >= 500
        return self._failed(delivery, attempts, status, reason, True, host_failed)

    def _failed(
        self, delivery: Claimed, attempts: int, status: int | None, reason: str,
        retryable: bool, host_failed: bool,
    ) -> Outcome:
        failed_at = now()
        if not retryable or attempts >= self.policy.max_attempts:
            log.warning("delivery given up", inbox=delivery.inbox, attempts=attempts,
                        reason=reason)
            return Outcome(delivery.id, delivery.host, "dead", attempts, failed_at, status,
                           reason, host_failed=host_failed, host_answered=not host_failed)
        log.info("delivery failed, will retry", inbox=delivery.inbox, attempts=attempts,
                 reason=reason)
        return Outcome(delivery.id, delivery.host, "queued", attempts,
                       failed_at + self.policy.backoff(attempts), status, reason,
                       host_failed=host_failed, host_answered=not host_failed)

    async def run(self, poll_seconds: float = 1.0) -> None:
        """Deliver until cancelled, keeping `concurrency` sends in flight: a slot freed by
        a finished send is filled at once, so one slow host never holds up the rest.
        Rows queued here, or committed by another process (the CLI; on PostgreSQL another
        `serve`), wake the loop at once; it also looks every `poll_seconds`."""
        released = await store.release_leases(self.db, self.owner)
        if released:
            log.info("resuming deliveries interrupted by a stop", count=released)
        inflight: set[asyncio.Task[Outcome]] = set()
        done: list[Outcome] = []
        last_record = time.monotonic()
        try:
            while True:
                # Cleared before looking for rows, never after: a wake-up that arrives while
                # we claim or record must not be lost (it would cost a whole poll period).
                self._wake.clear()
                try:
                    await self._top_up(inflight)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # A bug or a database hiccup must not end delivery for good; rows stay.
                    log.exception("claiming deliveries failed")
                if not inflight:
                    if done:
                        await self._record(done)
                    await self._idle(poll_seconds)
                    continue
                woken = asyncio.ensure_future(self._wake.wait())
                finished, _ = await asyncio.wait(
                    {*inflight, woken}, timeout=poll_seconds,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                woken.cancel()
                # Taken from inflight rather than from `finished`, which (holding the wake-up
                # too) is typed as a set of any future, not of deliveries.
                for task in inflight & finished:
                    inflight.discard(task)
                    if task.exception() is None:
                        done.append(task.result())
                    else:  # its lease expires and the row is tried again
                        log.error("delivery attempt failed", exc_info=task.exception())
                if len(done) >= RECORD_EVERY or (done and time.monotonic() - last_record > 0.5):
                    await self._record(done)
                    last_record = time.monotonic()
        finally:
            await self._drain(inflight, done)

    async def _drain(self, inflight: set[asyncio.Task[Outcome]], done: list[Outcome]) -> None:
        """On a stop (the task cancelled), give sends in flight a moment to finish and
        record every outcome known, so that a restart resends only what had no answer."""
        if inflight:
            finished, pending = await asyncio.wait(inflight, timeout=DRAIN_SECONDS)
            for task in pending:
                task.cancel()
            done.extend(task.result() for task in finished
                        if not task.cancelled() and task.exception() is None)
        if done:
            try:
                await self._record(done)
            except Exception:
                # The rows keep their leases and are sent again after a restart.
                log.exception("recording the last outcomes before stopping failed")

    async def _idle(self, poll_seconds: float) -> None:
        """Wait for a wake-up from this process, new work committed by any process (the
        CLI posting; on PostgreSQL another `serve`), or the poll period, whichever comes
        first."""
        if self._wake.is_set():
            return
        waker = asyncio.ensure_future(self._wake.wait())
        watcher = asyncio.ensure_future(self.db.wait(QUEUE_CHANNEL, poll_seconds))
        try:
            await asyncio.wait({waker, watcher}, timeout=poll_seconds,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waker, watcher):
                task.cancel()
            await asyncio.gather(waker, watcher, return_exceptions=True)
        # A database that fails here would otherwise turn the wait into a busy loop that
        # no log shows: the failure goes to the supervisor, which logs it and restarts.
        error = None if watcher.cancelled() else watcher.exception()
        if error is not None:
            raise error

    async def _top_up(self, inflight: set[asyncio.Task[Outcome]]) -> None:
        while await store.expand_fanouts(self.db):
            pass
        free = self.policy.concurrency - len(inflight)
        if free <= 0:
            return
        for delivery in await store.claim_due(self.db, now(), LEASE, limit=free,
                                              owner=self.owner):
            inflight.add(asyncio.create_task(self._attempt(delivery)))

    async def _record(self, done: list[Outcome]) -> None:
        batch = done[:]
        done.clear()
        await store.finish(self.db, batch, now(), self.policy.unavailable_after)
