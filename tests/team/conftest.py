"""A real PostgreSQL for the team store's tests, started by the suite (tests/pg.py).

Where no server can be started, CI (CI=true) stops the whole run with one line saying
what is missing: a team test is never skipped in silence there. Elsewhere (a laptop
without PostgreSQL and without the dev extra) the team tests skip with that line.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg  # the dev extra brings it (with the team extra): missing is an error
import pytest

from evaltui.team import admin
from evaltui.team.client import TeamClient

from ..pg import MISSING, PgServer, find_bindir

ADMIN = "team_admin"  # a non-superuser owner: the policies must bind it too


def unavailable(line: str) -> None:
    """No server: one line; fatal in CI, a skip elsewhere."""
    if os.environ.get("CI", "") == "true":
        pytest.exit(f"team store tests cannot run: {line}", returncode=1)
    pytest.skip(line)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    found = find_bindir()
    if found is None:
        unavailable(MISSING)
        raise AssertionError  # not reached
    server = PgServer(*found)
    try:
        server.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        server.stop()
        unavailable(f"PostgreSQL from {found[1]} ({found[0]}) did not start: {exc}")
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {ADMIN} LOGIN CREATEROLE")
    yield server
    server.stop()


@dataclass
class Team:
    """One fresh database on the session's server, owned by the non-superuser admin."""

    server: PgServer
    dbname: str
    schema: str = "evaltui"
    conns: list[Any] = field(default_factory=list)

    def connect(self, user: str | None = None) -> Any:
        conn = psycopg.connect(self.server.dsn(user, self.dbname), autocommit=True)
        self.conns.append(conn)
        return conn

    def dsn(self, user: str | None = None) -> str:
        return self.server.dsn(user, self.dbname)

    @property
    def admin(self) -> Any:
        if not hasattr(self, "_admin"):
            self._admin = self.connect(ADMIN)
        return self._admin

    @property
    def su(self) -> Any:
        """The database superuser: above every policy (what the tamper tests are)."""
        if not hasattr(self, "_su"):
            self._su = self.connect()
        return self._su

    def reconnect(self) -> None:
        """After a server restart: the admin's and the superuser's connections again."""
        for name in ("_admin", "_su"):
            self.__dict__.pop(name, None)

    def init(self, *projects: str, blind: bool = False) -> None:
        for project in projects or ("p",):
            admin.init(self.admin, self.schema, project, blind=blind)

    def member(self, name: str, role: str = "reviewer", project: str = "p") -> TeamClient:
        """Add `name` as a member and connect as its login role."""
        admin.add_member(self.admin, self.schema, project, name, role)
        return TeamClient(self.connect(name), project, self.schema)

    def count(self, where: str = "true") -> int:
        return int(
            self.su.execute(f"SELECT count(*) FROM {self.schema}.events WHERE {where}").fetchone()[
                0
            ]
        )


@pytest.fixture
def team(pg_server: PgServer) -> Iterator[Team]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} OWNER {ADMIN}")
    t = Team(pg_server, name)
    yield t
    for conn in t.conns:
        conn.close()
    with psycopg.connect(pg_server.dsn(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
