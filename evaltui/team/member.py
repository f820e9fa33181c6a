"""A store's membership of a team: `team join` and `team status`.

Joining records, in the store's settings, the team's address (a connection string with no
password in it, or none for libpq's environment), the project and schema, and who the
login is there (its reviewer name and role, read from the server). No secret is kept:
libpq finds the password where it always does. A store shares with one project.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaltui.store import runs
from evaltui.store.store import Store, now_iso
from evaltui.team import TeamError, decisions, hashes, ledger, signatures
from evaltui.team.admin import check_project_name, check_schema_name
from evaltui.team.client import TeamClient
from evaltui.team.sync import last_sync


def name_hint(store_reviewer: str, team_reviewer: str) -> str | None:
    """What to do when this store's findings are written under another name than the
    login's reviewer name (they would stay local)."""
    if store_reviewer == team_reviewer:
        return None
    return (
        f"findings here are written as {store_reviewer!r} ($EVALTUI_REVIEWER, --reviewer or "
        f"the OS user) and the team knows this login as {team_reviewer!r}: set "
        f"EVALTUI_REVIEWER={team_reviewer} so they are shared; others stay in this store"
    )


@dataclass
class Joined:
    link: ledger.Link
    status: str  # "joined", "already joined", "address changed"
    blind: bool
    outbox: int
    hint: str | None
    signing: str  # "signs with PATH", "does not sign", ...


def join(
    store: Store, conn: Any, url: str, project: str, schema: str, sign_key: Path | None = None
) -> Joined:
    """Join the store to `project` as the connection's login (a member of it); with
    `sign_key`, the private key its events are signed with (checked against the key the
    team registered for the login, when there is one)."""
    check_project_name(project)
    check_schema_name(schema)
    client = TeamClient(conn, project, schema)
    reviewer, role = client.whoami()
    info = client.project_info()
    blind = info["blind"]
    registered = next(
        (m["signing_key"] for m in client.members() if m["reviewer"] == reviewer), None
    )
    if sign_key is not None:
        sign_key = sign_key.absolute()
        signatures.check_own_key(sign_key, registered, reviewer)
    current = ledger.link(store)
    status = "joined"
    if current is not None:
        if (current.project, current.schema) != (project, schema) and ledger.counts(store) != {
            s: 0 for s in ledger.STATUSES
        }:
            raise TeamError(
                f"this store shares with project {current.project!r} (schema "
                f"{current.schema!r}) already and holds its events: a store shares with one "
                "team project; use another store for this one (--db)"
            )
        if current.reviewer != reviewer and (current.project, current.schema) == (
            project,
            schema,
        ):
            raise TeamError(
                f"this store joined project {project!r} as {current.reviewer!r}, and this "
                f"login is {reviewer!r} there: join with {current.reviewer!r}'s login"
            )
        same = (current.url, current.project, current.schema, current.role) == (
            url,
            project,
            schema,
            role,
        )
        if same:
            status = "already joined"
        elif (current.project, current.schema) == (project, schema):
            status = "address changed" if current.url != url else f"role now {role}"
    link = ledger.Link(
        url,
        project,
        schema,
        reviewer,
        role,
        current.joined_at if current and status != "joined" else now_iso(),
    )
    if status != "already joined":
        store.set_setting(ledger.LINK_SETTING, link.to_setting())
    if sign_key is not None:
        store.set_setting(signatures.SIGN_KEY_SETTING, str(sign_key))
    signing = _signing(signatures.sign_key(store), registered, info["signed"])
    if current is not None and (current.project, current.schema) != (project, schema):
        store.set_setting(ledger.CURSOR_SETTING, 0, log=False)  # another project's sequence
    outbox, _ = ledger.outbox_size(store, reviewer)
    return Joined(link, status, blind, outbox, name_hint(store.actor, reviewer), signing)


def _signing(key: Path | None, registered: str | None, required: bool) -> str:
    if key is not None:
        return f"events signed with {key}" + (
            ""
            if registered
            else " (no key is registered for this login: the admin adds KEY.pub, "
            "`team add-member NAME --role R --key KEY.pub`)"
        )
    if registered or required:
        return (
            "unsigned, and the team requires this login's events signed: join again "
            "with --sign-key PRIVATE_KEY"
        )
    return "events not signed"


def status(store: Store, conn: Any | None = None) -> dict[str, Any]:
    """What `team status` says: the link, the outbox, the ledger, the last sync; with a
    connection, the members and the runs others imported that this store lacks."""
    link = ledger.link(store)
    if link is None:
        raise TeamError(
            "this store has not joined a team store: `evaltui team join URL --project P`"
        )
    pending, others = ledger.outbox_size(store, link.reviewer)
    counts = ledger.counts(store)
    out: dict[str, Any] = {
        "project": link.project,
        "schema": link.schema,
        "url": link.url,
        "reviewer": link.reviewer,
        "role": link.role,
        "joined_at": link.joined_at,
        "outbox": pending,
        "not_shared": dict(sorted(others.items())),
        "events": counts,
        "cursor": ledger.cursor(store),
        "last_sync": last_sync(store),
        "waiting_for": [{"reason": r, "events": n} for r, n in ledger.reasons(store, "waiting")],
        "refused": ledger.events_named(store, "refused"),
        "rejected": ledger.events_named(store, "rejected"),
        "name_hint": name_hint(store.actor, link.reviewer),
        "decisions": decisions.summary(store, link.reviewer, link.role),
        "server": None,
    }
    if conn is not None:
        client = TeamClient(conn, link.project, link.schema)
        info = client.project_info()
        out["server"] = {
            "members": [{"reviewer": m["reviewer"], "role": m["role"]} for m in client.members()],
            "runs_missing_here": _missing_runs(store, client.run_digests()),
            "blind": info["blind"],
            "signed": info["signed"],
            "taxonomy_sha256": info["taxonomy_sha256"],
            "policy_sha256": info["policy_sha256"],
            "mismatch": hashes.mismatches(store, info),
        }
    return out


def _missing_runs(store: Store, digests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs other members recorded that this store has not imported."""
    here = runs.run_sources(store)
    missing: dict[tuple[str, str], list[str]] = {}
    for d in digests:
        key = (d["run_sha256"], d["tool_run_id"] or "")
        if key not in here:
            missing.setdefault(key, []).append(d["reviewer"])
    return [
        {"run_sha256": sha, "part": part, "recorded_by": sorted(names)}
        for (sha, part), names in sorted(missing.items())
    ]
