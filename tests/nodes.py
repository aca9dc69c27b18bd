"""Real Chapterhouse node processes for tests: the shared harness, chapterhouse.harness.

Kept as a module of its own so that tests import from one short place; everything here
is the harness the benchmarks and `chapterhouse demo` use too.
"""

from chapterhouse.harness import (
    FEDERATING,
    ROOT,
    Node,
    NodeError,
    Response,
    free_port,
    request,
    run_cli,
    wait_for,
)

__all__ = ["FEDERATING", "ROOT", "Node", "NodeError", "Response", "free_port", "request",
           "run_cli", "wait_for"]
