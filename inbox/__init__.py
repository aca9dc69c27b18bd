"""Receiving: verify, dedupe, store, dispatch one handler per activity type."""
