"""Publishing: activities from local content, addressing, the durable delivery queue."""
