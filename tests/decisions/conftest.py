from tests.outbox.conftest import services  # noqa: F401  (a node's services in this process)
