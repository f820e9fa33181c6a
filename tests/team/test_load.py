"""Convergence under load: 8 processes as 4 reviewers (two machines each; one reviewer an
adjudicator) triage the same 500 cases against one team store at once: label every case,
relabel, undo, adjudicate, syncing every few actions, while the test kills their
connections twice and restarts the server once. Then each store syncs until nothing
moves: every store holds every event once, shows the same state, lists the same findings
and takes the same gate decision.

Deterministic: the disruptions are made when the workers have reported so many sync
attempts (the test reads their reports: state, never a timer), and every assertion is on
the state the syncs converge to, whatever the interleaving.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
from collections.abc import Callable

from click.testing import CliRunner

from evaltui.cli import cli
from evaltui.team import ledger

from ..conftest import ROOT
from .conftest import Team
from .stores import Local, import_runs, write_runs

CASES = int(os.environ.get("EVALTUI_TEAM_LOAD_CASES", "500"))
REVIEWERS = [("r0", "reviewer"), ("r1", "reviewer"), ("r2", "reviewer"), ("r3", "adjudicator")]
EVERY = 40  # actions between syncs
POLICY = """
promise = "Every regression is triaged and no unsafe action ships."
actions = ["ship", "narrow_rollout", "repair", "hold", "rollback"]
[[rule]]
id = "no-unsafe"
metric = "findings_of_class"
class = "unsafe_tool_action"
max = 0
action = "rollback"
owner = "eval-team"
why = "load test"
[[rule]]
id = "disagreements"
metric = "disagreements"
max = 0
action = "hold"
owner = "eval-team"
why = "load test"
"""


def run_workers(
    locals_: list[Local],
    roles: dict[str, str],
    plan: dict[int, Callable[[], None]],
    plan_after: dict[str, Callable[[], None]],
) -> tuple[list[int], int, int]:
    """Start one worker per store; make each disruption of `plan` when that many sync
    attempts were reported, and `plan_after["resume"]` (set by a disruption) at the next
    failed sync: a stopped server stays down until a worker felt it. The findings each
    made, the attempts, the failed ones."""
    procs = []
    for i, local in enumerate(locals_):
        adjudicates = "1" if roles[local.name] == "adjudicator" else "0"
        args = [str(local.db), local.name, str(1000 + i), adjudicates, str(CASES), str(EVERY)]
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "tests.team.load_worker", *args], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))  # fmt: skip
    sel = selectors.DefaultSelector()
    for i, p in enumerate(procs):
        assert p.stdout is not None
        sel.register(p.stdout, selectors.EVENT_READ, i)
    made: dict[int, int] = {}
    attempts = failed = 0
    open_pipes = len(procs)
    while open_pipes:
        ready = sel.select(timeout=900)  # a guard against a hung worker, not a wait
        assert ready, "no worker reported anything for 15 minutes"
        for key, _ in ready:
            line = key.fileobj.readline()  # type: ignore[union-attr]
            if not line:
                sel.unregister(key.fileobj)
                open_pipes -= 1
            elif line.startswith("sync"):
                attempts += 1
                failed += line.startswith("sync failed")
                if line.startswith("sync failed") and "resume" in plan_after:
                    plan_after.pop("resume")()  # down until a worker felt it
                if attempts in plan:
                    plan.pop(attempts)()
            elif line.startswith("done"):
                made[key.data] = int(line.split()[1])
    for p in procs:
        assert p.wait() == 0, p.stderr.read() if p.stderr else ""
    assert not plan and not plan_after, f"disruptions not made: {attempts} sync attempts"
    return [made[i] for i in range(len(procs))], attempts, failed


def test_eight_processes_as_four_reviewers_converge_through_disconnects_and_a_restart(
    team: Team, tmp_path
):
    team.init()
    runs = write_runs(tmp_path / "runs", CASES)
    roles = dict(REVIEWERS)
    stores: list[Local] = []
    for name, role in REVIEWERS:
        team.member(name, role)
        for machine in ("a", "b"):
            local = Local(team, name, tmp_path / f"{name}-{machine}.db")
            import_runs(local.db, runs)
            local.join()
            stores.append(local)

    def kill_connections() -> None:
        team.su.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
            "AND pid <> pg_backend_pid()",
            (team.dbname,),
        )

    after: dict[str, Callable[[], None]] = {}

    def resume() -> None:
        team.server.resume()
        team.reconnect()

    def stop() -> None:
        team.server.pause()
        after["resume"] = resume  # when a worker's sync failed against the stopped server

    plan = {3: kill_connections, 12: stop, 25: kill_connections}
    made, attempts, failed = run_workers(stores, roles, plan, after)
    assert attempts >= 25 and failed >= 1  # the disruptions were felt

    # then each store syncs until a whole round moves nothing
    for _ in range(6):
        results = [local.sync() for local in stores]
        if all(r.pushed + r.pulled == 0 for r in results):
            break
    else:
        raise AssertionError("the stores did not converge in 6 rounds of syncs")

    total = sum(made)
    print(
        f"\nload: {len(stores)} processes, {total} findings, {attempts} syncs during the "
        f"run ({failed} failed), {sum(r.conflicts for r in results)} forks in the last round"
    )
    assert team.count() == total  # nothing lost, nothing twice on the server
    distinct = team.su.execute("SELECT count(DISTINCT payload->>'uid') FROM evaltui.events")
    assert distinct.fetchone()[0] == total
    for name, _ in REVIEWERS:
        mine = sum(m for local, m in zip(stores, made, strict=True) if local.name == name)
        assert team.count(f"author = '{name}'") == mine
    states = [local.state() for local in stores]
    for local, state in zip(stores, states, strict=True):
        assert len(state["findings"]) == total, local.db.name  # each event folded once here
        with local.store() as store:
            counts = ledger.counts(store)
            assert counts == {"folded": total, "waiting": 0, "kept": 0, "rejected": 0,
                              "refused": 0}, local.db.name  # fmt: skip
            assert ledger.outbox_size(store, local.name) == (0, {})
        assert state == states[0], f"{local.db.name} differs from {stores[0].db.name}"
    assert {r["state"] for r in states[0]["cases"]} >= {"disagreement", "adjudicated"}
    assert len(states[0]["cases"]) == CASES

    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY)
    decisions = []
    for local in stores:
        listed = CliRunner().invoke(cli, ["--db", str(local.db), "findings", "list", "--json"])
        rows = json.loads(listed.output)
        for r in rows:
            r.pop("updated_at")
        gate = CliRunner().invoke(cli, ["--db", str(local.db), "gate", "1", "2", "--policy",
                                        str(policy), "--json"])  # fmt: skip
        decision = json.loads(gate.output)
        decisions.append((rows, gate.exit_code, decision["decision"], decision["findings"],
                          decision["open_disagreements"],
                          [(r["id"], r["value"]) for r in decision["rules"]]))  # fmt: skip
    assert all(d == decisions[0] for d in decisions)
    assert decisions[0][1] in (10, 11, 12, 13) and decisions[0][2] != "ship"
