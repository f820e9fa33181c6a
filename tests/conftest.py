"""Shared fixtures: every test gets its own store and user dirs."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
DEMO = FIXTURES / "demo"


@pytest.fixture(autouse=True)
def isolated_user_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the store and platform dirs at a temp folder; fix the reviewer name."""
    db = tmp_path / "store.db"
    monkeypatch.setenv("EVALTUI_DB", str(db))
    monkeypatch.setenv("EVALTUI_REVIEWER", "tester")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))  # no user config read
    monkeypatch.delenv("EVALTUI_CONFIG", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return db


@pytest.fixture
def db_path(isolated_user_state: Path) -> Path:
    return isolated_user_state


@pytest.fixture
def store(db_path: Path):
    from evaltui.store import Store

    with Store(db_path) as s:
        yield s


@pytest.fixture
def demo_store(store):
    from evaltui import service

    service.load_demo(store)
    return store
