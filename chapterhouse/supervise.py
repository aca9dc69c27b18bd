"""Supervision of a node's background tasks (the delivery worker, the poll scheduler).

A background task is meant to run until the node stops. If it raises, or returns, the
failure is logged at error level with its traceback and the task is started again after
a wait that doubles from `first_delay` up to `max_delay`; once a run has lasted
`healthy_after` seconds the wait starts small again. Without this, one `database is
locked` from SQLite would end delivery for good and nothing would say so.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

log = structlog.get_logger(__name__)

FIRST_DELAY = 0.5
MAX_DELAY = 30.0
HEALTHY_AFTER = 60.0


@dataclass
class TaskHealth:
    """What an operator (or a test) can ask about one supervised task."""

    name: str
    runs: int = 0  # how many times it was started
    failures: int = 0  # failures in a row; 0 once a run lasted HEALTHY_AFTER
    total_failures: int = 0
    last_error: str | None = None
    last_failure_at: datetime | None = None

    @property
    def restarts(self) -> int:
        return max(self.runs - 1, 0)


class Supervisor:
    """Starts background tasks, restarts the ones that fail, and stops them all."""

    def __init__(
        self, first_delay: float = FIRST_DELAY, max_delay: float = MAX_DELAY,
        healthy_after: float = HEALTHY_AFTER,
    ) -> None:
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.healthy_after = healthy_after
        self.health: dict[str, TaskHealth] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, name: str, run: Callable[[], Awaitable[None]]) -> TaskHealth:
        """Run `run()` under supervision; `run` is called again for every restart, so it
        must build its work afresh (a coroutine cannot be awaited twice)."""
        if name in self.health:
            raise ValueError(f"a task named {name!r} is already supervised")
        health = self.health[name] = TaskHealth(name)
        self._tasks.append(asyncio.create_task(self._keep_running(health, run), name=name))
        return health

    async def _keep_running(
        self, health: TaskHealth, run: Callable[[], Awaitable[None]]
    ) -> None:
        delay = self.first_delay
        while True:
            health.runs += 1
            started = time.monotonic()
            try:
                await run()
                error: BaseException = RuntimeError("returned; it should run until stopped")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = exc
            if time.monotonic() - started >= self.healthy_after:
                # A failure after a long healthy run is news, not a crash loop.
                delay, health.failures = self.first_delay, 0
            health.failures += 1
            health.total_failures += 1
            health.last_error = f"{type(error).__name__}: {error}"
            health.last_failure_at = datetime.now(UTC)
            log.error("background task failed, restarting", task=health.name,
                      restart_in=delay, failures_in_a_row=health.failures,
                      exc_info=error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_delay)
            log.info("background task restarted", task=health.name, runs=health.runs + 1)

    async def stop(self) -> None:
        """Cancel every task and wait until each has finished its cleanup."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
