"""Local stores of a team's members, for the sync tests: the same result files imported in
each (as every reviewer imports them), joined to one project of the test's team store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaltui import service
from evaltui.importers import ImportOptions
from evaltui.review import taxonomy, triage
from evaltui.store import Store
from evaltui.team import ledger, member, sync

from .conftest import Team

TAX = taxonomy.default_taxonomy()
CLASSES = [c for c in TAX.active]


def write_runs(folder: Path, n: int, suite: str = "s") -> tuple[Path, Path]:
    """A baseline and a candidate of n cases (native JSONL); every case regresses."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, verdict in (("base", "pass"), ("cand", "fail")):
        path = folder / f"{name}.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            fh.write(json.dumps({"run": {"name": name, "suite": suite}}) + "\n")
            for i in range(n):
                fh.write(json.dumps({"case_key": f"k{i:04d}", "verdict": verdict}) + "\n")
        paths.append(path)
    return paths[0], paths[1]


def import_runs(db: Path, runs: tuple[Path, ...]) -> None:
    with Store(db) as store:
        for path, role in zip(runs, ("production", "candidate"), strict=False):
            service.import_path(store, path, options=ImportOptions(role=role))


@dataclass
class Local:
    """One member's store, joined to the team as `name`."""

    team: Team
    name: str
    db: Path
    project: str = "p"

    def store(self) -> Store:
        return Store(self.db)

    def join(self) -> member.Joined:
        with self.store() as store:
            return member.join(
                store, self.team.connect(self.name), self.team.dsn(self.name), self.project,
                self.team.schema,
            )  # fmt: skip

    def sync(self) -> sync.SyncResult:
        with self.store() as store:
            return sync.sync(store)

    def ids(self) -> tuple[int, int]:
        with self.store() as store:
            rows = store.conn.execute("SELECT id FROM runs ORDER BY id").fetchall()
        return rows[0][0], rows[1][0]

    def case(self, i: int) -> int:
        with self.store() as store:
            return int(store.conn.execute(
                "SELECT id FROM cases WHERE case_key = ?", (f"k{i:04d}",)
            ).fetchone()[0])  # fmt: skip

    def label(self, i: int, cls: int | None = 0, **fields: Any) -> triage.Finding:
        b, c = self.ids()
        if cls is not None:
            fields["failure_class"] = CLASSES[cls]
        with self.store() as store:
            return triage.label(store, b, c, self.case(i), reviewer=self.name, **fields)

    def undo(self) -> triage.Finding | None:
        b, c = self.ids()
        with self.store() as store:
            return triage.undo(store, b, c, reviewer=self.name)

    def state(self) -> dict[str, Any]:
        """What every member must agree on: each case's shown state, and every finding."""
        with self.store() as store:
            rows = [r.model_dump(mode="json") for r in triage.list_findings(store)]
            findings = store.conn.execute(
                "SELECT uid, kind, class, owner, verdict, note, reviewer, at, undoes "
                "FROM findings ORDER BY uid"
            ).fetchall()
        for r in rows:
            r.pop("updated_at")  # when this store recomputed it: its own clock
        return {"cases": rows, "findings": [tuple(f) for f in findings]}

    def snapshot(self) -> dict[str, Any]:
        """Everything a sync could change, but the time of the last sync."""
        with self.store() as store:
            return {
                table: store.conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()
                for table in ("findings", "case_triage", "team_events", "events")
            } | {"cursor": ledger.cursor(store)}


def make_locals(
    team: Team,
    tmp: Path,
    names: list[tuple[str, str]],
    n: int = 20,
    project: str = "p",
    runs: tuple[Path, Path] | None = None,
) -> list[Local]:
    """Members (name, role), each with a store holding the same two runs, joined."""
    runs = runs or write_runs(tmp / "runs", n)
    out = []
    for name, role in names:
        team.member(name, role, project)
        local = Local(team, name, tmp / f"{name}.db", project)
        import_runs(local.db, runs)
        local.join()
        out.append(local)
    return out
