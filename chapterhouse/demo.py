"""`chapterhouse demo`: a small federation on this machine, to look at and to show.

Dublin (local) → Leinster (regional) → Ireland (national) → International: four
`chapterhouse serve` processes on 127.0.0.1, each with its own data directory, port and
log, started through chapterhouse.harness as the tests and benchmarks start theirs. The demo
builds them with the ordinary commands (init --set, chapter create, member add, chapter
affiliate, chapter accept, post minutes), waits until minutes posted at Dublin
are stored at International, prints what to open, and runs until SIGINT or SIGTERM.

Whatever happens, the nodes it started are stopped before it exits: a `finally` stops
them, and on Linux each node also gets SIGTERM from the kernel if the demo itself dies.
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import html
import itertools
import json
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from chapterhouse import harness
from chapterhouse.cli_support import Parser, UsageError
from chapterhouse.settings import assignment

T = TypeVar("T")

HOST = "127.0.0.1"
DEFAULT_DIR = Path(".demo-federation")
DEFAULT_BASE_PORT = 8101
STEP_TIMEOUT = 30.0  # seconds for any one step: a command, a node starting, a delivery
STOP_TIMEOUT = 15.0
AS2 = "application/activity+json"
# Config values set on every demo node: the nodes talk to each other on 127.0.0.1, and a
# delivery that failed (a node still starting) is retried within seconds, not minutes.
SETTINGS: dict[str, object] = {
    "federation.allow_private_addresses": True, "delivery.backoff_scale": 0.05}


@dataclass(frozen=True)
class Chapter:
    slug: str
    name: str
    level: str
    location: str
    summary: str

    @property
    def place(self) -> str:
        return self.slug.title()


CHAPTERS = (
    Chapter("dublin", "IOPS Dublin", "local", "Dublin, Ireland",
            "Organising and bookfairs in Dublin. Meetings every second Tuesday."),
    Chapter("leinster", "IOPS Leinster", "regional", "Leinster, Ireland",
            "The chapters of Leinster: Dublin, Kildare, Wicklow and the rest of the province."),
    Chapter("ireland", "IOPS Ireland", "national", "Ireland",
            "The national chapter, for every chapter in Ireland."),
    Chapter("international", "IOPS International", "international", "Worldwide",
            "Where the chapters of every country meet."),
)
MEMBERS = (("ana", "Ana Byrne"), ("brian", "Brian Walsh"))  # on Dublin
MINUTES = """\
## Present

Ana Byrne (chair), Brian Walsh (notes) and fourteen members.

## Decisions

1. **Bookfair** on the first Saturday of next month, in the Teachers' Club.
2. *Banners*: Brian orders two, within a budget of €80.
3. From now on our minutes go up to Leinster, Ireland and International.

## Actions

- Ana books the hall by Friday.
- Brian orders the banners before the next meeting.
"""


class Failure(Exception):
    """A step that did not work: the demo stops its nodes and exits 1 with this line."""


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived: the demo stops its nodes and exits 0."""


def add_command(commands: argparse._SubParsersAction[Parser]) -> None:
    demo = commands.add_parser(
        "demo", help="run a federation of four nodes on this machine",
        description="Start Dublin (local) → Leinster (regional) → Ireland (national) → "
        "International, four nodes on 127.0.0.1, affiliate them, post minutes at Dublin, "
        "wait until they reach International, print the pages to open, and run until "
        "SIGINT (Ctrl-C) or SIGTERM.")
    demo.add_argument("--dir", type=Path, metavar="DIR",
                      help=f"the nodes' data directories and logs (default: {DEFAULT_DIR}); "
                      "nodes already there from an earlier run are reused")
    demo.add_argument("--base-port", type=int, metavar="N",
                      help="Dublin listens on N, Leinster on N+1, Ireland on N+2, "
                      f"International on N+3 (default: {DEFAULT_BASE_PORT}, or the ports of "
                      "the nodes already in DIR)")
    demo.set_defaults(run=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    directory: Path = args.dir if args.dir is not None else DEFAULT_DIR
    if args.base_port is not None and not 0 < args.base_port <= 65535 - 3:
        raise UsageError(f"--base-port must be between 1 and {65535 - 3}")
    base_port = _base_port(directory, args.base_port)
    _check_ports(base_port)
    if not directory.exists():
        directory.mkdir(parents=True)
        # Keep a demo made inside a checkout out of `git status`.
        (directory / ".gitignore").write_text("*\n", "utf-8")
    return Demo(directory, base_port).run()


def _base_port(directory: Path, requested: int | None) -> int:
    """The base port: the one the nodes already in DIR were made for, or the one asked."""
    bases = set()
    for index, chapter in enumerate(CHAPTERS):
        path = directory / chapter.slug / "config.toml"
        if not path.exists():
            continue
        try:
            domain = tomllib.loads(path.read_text("utf-8"))["node"]["domain"]
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError):
            raise UsageError(f"{path} is not a node's config; use another --dir") from None
        host, _, port = str(domain).rpartition(":")
        if host != HOST or not port.isdigit():
            raise UsageError(f"{path.parent} is a node for {domain}, not for {HOST}; "
                             "use another --dir")
        bases.add(int(port) - index)
    if len(bases) > 1:
        raise UsageError(f"the nodes in {directory} were not made by one demo; "
                         "use another --dir")
    if not bases:
        return requested if requested is not None else DEFAULT_BASE_PORT
    (base,) = bases
    if requested is not None and requested != base:
        raise UsageError(f"{directory} holds nodes made for ports {base}-{base + 3}: "
                         f"use --base-port {base}, or another --dir")
    return base


