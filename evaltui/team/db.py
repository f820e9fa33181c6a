"""Connecting to the team's PostgreSQL: libpq's own places for every secret.

evaltui takes a connection string or URL with no password in it, or none at all (then
libpq's environment: PGHOST, PGDATABASE, PGSERVICE, ...). Passwords come from where libpq
looks for them (PGPASSWORD, ~/.pgpass, a service file), TLS from sslmode and its
files; evaltui stores none of it. The one connection string it keeps is the one
`team join` was given (in the store's settings), which holds no password.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from evaltui.team import TeamError

if TYPE_CHECKING:
    import psycopg


def _psycopg() -> Any:
    try:
        import psycopg  # load time, and optional: the team extra, said plainly when missing
    except ImportError:
        raise TeamError("the team store needs psycopg 3: pip install 'evaltui[team]'") from None
    return psycopg


def check_url(url: str) -> None:
    """Refuse a connection string that holds a password (it would stay in shell history,
    process lists and logs): libpq reads it from PGPASSWORD, ~/.pgpass or a service file."""
    psycopg = _psycopg()
    try:
        params = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise TeamError(f"not a PostgreSQL connection string or URL: {exc}") from None
    if params.get("password"):
        raise TeamError(
            "the connection string holds a password: evaltui never takes one on its command "
            "line; put it in ~/.pgpass or PGPASSWORD, or use a service file (docs/team.md)"
        )


class Offline(TeamError):
    """The team store cannot be reached (or the connection was lost): work goes on locally,
    and what is not shared stays in the outbox."""


CONNECT_TIMEOUT_S = 10  # when neither the URL nor PGCONNECT_TIMEOUT says


def connect(url: str = "", **kwargs: Any) -> psycopg.Connection[Any]:
    """A connection (not autocommit unless asked) to the team store; `url` empty uses
    libpq's environment. An unreachable server is given up after 10 seconds unless the URL
    or PGCONNECT_TIMEOUT says otherwise (libpq alone would wait for the network's)."""
    psycopg = _psycopg()
    check_url(url)
    if "connect_timeout" not in psycopg.conninfo.conninfo_to_dict(url) and not os.environ.get(
        "PGCONNECT_TIMEOUT"
    ):
        kwargs.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
    try:
        return psycopg.connect(url, **kwargs)
    except psycopg.OperationalError as exc:
        raise Offline(f"could not connect to the team store: {str(exc).strip()}") from None


def ident(name: str) -> Any:
    """A quoted SQL identifier (a role or schema name)."""
    from psycopg import sql  # load time: as in _psycopg

    return sql.Identifier(name)


@contextmanager
def translated() -> Iterator[None]:
    """A database error inside becomes a TeamError in words (for the CLI)."""
    psycopg = _psycopg()
    try:
        yield
    except psycopg.OperationalError as exc:
        raise Offline(f"lost the team store: {str(exc).strip()}") from None
    except psycopg.Error as exc:
        raise TeamError(f"the team store refused: {str(exc).strip()}") from None
