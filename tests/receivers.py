"""Inboxes on many ports of 127.0.0.1 that count what they receive, in a background thread.

Each port is a separate host to the sender (hosts are host:port), so a few hundred ports
make a few hundred peers. They answer 202 after an optional delay, and record every POST
with the activity id it carried.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections import Counter
from typing import Any

from aiohttp import web


class Receivers:
    def __init__(self, hosts: int, delay: float = 0.0) -> None:
        # Sockets bound now and kept: ports picked one by one could repeat.
        self._sockets = []
        for _ in range(hosts):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            self._sockets.append(sock)
        self.ports = [sock.getsockname()[1] for sock in self._sockets]
        self.delay = delay
        self.posts: list[tuple[int, str]] = []  # (port, activity id)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def base(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        self._ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        async def inbox(request: web.Request) -> web.Response:
            body: Any = json.loads(await request.read())
            if self.delay:
                await asyncio.sleep(self.delay)
            with self._lock:
                self.posts.append((request.url.port or 0, body.get("id", "")))
            return web.Response(status=202)

        app = web.Application()
        app.router.add_post("/inbox", inbox)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        for sock in self._sockets:
            await web.SockSite(self._runner, sock).start()

    def __enter__(self) -> Receivers:
        self._thread.start()
        self._ready.wait(30)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            assert self._runner is not None
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)

    def distinct(self, activity_id: str) -> Counter[int]:
        """How many POSTs of this activity each port got."""
        with self._lock:
            return Counter(port for port, got in self.posts if got == activity_id)

    def total(self) -> int:
        with self._lock:
            return len(self.posts)
