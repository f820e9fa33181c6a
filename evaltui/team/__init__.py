"""A live team store: triage events shared through PostgreSQL (docs/team.md).

`schema` holds the shared schema as SQL, `admin` creates it and adds members,
`events` is the typed event with its content hash and the client-side chain check,
`client` pushes and pulls. Needs psycopg 3 (the `team` extra); nothing here is
imported by the local store or the app.
"""

from __future__ import annotations

from evaltui.errors import EvaltuiError


class TeamError(EvaltuiError):
    """The team store cannot be used, or refused what was asked."""

    title = "Team store"
    exit_code = 3
