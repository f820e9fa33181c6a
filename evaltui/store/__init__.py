"""The SQLite store."""

from evaltui.store.store import Store, open_store

__all__ = ["Store", "open_store"]
