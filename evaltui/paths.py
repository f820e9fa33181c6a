"""Where the store lives: --db, then EVALTUI_DB, then the per-user data dir."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_DB = "EVALTUI_DB"
APP_NAME = "evaltui"


def data_dir(*, make: bool = True) -> Path:
    """The per-user data directory (created on demand, unless `make` is false: `--help`)."""
    path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    if make:
        path.mkdir(parents=True, exist_ok=True)
    return path


def default_db_path(*, make: bool = True) -> Path:
    """The store path when --db is not given: $EVALTUI_DB, else the per-user one."""
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env).expanduser()
    return data_dir(make=make) / "evaltui.db"


def demo_db_path() -> Path:
    """The demo store, kept apart from the user's real store: never $EVALTUI_DB, so
    `make demo` (`demo --fresh`) cannot replace a store the user pointed evaltui at."""
    return data_dir() / "demo.db"


def demo_data_dir() -> Path:
    """The bundled demo runs: inside the wheel, or fixtures/demo in a checkout."""
    packaged = Path(__file__).parent / "_demo"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "fixtures" / "demo"
