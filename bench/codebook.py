"""Proposals over reviewers' notes (issue #29; goal: 10,000 notes under 5 s and 300 MB):

- 10,000 notes written like the test fixture's (three modes and noise, seeded);
- 10,000 long notes (500 characters each) drawn from one pool of 2,000 words, so that
  every note shares words with every other: the worst case for the clustering;
- from the store: `evaltui codebook propose 1 2 --json` over the first case's notes
  written as findings on the demo comparison (28 reviewers per case), the whole command
  (imports, reading the notes through triage, proposing, the candidate-only flags), and
  its ratio to `propose` alone over the same notes in the same run (the store's cost).

    BENCH_ONLY=codebook make bench
    BENCH_CODEBOOK_N=20000 BENCH_ONLY=codebook make bench

Each case runs in its own process (`python bench/codebook.py --child FILE`, or `--store
DB`), whose peak RSS (VmHWM) includes Python, numpy and scipy and the notes themselves.
"""

from __future__ import annotations

import json
import os
import random
import resource
import runpy
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIMIT_MB = 300
GOAL_S = 5.0


def _long_notes(dst: Path, n: int) -> None:
    rng = random.Random(3)
    letters = "abcdefghijklmnopqrstuvwxyz"
    pool = ["".join(rng.choice(letters) for _ in range(rng.randint(4, 9))) for _ in range(2000)]
    with dst.open("w") as fh:
        for i in range(n):
            text = " ".join(rng.choice(pool) for _ in range(80))[:500]
            fh.write(json.dumps({"id": f"{i:07d}", "text": text, "case_key": f"s/c{i % 997}",
                                 "at": f"2025-01-01T00:00:{i % 60:02d}+00:00", "class_key": None,
                                 "mode": None}) + "\n")  # fmt: skip


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def store_child(db: str) -> None:
    """`evaltui codebook propose 1 2 --json` as a user runs it, the one child of this
    process: wall time, CPU time and peak RSS (the children's, so that command's alone),
    and what it proposed."""
    cmd = [sys.executable, "-m", "evaltui", "--db", db, "codebook", "propose", "1", "2", "--json"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"seconds": seconds, "cpu_seconds": ru.ru_utime + ru.ru_stime,
                      "peak_rss_mb": ru.ru_maxrss / 1024,
                      "proposals": len(json.loads(out.stdout)["proposals"])}))  # fmt: skip


def notes_store(workdir: Path, src: Path, n: int) -> Path:
    """The demo store with `src`'s notes written as findings on its comparison (a note
    each, no class; 28 reviewers per case for 10,000), kept for the next run."""
    from evaltui import service
    from evaltui.review import triage
    from evaltui.store import Store

    db = workdir / f"notes-{n}.db"
    if db.exists():
        return db
    part = workdir / f"notes-{n}.db.part"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{part}{suffix}").unlink(missing_ok=True)
    with Store(part) as store:
        service.load_demo(store)
        ids = [r[0] for r in store.conn.execute("SELECT id FROM cases ORDER BY id")]
        with src.open() as fh:
            for i, line in enumerate(fh):
                text = json.loads(line)["text"]
                reviewer = f"r{i // len(ids):03d}"
                triage.label(store, 1, 2, ids[i % len(ids)], note=text, reviewer=reviewer)
    part.rename(db)
    return db


def child(src: str) -> None:
    t0 = time.perf_counter()
    from evaltui.review.codebook import Note, propose
    from evaltui.review.taxonomy import DEFAULT_CLASSES

    t_import = time.perf_counter() - t0
    notes = []
    with open(src) as fh:
        for line in fh:
            row = json.loads(line)
            row.pop("mode", None)
            notes.append(Note(**row))
    t1 = time.perf_counter()
    result = propose(notes, DEFAULT_CLASSES)
    seconds = time.perf_counter() - t1
    peak = _peak_mb()
    ru = resource.getrusage(resource.RUSAGE_SELF)  # the whole process, as the command's
    print(json.dumps({"process_cpu_seconds": ru.ru_utime + ru.ru_stime,
        "notes": result.notes, "seconds": seconds, "import_seconds": t_import,
        "peak_rss_mb": peak, "proposals": len(result.proposals),
        "unclustered": len(result.unclustered), "rounds": result.settings.rounds,
    }))  # fmt: skip


def bench_codebook(workdir: Path, figures: dict[str, Any]) -> None:
    n = int(os.environ.get("BENCH_CODEBOOK_N", "10000"))
    work = workdir / "codebook"
    work.mkdir(parents=True, exist_ok=True)
    typical = work / f"notes-{n}.jsonl"
    if not typical.exists():
        gen = runpy.run_path(str(ROOT / "fixtures" / "codebook" / "generate_notes.py"))
        gen["write"](typical, gen["generate"](n, 1))
    worst = work / f"long-notes-{n}.jsonl"
    if not worst.exists():
        _long_notes(worst, n)
    env = {**os.environ, "EVALTUI_CODEBOOK_MAX_NOTES": str(max(n + 100, 10_000))}
    rows = []
    print(f"codebook: proposals (goal {GOAL_S:.0f} s and {LIMIT_MB} MB peak)")
    for label, src in ((f"{n:,} notes like the fixture's", typical),
                       (f"{n:,} long notes sharing one word pool", worst)):  # fmt: skip
        out = subprocess.run(
            [sys.executable, str(Path(__file__)), "--child", str(src)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        got = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append({"case": label, **got})
        ok = got["seconds"] < GOAL_S and got["peak_rss_mb"] < LIMIT_MB
        print(f"  {label}: {got['seconds']:.2f} s (+{got['import_seconds']:.2f} s imports), "
              f"{got['peak_rss_mb']:.0f} MB, {got['proposals']} proposals, "
              f"{got['unclustered']} unclustered, {got['rounds']} rounds; "
              f"{'OK' if ok else 'OVER'}")  # fmt: skip
    # From the store: the whole command over the first case's notes, against propose alone
    # over the same notes measured above (its imports included, as the command's are).
    db = notes_store(work, typical, n)
    out = subprocess.run([sys.executable, str(Path(__file__)), "--store", str(db)],
                         capture_output=True, text=True, check=True, env=env)  # fmt: skip
    got = json.loads(out.stdout.strip().splitlines()[-1])
    alone, alone_cpu = (
        rows[0]["seconds"] + rows[0]["import_seconds"],
        rows[0]["process_cpu_seconds"],
    )
    got["ratio_to_propose_alone"] = got["seconds"] / alone
    got["cpu_ratio_to_propose_alone"] = got["cpu_seconds"] / alone_cpu
    rows.append({"case": f"codebook propose 1 2 --json, {n:,} notes in the store", **got})
    ok = got["seconds"] < GOAL_S and got["peak_rss_mb"] < LIMIT_MB
    print(f"  the command from the store: {got['seconds']:.2f} s ({got['cpu_seconds']:.2f} s CPU), "
          f"{got['ratio_to_propose_alone']:.1f}x the wall time of propose alone over the same "
          f"notes ({alone:.2f} s with its imports), {got['cpu_ratio_to_propose_alone']:.1f}x its "
          f"CPU time ({alone_cpu:.2f} s), {got['peak_rss_mb']:.0f} MB, "
          f"{got['proposals']} proposals; {'OK' if ok else 'OVER'}")  # fmt: skip
    figures["codebook"] = rows


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2])
    elif len(sys.argv) > 2 and sys.argv[1] == "--store":
        store_child(sys.argv[2])
    else:
        bench_codebook(ROOT / "bench" / "out", {})
