"""The hierarchy's tests drive publishing code on a node's services in this process, as
the outbox's tests do: the same fixture."""

from tests.outbox.conftest import services

__all__ = ["services"]
