"""Typed application state shared by the route handlers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import jinja2
from aiohttp import web

from decisions.counting import TallyWorker
from federation.remote_actors import RemoteActors
from federation.urls import Urls
from storage.database import Database


@dataclass(frozen=True)
class Node:
    """What handlers need to know about this node, fixed at start."""

    urls: Urls
    domain: str  # host[:port], as in handles
    username: str  # preferredUsername of the node's Application actor
    name: str
    version: str


@dataclass(frozen=True)
class Settings:
    authorized_fetch: bool
    signature_window: timedelta


DB = web.AppKey("db", Database)
SETTINGS = web.AppKey("settings", Settings)
REMOTE_ACTORS = web.AppKey("remote_actors", RemoteActors)
NODE = web.AppKey("node", Node)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
TALLIES = web.AppKey("tallies", TallyWorker)
