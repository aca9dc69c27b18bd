"""Typed application state shared by the route handlers."""

from __future__ import annotations

from dataclasses import dataclass

import jinja2
from aiohttp import web

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


DB = web.AppKey("db", Database)
NODE = web.AppKey("node", Node)
TEMPLATES = web.AppKey("templates", jinja2.Environment)