def _check_ports(base: int) -> None:
    for port in range(base, base + len(CHAPTERS)):
        with socket.socket() as sock:
            # As the server binds: a port left in TIME_WAIT by an earlier run is free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((HOST, port))
            except OSError as exc:
                raise UsageError(f"port {port} on {HOST} is taken ({exc.strerror}); "
                                 "choose another --base-port") from None


_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1


def _die_with_the_demo() -> None:
    """In the child before exec: SIGTERM when the demo dies, even by SIGKILL (Linux)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _get(url: str, accept: str) -> tuple[int, str] | None:
    """GET without proxies; (status, body), or None if nothing answers yet."""
    try:
        with _NO_PROXY.open(urllib.request.Request(url, headers={"Accept": accept}),
                            timeout=5) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except (OSError, ValueError):
        return None


@dataclass
class Node(harness.Node):
    # Not `chapter`: harness.Node.chapter() creates one.
    branch: Chapter = field(kw_only=True)

    @property
    def name(self) -> str:
        return self.branch.slug

    @property
    def actor(self) -> str:
        return f"{self.base}/actors/{self.branch.slug}"

    @property
    def page(self) -> str:
        return f"{self.base}/@{self.branch.slug}"

    @property
    def handle(self) -> str:
        return f"@{self.branch.slug}@{self.domain}"


def say(line: str = "") -> None:
    print(line, flush=True)


class Demo:
    def __init__(self, directory: Path, base_port: int) -> None:
        self.directory = directory
        # harness.Node keeps each node's log next to its data: DIR/SLUG.log.
        self.nodes = [Node(directory / chapter.slug, base_port + index, branch=chapter)
                      for index, chapter in enumerate(CHAPTERS)]
        self.received: int | None = None

    def run(self) -> int:
        previous = {signum: signal.signal(signum, self._on_signal)
                    for signum in (signal.SIGINT, signal.SIGTERM)}
        reason = None
        try:
            try:
                self._build()
                self._serve_until_signalled()
            except Interrupted:
                say(f"{self._signal_name()} received before the federation was ready")
            except Failure as exc:
                reason = str(exc)
            finally:
                clean = self._stop_all()
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        if reason is not None:
            print(f"chapterhouse: error: {reason}", file=sys.stderr, flush=True)
            return 1
        if not clean:
            print("chapterhouse: error: a node did not stop cleanly; see its log in "
                  f"{self.directory}", file=sys.stderr, flush=True)
            return 1
        return 0

    # Signals only set a flag: every wait checks it, and no command is cut off half-way.

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.received is None:
            self.received = signum

    def _signal_name(self) -> str:
        return signal.Signals(self.received).name if self.received else "a signal"

    def _check_signal(self) -> None:
        if self.received is not None:
            raise Interrupted

    def _check(self) -> None:
        self._check_signal()
        for node in self.nodes:
            if node.process is not None and node.process.poll() is not None:
                raise Failure(f"{node.name} stopped unexpectedly (exit status "
                              f"{node.process.returncode}); see {node.log_path}")

    def _wait(self, condition: Callable[[], T], what: str) -> tuple[T, float]:
        """Poll condition() until it is truthy; its value and the seconds it took."""
        start = time.monotonic()
        while True:
            self._check()
            value = condition()
            if value:
                return value, time.monotonic() - start
            if time.monotonic() - start > STEP_TIMEOUT:
                raise Failure(f"timed out after {STEP_TIMEOUT:.0f} s waiting for {what}; "
                              f"see the logs in {self.directory}")
            time.sleep(0.2)

    # The steps.

    def _build(self) -> None:
        first, last = self.nodes[0], self.nodes[-1]
        say("Chapterhouse demo: " + " → ".join(f"{n.branch.place} ({n.branch.level})"
                                               for n in self.nodes))
        say(f"four nodes on {HOST}, ports {first.port}-{last.port}; data and logs in "
            f"{self.directory}/")
        for node in self.nodes:
            self._prepare(node)
            self._start(node)
        for child, parent in itertools.pairwise(self.nodes):
            self._affiliate(child, parent)
        title, url = self._post_minutes(first)
        posted = time.monotonic()
        for node in self.nodes[1:]:
            self._wait(functools.partial(self._lists_minutes, node, title, url),
                       f"the minutes to reach {node.name}")
            say(f"{node.name}: the minutes are on {node.page} "
                f"({time.monotonic() - posted:.1f} s after posting)")
        self._print_ready(title, url)

    def _cli(self, node: Node, *args: str, stdin: str = "",
             check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `chapterhouse ARGS --data NODE` and keep what it said in the node's log."""
        command = [*args, "--data", str(node.data)]
        try:
            # Out of reach of a Ctrl-C meant for the demo, and left to finish even if the
            # demo dies: a command cut off half-way could leave a half-made node.
            result = node.cli(*args, stdin=stdin, timeout=STEP_TIMEOUT, new_session=True)
        except subprocess.TimeoutExpired:
            raise Failure(f"{node.name}: `chapterhouse {' '.join(args[:2])}` took more than "
                          f"{STEP_TIMEOUT:.0f} s") from None
        with self._log(node) as log:
            log.write(f"--- demo: chapterhouse {' '.join(command)} (exit status "
                      f"{result.returncode})\n{result.stdout}{result.stderr}".encode())
        if check and result.returncode != 0:
            raise Failure(f"{node.name}: `chapterhouse {' '.join(args[:2])}` failed: "
                          f"{harness.reason(result)}")
        return result

    def _log(self, node: Node) -> Any:
        return node.log_path.open("ab")

    def _prepare(self, node: Node) -> None:
        chapter = node.branch
        settings = {**SETTINGS, "server.listen": node.domain}
        if node.exists:
            # Made by an earlier demo, perhaps an older one: its settings are made current.
            self._cli(node, "config", "set", *(assignment(k, v) for k, v in settings.items()))
            say(f"{node.name}: reusing the node in {node.data}")
        else:
            self._cli(node, "init", "--domain", node.domain, "--name",
                      f"Chapterhouse {chapter.place}", *harness.set_arguments(settings))
            say(f"{node.name}: created node {node.base} in {node.data}")
        self._check()
        listed = self._cli(node, "chapter", "list").stdout.splitlines()
        if chapter.slug not in {line.split()[0] for line in listed[1:] if line.strip()}:
            self._cli(node, "chapter", "create", chapter.slug, "--name", chapter.name,
                      "--level", chapter.level, "--location", chapter.location,
                      "--summary", chapter.summary)
            say(f"{node.name}: created the {chapter.level} chapter {node.handle} "
                f"({chapter.name}, {chapter.location})")
        if node is self.nodes[0]:
            members = self._cli(node, "member", "list", "--chapter", chapter.slug).stdout
            present = {line.split()[0] for line in members.splitlines()[1:] if line.strip()}
            for username, name in MEMBERS:
                if username not in present:
                    self._cli(node, "member", "add", username, "--chapter", chapter.slug,
                              "--name", name)
                    say(f"{node.name}: added the member @{username}@{node.domain} ({name})")

    def _start(self, node: Node) -> None:
        node.spawn(new_session=True, preexec=_die_with_the_demo)
        try:
            node.wait_until_serving(STEP_TIMEOUT, check=self._check_signal)
        except harness.NodeError:
            assert node.process is not None
            if node.running():
                raise Failure(f"{node.name} did not answer within {STEP_TIMEOUT:.0f} s; "
                              f"see {node.log_path}") from None
            raise Failure(f"{node.name} did not start (exit status "
                          f"{node.process.returncode}): {self._last_log_line(node)}") from None
        assert node.process is not None
        say(f"{node.name}: serving {node.base}/ (pid {node.process.pid}, "
            f"log {node.log_path})")

    def _last_log_line(self, node: Node) -> str:
        try:
            lines = node.log_path.read_text("utf-8", "replace").strip().splitlines()
        except OSError:
            lines = []
        return lines[-1].strip() if lines else f"see {node.log_path}"

    def _parent_of(self, node: Node) -> str | None:
        answer = _get(node.actor, AS2)
        if answer is None or answer[0] != 200:
            return None
        try:
            parent = json.loads(answer[1]).get("parent")
        except (ValueError, AttributeError):
            return None
        return parent if isinstance(parent, str) else None

    def _request_state(self, parent: Node, child: Node) -> str | None:
        """What `chapter requests` on the parent says about the child: requested, ..."""
        listed = self._cli(parent, "chapter", "requests", parent.branch.slug).stdout
        for line in listed.splitlines():
            cells = line.split()
            if len(cells) >= 2 and cells[0] == child.actor:
                return cells[1]
        return None

    def _affiliate(self, child: Node, parent: Node) -> None:
        if self._parent_of(child) == parent.actor:
            say(f"{child.name}: already a subchapter of {parent.handle}")
            return
        state = self._request_state(parent, child)
        if state not in ("requested", "accepted"):
            result = self._cli(child, "chapter", "affiliate", child.branch.slug,
                               "--parent", parent.actor, check=False)
            # A request from an earlier run may still be on its way: wait for it.
            if result.returncode != 0 and "already has a parent" not in result.stderr:
                raise Failure(f"{child.name}: `chapterhouse chapter affiliate` failed: "
                              f"{harness.reason(result)}")
            say(f"{child.name}: asked to join {parent.handle} (chapter affiliate)")

            def received() -> str | None:
                now = self._request_state(parent, child)
                return now if now in ("requested", "accepted") else None

            state, took = self._wait(
                received, f"{parent.name} to receive {child.name}'s request to join")
            say(f"{parent.name}: received the request ({took:.1f} s)")
        if state == "requested":
            self._cli(parent, "chapter", "accept", parent.branch.slug, child.actor)
            say(f"{parent.name}: accepted {child.handle} as a subchapter (chapter accept)")
        _, took = self._wait(lambda: self._parent_of(child) == parent.actor,
                             f"{child.name}'s actor document to name {parent.name} as parent")
        say(f"{child.name}: its actor document names {parent.handle} as its parent "
            f"({took:.1f} s)")

    def _post_minutes(self, node: Node) -> tuple[str, str]:
        today = date.today()
        title = f"Minutes of the general meeting of {today.day} {today:%B %Y}"
        result = self._cli(node, "post", "minutes", "--chapter", node.branch.slug,
                           "--title", title, "--meeting-date", today.isoformat(),
                           stdin=MINUTES)
        url = result.stdout.strip()
        say(f'{node.name}: posted minutes "{title}" as {url}')
        return title, url

    def _lists_minutes(self, node: Node, title: str, url: str) -> bool:
        answer = _get(node.page, "text/html")
        return (answer is not None and answer[0] == 200
                and f'href="{html.escape(url)}"' in answer[1] and html.escape(title) in answer[1])

    def _print_ready(self, title: str, url: str) -> None:
        dublin, top = self.nodes[0], self.nodes[-1]
        width = max(len(n.branch.name) for n in self.nodes)
        say()
        say("Open in a browser:")
        for node in self.nodes:
            say(f"  {node.branch.name:<{width}}  {node.page}")
        say(f"  {'the minutes':<{width}}  {url}")
        say(f'  ("{title}" is under "Minutes from our chapters" on each page above Dublin)')
        say("Follow a chapter from a fediverse account on a server that can reach "
            f"{HOST}: search for")
        say("  " + "  ".join(node.handle for node in self.nodes))
        say("or as the member Ana on Dublin:")
        say(f"  chapterhouse follow {top.handle} --data {dublin.data} --as ana")
        say("Post more minutes and watch them climb:")
        say(f"  echo '1. Banners' | chapterhouse post minutes --data {dublin.data} "
            f"--chapter dublin --title 'Extra meeting' --meeting-date {date.today()}")
        say(f"Logs: {', '.join(str(node.log_path) for node in self.nodes)}")
        say()
        say("ready: press Ctrl-C (or send SIGTERM) to stop the four nodes")

    def _serve_until_signalled(self) -> None:
        while self.received is None:
            self._check()
            time.sleep(0.2)
        say(f"{self._signal_name()} received: stopping the four nodes")

    def _stop_all(self) -> bool:
        """Stop every node still running, top first; True if all stopped cleanly."""
        started = [node for node in reversed(self.nodes) if node.process is not None]
        for node in started:
            if node.process is not None and node.running():
                node.process.send_signal(signal.SIGTERM)
        clean = True
        for node in started:
            process = node.process
            assert process is not None
            try:
                status = process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                status = process.wait()
                say(f"{node.name}: killed after {STOP_TIMEOUT:.0f} s")
            if status == -signal.SIGTERM:  # still starting: not yet handling signals
                say(f"{node.name}: stopped while starting")
            else:
                clean = clean and status == 0
                say(f"{node.name}: stopped (exit status {status})")
        if started:
            count = "all four nodes" if len(started) == len(self.nodes) else \
                f"{len(started)} node{'s' if len(started) > 1 else ''}"
            say(f"stopped {count}; the data stays in {self.directory}/ for the next run")
        return clean
