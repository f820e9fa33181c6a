"""Pushing and pulling team events as one member (one PostgreSQL login role).

`push` is an idempotent `INSERT ... ON CONFLICT (hash) DO NOTHING`: the same event
pushed twice is one row. `pull(cursor)` reads `server_seq > cursor` in server order
(the server hands out sequence numbers in commit order, so no row that commits late
is skipped). Every pulled event is checked here before it is returned: its hash is
recomputed from its content and its chain link followed (events.ChainCheck); one that
fails is refused and named, never returned as an event.

Give the client a connection in autocommit mode (each push is its own transaction).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from evaltui.team import TeamError
from evaltui.team.admin import check_project_name, check_schema_name
from evaltui.team.events import ChainCheck, Refusal, TeamEvent
from evaltui.team.schema import ROLE_KINDS, channel

BATCH = 500
_COLS = (
    "hash, project, author, kind, subject, payload::text, prev, signature, client_at, "
    "server_seq, received_at"
)


class Conflict(TeamError):
    """The server refused a push because of what it holds (a fork, or a link to an event
    it lacks): pull, chain again and push again."""


@dataclass
class Pushed:
    inserted: list[str] = field(default_factory=list)  # hashes the server did not hold
    present: list[str] = field(default_factory=list)  # hashes it held already


@dataclass
class Pulled:
    events: list[TeamEvent] = field(default_factory=list)  # verified, in server order
    refused: list[Refusal] = field(default_factory=list)
    cursor: int = 0  # pass it to the next pull


def _event(row: tuple[Any, ...]) -> TeamEvent:
    return TeamEvent(
        hash=row[0],
        project=row[1],
        author=row[2],
        kind=row[3],
        subject=row[4],
        payload=json.loads(row[5]),
        prev=row[6],
        signature=row[7],
        client_at=row[8],
        server_seq=int(row[9]),
        received_at=row[10] if isinstance(row[10], datetime) else None,
    )


class TeamClient:
    """One member's view of one project of a team store."""

    def __init__(
        self, conn: Any, project: str, schema: str = "evaltui", check: ChainCheck | None = None
    ) -> None:
        check_schema_name(schema)
        check_project_name(project)
        self.conn = conn
        self.project = project
        self.schema = schema
        self.check = check or ChainCheck()
        self._s = f'"{schema}"'

    @property
    def channel(self) -> str:
        """The channel to LISTEN on: each insert into this project notifies the newest
        server sequence number."""
        return channel(self.schema, self.project)

    def whoami(self) -> tuple[str, str]:
        """(reviewer name, role) this connection writes as in the project."""
        row = self.conn.execute(
            f"SELECT reviewer, role FROM {self._s}.members WHERE project = %s "
            "AND role_name = current_user::text",
            (self.project,),
        ).fetchone()
        if row is None:
            user = self.conn.execute("SELECT current_user").fetchone()[0]
            raise TeamError(
                f"the login {user!r} is not a member of project {self.project!r} in schema "
                f"{self.schema!r} (the admin runs `evaltui team add-member`)"
            )
        return str(row[0]), str(row[1])

    def project_info(self) -> dict[str, Any]:
        """The project's settings: blind review, taxonomy and policy hashes."""
        row = self.conn.execute(
            f"SELECT blind, taxonomy_sha256, policy_sha256, signed FROM {self._s}.projects "
            "WHERE project = %s",
            (self.project,),
        ).fetchone()
        if row is None:
            raise TeamError(f"no project {self.project!r} this login can read in {self.schema!r}")
        return {
            "blind": bool(row[0]),
            "taxonomy_sha256": row[1],
            "policy_sha256": row[2],
            "signed": bool(row[3]),
        }

    def members(self) -> list[dict[str, Any]]:
        """The project's members: reviewer name, role, when added, registered signing key."""
        rows = self.conn.execute(
            f"SELECT reviewer, role, added_at, signing_key FROM {self._s}.project_members "
            "WHERE project = %s ORDER BY reviewer",
            (self.project,),
        ).fetchall()
        cols = ("reviewer", "role", "added_at", "signing_key")
        return [dict(zip(cols, r, strict=True)) for r in rows]

    # -- push -----------------------------------------------------------------------------

    def _refuse_early(self, events: list[TeamEvent]) -> None:
        """Name the event the database would refuse (it refuses a whole batch unnamed)."""
        reviewer, role = self.whoami()
        position = {ev.hash: i for i, ev in enumerate(events)}
        for i, ev in enumerate(events):
            if ev.project != self.project:
                raise TeamError(f"{ev.named()} is for project {ev.project!r}, not {self.project!r}")
            if ev.content_hash() != ev.hash:
                raise TeamError(f"{ev.named()}: its hash does not match its content; not pushed")
            if ev.author != reviewer:
                raise TeamError(
                    f"{ev.named()} is written as {ev.author!r}, and this login is "
                    f"{reviewer!r}: a member writes only as itself"
                )
            if ev.kind not in ROLE_KINDS[role]:
                allowed = ", ".join(ROLE_KINDS[role]) or "nothing"
                raise TeamError(f"{ev.named()}: a {role} may write {allowed}, not {ev.kind}")
            if position.get(ev.prev or "", -1) > i:
                raise TeamError(f"{ev.named()} comes before the event it follows; not pushed")

    def push(self, events: Iterable[TeamEvent]) -> Pushed:
        """Insert the events (in chain order) the server does not hold yet; one transaction
        per batch of 500. Pushing the same event again inserts nothing."""
        import psycopg  # load time: psycopg (the team extra) only when pushing

        todo = list(events)
        self._refuse_early(todo)
        out = Pushed()
        # One JSON document per batch: psycopg quotes a text array element by element,
        # which cost more than the insert itself.
        query = (
            f"INSERT INTO {self._s}.events (hash, project, author, kind, subject, payload, "
            "prev, signature, client_at) SELECT h, pr, a, k, su, pl, pv, sg, ca FROM "
            "jsonb_to_recordset(%s::jsonb) AS t(h text, pr text, a text, k text, su text, "
            "pl jsonb, pv text, sg text, ca text) ON CONFLICT (hash) DO NOTHING RETURNING hash"
        )
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            rows = json.dumps(
                [
                    {
                        "h": e.hash,
                        "pr": e.project,
                        "a": e.author,
                        "k": e.kind,
                        "su": e.subject,
                        "pl": e.payload,
                        "pv": e.prev,
                        "sg": e.signature,
                        "ca": e.client_at,
                    }
                    for e in batch
                ],
                ensure_ascii=False,
                allow_nan=False,
            )
            try:
                with self.conn.transaction():
                    inserted = {r[0] for r in self.conn.execute(query, (rows,))}
            except psycopg.errors.ForeignKeyViolation:
                raise Conflict(
                    "the team store refused the push: an event follows one the server does "
                    "not hold (push a stream from its first event); nothing of this batch "
                    "was written"
                ) from None
            except psycopg.errors.UniqueViolation:
                raise Conflict(
                    "the team store refused the push: an event follows a link another event "
                    "of the same author and subject already follows (a fork); nothing of "
                    "this batch was written"
                ) from None
            except (psycopg.errors.InsufficientPrivilege, psycopg.errors.CheckViolation) as exc:
                raise TeamError(
                    f"the team store refused the push: {str(exc).strip()}; nothing of this "
                    "batch was written"
                ) from None
            for e in batch:
                (out.inserted if e.hash in inserted else out.present).append(e.hash)
                if not self.check.holds(e.hash):
                    self.check.add(e)
        return out

    # -- pull -----------------------------------------------------------------------------

    def _verify(self, event: TeamEvent, out: Pulled) -> None:
        if self.check.holds(event.hash):
            return
        if event.prev is not None and not (
            self.check.holds(event.prev) or self.check.is_refused(event.prev)
        ):
            # a stream this client could not read before (blind mode): its earlier events
            for earlier in self._rows(
                "author = %s AND subject = %s AND server_seq < %s",
                (event.author, event.subject, event.server_seq),
            ):
                if not self.check.holds(earlier.hash) and not self.check.is_refused(earlier.hash):
                    self._take(earlier, out)
        self._take(event, out)

    def _take(self, event: TeamEvent, out: Pulled) -> None:
        refusal = self.check.check(event)
        if refusal is None:
            out.events.append(event)
        else:
            out.refused.append(refusal)

    def _rows(
        self, where: str, params: tuple[Any, ...], limit: int | None = None
    ) -> list[TeamEvent]:
        query = (
            f"SELECT {_COLS} FROM {self._s}.events WHERE project = %s AND {where} "
            "ORDER BY server_seq" + (f" LIMIT {int(limit)}" if limit else "")
        )
        return [_event(r) for r in self.conn.execute(query, (self.project, *params))]

    def pull(self, cursor: int = 0, limit: int = 1000) -> Pulled:
        """The events after `cursor` that this login may read, verified, in server order."""
        out = Pulled(cursor=cursor)
        for event in self._rows("server_seq > %s", (cursor,), limit):
            self._verify(event, out)
            out.cursor = max(out.cursor, event.server_seq or 0)
        return out

    def pull_subject(self, subject: str) -> Pulled:
        """Every readable event on one subject (after labelling a case in blind mode, the
        others' labels on it become readable though their sequence numbers are behind the
        cursor). The cursor is not moved."""
        return self.pull_subjects([subject])

    def pull_subjects(self, subjects: list[str]) -> Pulled:
        """Every readable event on these subjects, in server order (pull_subject)."""
        out = Pulled()
        for event in self._rows("subject = ANY(%s)", (list(subjects),)):
            self._verify(event, out)
        return out

    # -- run digests ----------------------------------------------------------------------

    def record_run(self, run_sha256: str, tool_run_id: str | None = None) -> bool:
        """Say this member imported the run (True when it was not recorded before)."""
        reviewer, _ = self.whoami()
        with self.conn.transaction():
            row = self.conn.execute(
                f"INSERT INTO {self._s}.run_digests (project, run_sha256, tool_run_id, reviewer) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                (self.project, run_sha256, tool_run_id, reviewer),
            ).fetchone()
        return row is not None

    def run_digests(self) -> list[dict[str, Any]]:
        """Every member's recorded runs in the project."""
        rows = self.conn.execute(
            f"SELECT run_sha256, tool_run_id, reviewer, received_at FROM {self._s}.run_digests "
            "WHERE project = %s ORDER BY run_sha256, reviewer",
            (self.project,),
        ).fetchall()
        return [
            dict(zip(("run_sha256", "tool_run_id", "reviewer", "received_at"), r, strict=True))
            for r in rows
        ]
