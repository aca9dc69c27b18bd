"""The decision code paths a node's CLI and web form call, run against a real node's data
directory from a separate process (`python -m tests.decisions.driver DATA JSON`): many
members added, a decision opened, many ballots cast in one go, as `chapterhouse decide`
and the ballot form do one at a time. It prints one JSON value on stdout.

The running node's tally worker picks up what this writes (it polls at least every
second), exactly as it does after a `decide vote` from the command line.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from actors.registry import add_member
from chapterhouse.config import load
from decisions.ballots import cast_ballot
from decisions.counting import TallySettings
from decisions.opening import Opening, open_decision
from decisions.views import decision_view
from federation.urls import Urls
from outbox.publish import PublishError
from storage import decisions as store
from storage.database import Database
from storage.timestamps import utcnow
from tests.nodes import ROOT, Node


def drive(node: Node, order: dict[str, Any]) -> Any:
    """This module against a node's data directory, in a process of its own; what it
    printed."""
    result = subprocess.run(
        [sys.executable, "-m", "tests.decisions.driver", str(node.data.absolute()),
         json.dumps(order)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


async def _run(data: Path, order: dict[str, Any]) -> Any:
    config = load(data)
    urls = Urls(config.base_url)
    async with Database(config.database) as db:
        if order["do"] == "members":
            for handle, chapter in order["members"]:
                await add_member(db, config.hostname, handle, chapter)
            return len(order["members"])
        if order["do"] == "open":
            return await open_decision(db, urls, order["chapter"], Opening(
                question=order["question"], options=order["options"],
                closes_at=utcnow() + timedelta(seconds=order["closes_in"]),
                count_method=order["count"], multiple=order.get("multiple", False)))
        if order["do"] == "vote":
            debounce = timedelta(seconds=config.tally_debounce_seconds)
            answers: list[dict[str, Any]] = []
            for member, choices in order["ballots"]:
                try:
                    cast = await cast_ballot(db, order["decision"], member, choices, debounce)
                    answers.append({"member": member, "chapter": cast.chapter,
                                    "first": cast.first})
                except PublishError as exc:
                    answers.append({"member": member, "refused": str(exc)})
            return answers
        if order["do"] == "show":
            decision = await store.by_iri(db, order["decision"])
            assert decision is not None, order["decision"]
            view = await decision_view(db, urls, decision, TallySettings(
                debounce=timedelta(seconds=config.tally_debounce_seconds),
                grace=timedelta(seconds=config.late_tally_grace_seconds)))
            result = view.result
            return {"ballots": {o.name: o.ballots for o in result.options},
                    "weighted": {o.name: o.weighted for o in result.options},
                    "voters": result.voters, "eligible": result.eligible,
                    "result_final": view.result_final, "missing_final": result.missing_final,
                    "chapters": {c.name: {"voters": c.voters, "final": c.final,
                                          "late": c.late} for c in result.chapters}}
    raise SystemExit(f"unknown order {order['do']!r}")


if __name__ == "__main__":
    # The last line: the code paths may log on stdout before it.
    print(json.dumps(asyncio.run(_run(Path(sys.argv[1]), json.loads(sys.argv[2])))))
