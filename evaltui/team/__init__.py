"""A live team store: triage events shared through PostgreSQL (docs/team.md).

`schema` holds the shared schema as SQL, `admin` creates it and adds members,
`events` is the typed event with its content hash and the client-side chain check,
`client` pushes and pulls. On the store's side: `ledger` (the link, the ledger table,
the outbox), `fold` (findings as events and back), `sync` (`evaltui sync`), `member`
(`team join`, `team status`), `live` (the app's background link). psycopg 3 (the
`team` extra) is loaded only to connect; the local store never imports this package,
and the app only on a store that joined a team.
"""

from __future__ import annotations

from evaltui.errors import EvaltuiError


class TeamError(EvaltuiError):
    """The team store cannot be used, or refused what was asked."""

    title = "Team store"
    exit_code = 3
