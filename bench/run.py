"""evaltui benchmark harness: figures as ratios against baselines measured in the same run.

    make bench                      # every section; 1,000,000 results (about 1 GB of JSONL)
    BENCH_N=100000 make bench       # a quicker look
    BENCH_ONLY=inspect make bench   # some sections only: import, inspect, compare, bulk,
                                    # production (the estimate and the margin, #28)
    BENCH_DIR=/big/disk make bench  # where the generated files go (default bench/out)

Each timed step runs in its own process so its peak RSS is its own.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import runpy
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable

TASKS = ["billing", "refunds", "account_access", "policy"]
RISKS = ["low", "medium", "high"]
QUALITY = ["good", "stale", "missing"]
INTENTS = ["question", "complaint", "action_request", "adversarial"]
FILLER = (
    "The customer asks about the renewal price of their plan, whether a discount still applies "
    "after switching to annual billing, and how a duplicate charge is refunded. "
)


def generate(
    path: Path, n: int, run: str = "bench", seed: int = 0, role: str = "candidate", flip: int = 0
) -> int:
    """Write `n` native results of about 1 KB each; returns the file size.

    With `flip`, every flip-th case's verdict is turned over (pass <-> fail) and
    its output changed: a candidate that differs from the seed-0 baseline on 1/flip
    of the cases.
    """
    with path.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps({"run": {"name": run, "role": role, "suite": "bench"}}) + "\n")
        for i in range(n):
            h = (i * 2654435761 + seed) & 0xFFFFFFFF
            verdict = "pass" if h % 10 < 7 else ("fail" if h % 10 < 9 else "error")
            if flip and i % flip == 0:
                verdict = "fail" if verdict == "pass" else "pass"
                h ^= 0x5A5A
            rec = {
                "case_key": f"case-{i:07d}",
                "input": f"Case {i}: " + FILLER + FILLER[: h % 60],
                "expected": "Explain the renewal price, keep the discount, refund duplicates in 5-7 days. "
                * 2,
                "attributes": {
                    "task": TASKS[h % 4],
                    "risk": RISKS[(h >> 3) % 3],
                    "source_quality": QUALITY[(h >> 5) % 3],
                    "intent": INTENTS[(h >> 7) % 4],
                },
                "output": f"Answer {i}: " + FILLER + "Your case reference is " + str(h),
                "verdict": verdict,
                "score": round((h % 1000) / 1000, 3),
                "criteria": {
                    "correctness": {
                        "verdict": "pass" if h % 3 else "fail",
                        "score": (h % 100) / 100,
                    },
                    "grounded": {"verdict": "pass" if h % 5 else "fail"},
                },
                "latency_ms": float(200 + h % 3000),
                "cost": (h % 500) / 100000,
                "explanation": "Matches the reference on price and refund timing.",
            }
            fh.write(json.dumps(rec) + "\n")
    return path.stat().st_size


# -- the timed steps (each in a child process) -----------------------------------------


def step_evaltui(src: Path, db: Path) -> dict[str, Any]:
    from evaltui import service
    from evaltui.store import Store

    t0 = time.perf_counter()
    with Store(db) as store:
        (out,) = service.import_path(store, src)
    return {"seconds": time.perf_counter() - t0, "results": out.results}


BASELINE_SCHEMA = """
CREATE TABLE flat (
    id INTEGER PRIMARY KEY, run_id INTEGER, suite TEXT, case_key TEXT, epoch INTEGER,
    input TEXT, expected TEXT, attributes TEXT, output TEXT, verdict TEXT, score REAL,
    criteria TEXT, latency_ms REAL, cost REAL, explanation TEXT, error TEXT
);
-- the same two indexes evaltui maintains: case identity, and the compare index
CREATE INDEX flat_case ON flat(suite, case_key);
CREATE INDEX flat_compare ON flat(run_id, case_key, epoch, verdict, score);
"""


def step_sqlite3(src: Path, db: Path) -> dict[str, Any]:
    """Plain sqlite3: read, json.loads, executemany in one transaction. No validation."""
    t0 = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(BASELINE_SCHEMA)
    conn.execute("BEGIN")
    batch: list[tuple[Any, ...]] = []
    sql = "INSERT INTO flat VALUES (NULL, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    n = 0
    dumps = json.dumps
    with src.open("rb") as fh:
        next(fh)  # run header
        for raw in fh:
            r = json.loads(raw)
            batch.append(
                (
                    "bench", r["case_key"], r.get("epoch", 0), r["input"], r.get("expected"),
                    dumps(r.get("attributes", {})), r["output"], r["verdict"], r.get("score"),
                    dumps(r.get("criteria", {})), r.get("latency_ms"), r.get("cost"),
                    r.get("explanation"), r.get("error"),
                )
            )  # fmt: skip
            if len(batch) >= 2000:
                conn.executemany(sql, batch)
                n += len(batch)
                batch.clear()
    conn.executemany(sql, batch)
    n += len(batch)
    conn.execute("COMMIT")
    conn.close()
    return {"seconds": time.perf_counter() - t0, "results": n}


def step_sqlite_utils(src: Path, db: Path) -> dict[str, Any]:
    body = src.with_suffix(".body.jsonl")
    if not body.exists():  # the same records without evaltui's run header line
        with src.open("rb") as fin, body.open("wb") as fout:
            next(fin)
            shutil.copyfileobj(fin, fout, 1 << 20)
    exe = Path(PY).parent / "sqlite-utils"
    t0 = time.perf_counter()
    subprocess.run([str(exe), "insert", str(db), "results", str(body), "--nl"], check=True)
    return {"seconds": time.perf_counter() - t0, "results": None}


def step_inspect_read(src: Path, db: Path) -> dict[str, Any]:
    """inspect_ai's own reader, samples included: what `inspect view` does to open a log."""
    from inspect_ai.log import read_eval_log

    t0 = time.perf_counter()
    log = read_eval_log(str(src))
    return {"seconds": time.perf_counter() - t0, "results": len(log.samples or [])}


def step_inspect_generate(src: Path, dst: Path) -> dict[str, Any]:
    """A large .eval written by inspect_ai itself: the real fixture's samples, repeated."""
    from inspect_ai.log import read_eval_log, write_eval_log

    n = int(os.environ.get("BENCH_INSPECT_N", "5000"))
    log = read_eval_log(str(src))
    base = log.samples or []
    samples = []
    for i in range(n):
        sample = base[i % len(base)].model_copy(deep=True)
        sample.id = f"{sample.id}-{i:06d}"
        samples.append(sample)
    log.samples = samples
    t0 = time.perf_counter()
    write_eval_log(log, str(dst))
    return {"seconds": time.perf_counter() - t0, "results": n}


def _own_peak_mb(fallback: float) -> float:
    """This process's peak RSS: VmHWM where there is /proc (ru_maxrss carries the parent's
    peak over across exec on Linux), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return fallback


def child(step: str, src: str, db: str) -> None:
    out = STEPS[step](Path(src), Path(db))
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # evaltui's reader process, sqlite-utils
    out["peak_rss_mb"] = _own_peak_mb(me.ru_maxrss / 1024)
    out["children_rss_mb"] = kids.ru_maxrss / 1024
    out["cpu_seconds"] = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
    if step == "sqlite-utils":
        out["peak_rss_mb"] = kids.ru_maxrss / 1024
        out["children_rss_mb"] = 0.0
    print(json.dumps(out))


def run_step(step: str, src: Path, workdir: Path, db: Path | None = None) -> dict[str, Any]:
    reuse = db is not None and (step.startswith(("compare", "app")))
    db = db or workdir / f"{step}.db"
    if not reuse:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [PY, __file__, "--child", step, str(src), str(db)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"bench step {step} failed:\n{proc.stderr}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if step in ("inspect-read", "inspect-generate") or step.startswith(
        ("compare", "app", "memory")
    ):
        return out
    # Every step must have written every record: count them in its own store.
    table = {"sqlite3": "flat"}.get(step, "results")
    with sqlite3.connect(db) as conn:
        out["rows"] = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    return out


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name"):
                cpu = row.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"


def bench_import(workdir: Path, figures: dict[str, Any]) -> None:
    n = int(os.environ.get("BENCH_N", "1000000"))
    src = workdir / f"results-{n}.jsonl"
    if not src.exists():
        t0 = time.perf_counter()
        size = generate(src, n)
        print(
            f"generated {n:,} results ({size / 1e6:,.0f} MB) in {time.perf_counter() - t0:.1f}s: {src}"
        )
    size = src.stat().st_size
    figures.update({"n": n, "bytes": size})
    print(f"import of {n:,} results ({size / 1e6:,.0f} MB):")
    # The three steps run in turn, BENCH_REPEAT times (default 3): the machine's speed drifts
    # by several percent between minutes, so each ratio is the median of per-round ratios.
    import statistics

    repeat = int(os.environ.get("BENCH_REPEAT", "3"))
    rounds: list[dict[str, Any]] = []
    for r in range(repeat):
        got = {}
        for step in ("sqlite3", "evaltui", "sqlite-utils"):
            out = run_step(step, src, workdir)
            if out["rows"] != n:
                raise SystemExit(f"bench step {step} wrote {out['rows']:,} rows, expected {n:,}")
            got[step] = out
            reader = (
                f" + reader {out['children_rss_mb']:.1f} MB" if out.get("children_rss_mb") else ""
            )
            print(
                f"  round {r + 1}: {step:<13} {out['seconds']:8.2f} s  (CPU {out['cpu_seconds']:6.2f} s)"
                f"   peak RSS {out['peak_rss_mb']:7.1f} MB{reader}"
            )
        rounds.append(got)
    for step in ("sqlite3", "evaltui", "sqlite-utils"):
        figures[step] = {
            "seconds": statistics.median(x[step]["seconds"] for x in rounds),
            "rows": n,
            "peak_rss_mb": max(x[step]["peak_rss_mb"] for x in rounds),
            "children_rss_mb": max(x[step].get("children_rss_mb", 0.0) for x in rounds),
            "cpu_seconds": statistics.median(x[step]["cpu_seconds"] for x in rounds),
            "rounds": [x[step]["seconds"] for x in rounds],
            "results": rounds[-1][step].get("results"),
        }
    ratio_ab = statistics.median(x["evaltui"]["seconds"] / x["sqlite3"]["seconds"] for x in rounds)
    ratio_ca = statistics.median(
        x["sqlite-utils"]["seconds"] / x["evaltui"]["seconds"] for x in rounds
    )
    a, b, c = (figures[k]["seconds"] for k in ("evaltui", "sqlite3", "sqlite-utils"))
    print(f"  medians: sqlite3 {b:.2f} s, evaltui {a:.2f} s, sqlite-utils {c:.2f} s")
    figures["ratios"] = {"a/b": ratio_ab, "c/a": ratio_ca}
    a_b, c_a = ratio_ab, ratio_ca
    # Both of evaltui's processes count: the importer and, for large files, its reader.
    rss = figures["evaltui"]["peak_rss_mb"] + figures["evaltui"]["children_rss_mb"]
    print(
        f"  a/b  evaltui / plain sqlite3 executemany = {a_b:5.2f}   (target <= 1.3)  {'OK' if a_b <= 1.3 else 'MISSED'}"
    )
    print(
        f"  c/a  sqlite-utils insert --nl / evaltui  = {c_a:5.2f}   (target >= 2)    {'OK' if c_a >= 2 else 'MISSED'}"
    )
    print(
        f"  evaltui peak RSS = {rss:.0f} MB, importer and reader process together"
        f"   (target < 200 MB)  {'OK' if rss < 200 else 'MISSED'}"
    )


def bench_inspect(workdir: Path, figures: dict[str, Any]) -> None:
    """evaltui's import of an Inspect .eval next to inspect_ai.log.read_eval_log of the same file."""
    import importlib.util

    if importlib.util.find_spec("inspect_ai") is None:
        print(
            "inspect: skipped (inspect-ai is not installed here; `make bench` uses .venv-bench, which has it)"
        )
        return
    n = int(os.environ.get("BENCH_INSPECT_N", "5000"))
    src = workdir / f"inspect-{n}.eval"
    if not src.exists():
        fixture = next((ROOT / "fixtures" / "inspect_ai" / "baseline").glob("*.eval"))
        run_step("inspect-generate", fixture, workdir, db=src)
    print(
        f"Inspect .eval with {n:,} samples ({src.stat().st_size / 1e6:,.1f} MB, Zstandard members):"
    )
    ours = run_step("inspect-evaltui", src, workdir)
    theirs = run_step("inspect-read", src, workdir)
    if ours["rows"] != n or theirs["results"] != n:
        raise SystemExit(
            f"inspect bench: expected {n} samples, got {ours['rows']} / {theirs['results']}"
        )
    ratio = ours["seconds"] / theirs["seconds"]
    figures["inspect"] = {"n": n, "evaltui": ours, "read_eval_log": theirs, "ratio": ratio}
    print(
        f"  evaltui import          {ours['seconds']:8.2f} s   peak RSS {ours['peak_rss_mb']:7.1f} MB"
    )
    print(
        f"  inspect read_eval_log   {theirs['seconds']:8.2f} s   peak RSS {theirs['peak_rss_mb']:7.1f} MB"
    )
    print(
        f"  evaltui / read_eval_log = {ratio:5.2f}   (target <= 1: no slower)  {'OK' if ratio <= 1 else 'MISSED'}"
    )


def compare_store(workdir: Path, n: int) -> Path:
    """A store holding a baseline and a candidate of `n` cases each (1/20 flipped)."""
    db = workdir / f"compare-{n}.db"
    if db.exists():
        return db
    from evaltui import service
    from evaltui.store import Store

    files = []
    for name, role, flip in (("base", "production", 0), ("cand", "candidate", 20)):
        src = workdir / f"compare-{name}-{n}.jsonl"
        if not src.exists():
            generate(src, n, run=f"{name}-{n}", role=role, flip=flip)
        files.append(src)
    tmp = db.with_suffix(".tmp")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    with Store(tmp) as store:
        for src in files:
            service.import_path(store, src)
    tmp.rename(db)
    return db


PLAIN_CLASSIFY = """
SELECT SUM(b.verdict = 'pass' AND c.verdict <> 'pass'), SUM(b.verdict <> 'pass' AND c.verdict = 'pass'),
       SUM(c.verdict IS NULL)
FROM results b LEFT JOIN results c ON c.run_id = 2 AND c.case_id = b.case_id AND c.epoch = b.epoch
WHERE b.run_id = 1
"""


def step_compare_engine(db: Path, _unused: Path) -> dict[str, Any]:
    """Three comparisons in a row; the figure is the median (the first also reported)."""
    import statistics

    from evaltui.compare import Comparison

    times, pages = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        with Comparison(db, 1, 2) as cmp:
            counts = cmp.counts()
            segments = cmp.segments()
            t1 = time.perf_counter()
            first = cmp.page(limit=60)
            t2 = time.perf_counter()
        times.append(t1 - t0)
        pages.append(t2 - t1)
    return {
        "seconds": statistics.median(times),
        "first_run_seconds": times[0],
        "first_page_seconds": statistics.median(pages),
        "regressed": counts["regressed"],
        "improved": counts["improved"],
        "segments": len(segments),
        "first_page_rows": len(first),
    }


def step_compare_plain(db: Path, _unused: Path) -> dict[str, Any]:
    """The floor: one LEFT JOIN over the covering index, counting flips (no segments, no list)."""
    conn = sqlite3.connect(db)
    t0 = time.perf_counter()
    regressed, improved, _dropped = conn.execute(PLAIN_CLASSIFY).fetchone()
    return {"seconds": time.perf_counter() - t0, "regressed": regressed, "improved": improved}


def step_app(db: Path, _unused: Path) -> dict[str, Any]:
    """The real app, headless: time to the first case shown, a step to the next case, an unbound key."""
    import asyncio
    import statistics

    from evaltui.tui.app import EvaltuiApp
    from evaltui.tui.screens.compare import CompareScreen

    out: dict[str, Any] = {}

    async def run() -> None:
        app = EvaltuiApp(db)
        async with app.run_test(size=(160, 50)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            # The screen notes when it put a case on screen (`shown_at`); Pilot's own
            # press returns only once the app is idle, after the figures have drawn too.
            t0 = time.perf_counter()
            await pilot.press("enter")
            while not (isinstance(app.screen, CompareScreen) and app.screen.shown_at):
                await pilot.pause(0.005)
            out["first_case_seconds"] = app.screen.shown_at - t0
            screen = app.screen
            steps, idle = [], []
            for _ in range(40):
                before = screen.current_detail
                t = time.perf_counter()
                await pilot.press("j")
                while screen.current_detail is before:
                    await pilot.pause(0.001)
                steps.append(time.perf_counter() - t)
            for _ in range(40):
                t = time.perf_counter()
                await pilot.press("x")  # bound to nothing
                await pilot.pause(0.001)
                idle.append(time.perf_counter() - t)
            out["step_seconds"] = statistics.median(steps)
            out["unbound_key_seconds"] = statistics.median(idle)
            out["position"] = screen.position
            # Open the comparison twice more (back to the runs, Enter): the median is the figure.
            opens = [out["first_case_seconds"]]
            for _ in range(2):
                await pilot.press("escape")
                await pilot.pause(0.05)
                t0 = time.perf_counter()
                await pilot.press("enter")
                while not (
                    isinstance(app.screen, CompareScreen)
                    and app.screen is not screen
                    and app.screen.shown_at
                ):
                    await pilot.pause(0.005)
                opens.append(app.screen.shown_at - t0)
                screen = app.screen
            out["open_seconds"] = statistics.median(opens)

    asyncio.run(run())
    out["seconds"] = out["open_seconds"]
    return out


def bench_compare(workdir: Path, figures: dict[str, Any]) -> None:
    n = int(os.environ.get("BENCH_COMPARE_N", "500000"))
    small_n = 500
    print(f"compare: 2 runs x {n:,} cases (1,000,000 results at the default size):")
    t0 = time.perf_counter()
    db = compare_store(workdir, n)
    small = compare_store(workdir, small_n)
    print(f"  stores ready in {time.perf_counter() - t0:.1f}s")
    plain = run_step("compare-plain", db, workdir, db=db)
    engine = run_step("compare-engine", db, workdir, db=db)
    print(f"  plain LEFT JOIN flip count  {plain['seconds']:8.2f} s")
    print(
        f"  evaltui changes + segments  {engine['seconds']:8.2f} s (median of 3; first {engine['first_run_seconds']:.2f} s)"
        f"   peak RSS {engine['peak_rss_mb']:6.1f} MB"
        f"   (target <= 1 s: {'OK' if engine['seconds'] <= 1 else 'MISSED'}; "
        f"{engine['seconds'] / plain['seconds']:.1f}x the plain join)"
    )
    if (engine["regressed"], engine["improved"]) != (plain["regressed"], plain["improved"]):
        raise SystemExit(f"compare bench: engine {engine} disagrees with the plain join {plain}")
    app_big = run_step("app", db, workdir, db=db)
    app_small = run_step("app", small, workdir, db=small)
    ratio_sizes = app_big["step_seconds"] / app_small["step_seconds"]
    ratio_idle = app_big["step_seconds"] / app_big["unbound_key_seconds"]
    figures["compare"] = {
        "n": n, "plain": plain, "engine": engine, "app": app_big, "app_small": app_small,
        "step_ratio_sizes": ratio_sizes, "step_ratio_unbound": ratio_idle,
    }  # fmt: skip
    print(
        f"  app: Enter to first case shown {app_big['open_seconds']:.2f} s at {2 * n:,} results, median of 3 "
        f"(first {app_big['first_case_seconds']:.2f} s) (target <= 1 s: {'OK' if app_big['open_seconds'] <= 1 else 'MISSED'})"
    )
    print(
        f"  app: step to next case {app_big['step_seconds'] * 1000:.1f} ms at {2 * n:,} results, "
        f"{app_small['step_seconds'] * 1000:.1f} ms at {2 * small_n:,}: ratio {ratio_sizes:.2f} "
        f"(target <= 1.2: {'OK' if ratio_sizes <= 1.2 else 'MISSED'})"
    )
    print(
        f"  app: unbound key {app_big['unbound_key_seconds'] * 1000:.1f} ms; step / unbound = {ratio_idle:.2f} "
        f"(target <= 2: {'OK' if ratio_idle <= 2 else 'MISSED'})"
    )
    print(
        f"  app peak RSS {app_big['peak_rss_mb']:.0f} MB at {2 * n:,} results, "
        f"{app_small['peak_rss_mb']:.0f} MB at {2 * small_n:,}"
    )


def bench_pty(workdir: Path, figures: dict[str, Any]) -> None:
    """The real process in a real pseudo-terminal beside a minimal Textual app
    (bench/pty_harness.py): steps, triage keys, keys typed ahead, start-up, Enter."""
    import subprocess

    sys.path.insert(0, str(Path(__file__).parent))
    import pty_harness

    from evaltui.compare import Comparison

    n = int(os.environ.get("BENCH_COMPARE_N", "500000"))
    evaltui = Path(sys.executable).parent / "evaltui"
    demo = workdir / "pty-demo-source.db"
    if not demo.exists():
        subprocess.run([str(evaltui), "--db", str(demo), "demo", "--no-open"], check=True,
                       capture_output=True)  # fmt: skip
    big = compare_store(workdir, n)
    stores = {}
    for label, db, fallback in (("demo store", demo, 3), (f"2 x {n:,} cases", big, None)):
        with Comparison(db, 1, 2, fallback) as cmp:
            first = cmp.page(limit=1)[0]
        stores[label] = (db, f"{first.suite} / {first.case_key}".encode())
    print(f"pty: the real app in a {pty_harness.COLS}x{pty_harness.ROWS} pseudo-terminal "
          "beside a minimal Textual app, in this run:")  # fmt: skip
    found = pty_harness.measure(evaltui, sys.executable, workdir, stores)
    figures["pty"] = found
    pty_harness.report(found)


def bench_bulk(workdir: Path, figures: dict[str, Any]) -> None:
    """Retire, then restore, N keys (CLI twin: evaltui retire KEY...) against a plain
    sqlite3 UPDATE of the same rows by key, measured in this run."""
    import sqlite3

    from evaltui import service
    from evaltui.review import lifecycle
    from evaltui.store import Store

    n = int(os.environ.get("BENCH_BULK_N", "100000"))
    src = workdir / f"bulk-{n}.jsonl"
    with src.open("w") as fh:
        fh.write(json.dumps({"run": {"name": "bulk"}}) + "\n")
        for i in range(n):
            fh.write(
                json.dumps({"suite": "s", "case_key": f"k{i:07d}", "input": "x", "verdict": "pass"})
                + "\n"
            )
    db = workdir / "bulk.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    keys = [f"k{i:07d}" for i in range(n)]
    with Store(db) as store:
        service.import_path(store, src)
        t0 = time.perf_counter()
        ids = lifecycle.resolve_cases(store, keys)
        retired = lifecycle.retire(store, ids, "bad_case")
        t_retire = time.perf_counter() - t0
        t0 = time.perf_counter()
        lifecycle.restore(store, lifecycle.resolve_cases(store, keys))
        t_restore = time.perf_counter() - t0
    conn = sqlite3.connect(db, isolation_level=None)
    t0 = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("UPDATE cases SET status = 'retired' WHERE case_key = ?", [(k,) for k in keys])
    conn.execute("ROLLBACK")
    t_plain = time.perf_counter() - t0
    conn.close()
    figures["bulk"] = {"n": n, "retire_seconds": t_retire, "restore_seconds": t_restore,
                       "plain_update_seconds": t_plain, "retired": retired}  # fmt: skip
    print(
        f"bulk: retire {n:,} keys (resolve, update, one event each) {t_retire:.2f} s, restore {t_restore:.2f} s;"
    )
    print(f"  plain sqlite3 UPDATE by key of the same rows {t_plain:.2f} s: ratio {t_retire / t_plain:.1f}x "
          f"(target: seconds: {'OK' if t_retire <= 10 else 'MISSED'})")  # fmt: skip


def _promptfoo_json(dst: Path, target_bytes: int) -> int:
    """The bundled promptfoo file, its rows repeated (with distinct case ids) to the size."""
    fixture = ROOT / "fixtures" / "promptfoo" / "candidate.json"
    obj = json.loads(fixture.read_text())
    rows = obj["results"]["results"]
    obj["results"]["results"] = []
    head, tail = json.dumps(obj).split('"results": []', 1)
    written = n = 0
    with dst.open("w") as fh:
        fh.write(head + '"results": [')
        while written < target_bytes:
            r = rows[n % len(rows)]
            row = {**r, "testIdx": n, "vars": {**(r.get("vars") or {}), "case_id": f"c{n}"}}
            text = ("," if n else "") + json.dumps(row)
            fh.write(text)
            written += len(text)
            n += 1
        fh.write("]" + tail)
    return n


def _zstd_bomb(dst: Path, expands_to: int, claimed: int | None) -> None:
    """The bundled .eval with one sample member replaced by `expands_to` zero bytes,
    Zstandard-compressed as Inspect writes members; `claimed` lies in the zip headers."""
    import struct
    import zipfile

    import zstandard

    from evaltui.importers.inspect_ai import _read_member

    good = next((ROOT / "fixtures" / "inspect_ai" / "candidate").glob("*.eval"))
    packed_path = dst.with_suffix(".zst")
    with packed_path.open("wb") as raw, zstandard.ZstdCompressor().stream_writer(raw) as w:
        block = b"\0" * (1 << 24)
        for _ in range(expands_to // len(block)):
            w.write(block)
    packed = packed_path.read_bytes()
    packed_path.unlink()
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(dst, "w") as out:
        victim = next(i.filename for i in src.infolist() if i.filename.startswith("samples/"))
        for info in src.infolist():
            if info.filename != victim:
                out.writestr(info.filename, bytes(_read_member(good, src, info)),
                             compress_type=zipfile.ZIP_DEFLATED)  # fmt: skip
        out.writestr(victim, packed, compress_type=zipfile.ZIP_STORED)
    data = bytearray(dst.read_bytes())
    size = claimed if claimed is not None else expands_to & 0xFFFFFFFF
    for sig, method_at, size_at, name_len_at, name_at in (
        (b"PK\x03\x04", 8, 22, 26, 30), (b"PK\x01\x02", 10, 24, 28, 46)
    ):  # fmt: skip
        at = data.find(sig)
        while at != -1:
            n = struct.unpack("<H", data[at + name_len_at : at + name_len_at + 2])[0]
            if data[at + name_at : at + name_at + n] == victim.encode():
                data[at + method_at : at + method_at + 2] = struct.pack("<H", 93)
                data[at + size_at : at + size_at + 4] = struct.pack("<I", size)
                break
            at = data.find(sig, at + 4)
    dst.write_bytes(bytes(data))


def step_memory_import(src: Path, db: Path) -> dict[str, Any]:
    from evaltui import service
    from evaltui.errors import InputError
    from evaltui.store import Store

    t0 = time.perf_counter()
    with Store(db) as store:
        try:
            out = service.import_path(store, src)
            outcome = f"imported {sum(o.results for o in out):,} results"
        except InputError as exc:
            outcome = f"refused: {exc.detail}"
    return {"seconds": time.perf_counter() - t0, "outcome": outcome}


def step_memory_json_load(src: Path, db: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    with src.open("rb") as fh:
        n = len(json.load(fh)["results"]["results"])
    return {"seconds": time.perf_counter() - t0, "outcome": f"json.load: {n:,} rows"}


def bench_memory(workdir: Path, figures: dict[str, Any]) -> None:
    """Peak memory of an import, whatever the input (docs/security.md): a 300 MB
    promptfoo JSON (against json.load of the same file, measured here), a 1 GB
    single-line JSONL, and .eval archives whose member expands to 3 GiB."""
    mb = int(os.environ.get("BENCH_MEMORY_MB", "300"))
    cases = []
    pf = workdir / f"promptfoo-{mb}mb.json"
    if not pf.exists():
        _promptfoo_json(pf, mb << 20)
    cases.append(("promptfoo JSON", pf))
    line = workdir / "one-line-1gb.jsonl"
    if not line.exists():
        with line.open("wb") as fh:
            fh.write(b'{"suite": "s", "case_key": "a", "input": "')
            block = b"x" * (1 << 24)
            for _ in range(64):
                fh.write(block)
            fh.write(b'", "verdict": "pass"}\n')
    cases.append(("1 GB single-line JSONL", line))
    for label, claimed in (("honest header", None), ("header claims 100 bytes", 100)):
        bomb = workdir / f"bomb-{claimed or 'honest'}.eval"
        if not bomb.exists():
            _zstd_bomb(bomb, 3 << 30, claimed)
        cases.append((f"3 GiB zstd member, {label}", bomb))
    base = run_step("memory-json-load", pf, workdir)
    rows = []
    print("memory: peak RSS of one import (CLI process and its reader process), limit 300 MB")
    print(f"  baseline json.load of the {pf.stat().st_size / 1e6:.0f} MB promptfoo JSON: "
          f"{base['peak_rss_mb']:.0f} MB, {base['seconds']:.1f} s")  # fmt: skip
    for label, path in cases:
        out = run_step("memory-import", path, workdir)
        peak = max(out["peak_rss_mb"], out["children_rss_mb"])
        rows.append({"input": label, "bytes": path.stat().st_size, "peak_rss_mb": peak,
                     "seconds": out["seconds"], "outcome": out["outcome"]})  # fmt: skip
        ratio = f", {peak / base['peak_rss_mb']:.2f}x json.load" if path == pf else ""
        print(f"  {label} ({path.stat().st_size / 1e6:,.1f} MB on disk): {peak:.0f} MB{ratio}, "
              f"{out['seconds']:.1f} s, {'OK' if peak < 300 else 'OVER'}; {out['outcome'][:90]}")  # fmt: skip
    figures["memory"] = {"baseline_json_load_mb": base["peak_rss_mb"], "imports": rows}


def _agent_lines(dst: Path, n: int, with_paths: bool, as_text: bool = False) -> None:
    """`n` native results of an agent run, each with a ~50 KB trajectory (or none; or,
    `as_text`, the same transcript carried as the output's text)."""
    import random

    rng = random.Random(7)
    words = [
        "account",
        "refund",
        "policy",
        "plan",
        "annual",
        "charge",
        "days",
        "eligible",
        "credit",
    ]
    with dst.open("w") as fh:
        for i in range(n):
            row: dict[str, Any] = {"suite": "agents", "case_key": f"case-{i:06d}", "verdict": "pass" if i % 3 else "fail",
                                   "input": "help me with my account", "output": "done [kb/refunds#1]"}  # fmt: skip
            if with_paths:
                steps: list[dict[str, Any]] = [
                    {"kind": "message", "role": "user", "text": "help me with my account"}
                ]
                for turn in range(1, 13):
                    steps.append(
                        {
                            "kind": "message",
                            "role": "assistant",
                            "turn": turn,
                            "text": "",
                            "latency_ms": 400.0,
                            "tokens": 300,
                        }
                    )
                    steps.append({"kind": "tool_call", "turn": turn, "name": rng.choice(["lookup", "search", "refund"]),
                                  "call_id": f"c{turn}", "arguments": {"account_id": f"A-{i % 1000}"}})  # fmt: skip
                    text = " ".join(rng.choice(words) for _ in range(600))
                    steps.append(
                        {
                            "kind": "tool_result",
                            "turn": turn,
                            "call_id": f"c{turn}",
                            "name": "lookup",
                            "text": text,
                        }
                    )
                if as_text:
                    row["output"] = json.dumps(steps)
                else:
                    row["trajectory"] = steps
            fh.write(json.dumps(row) + "\n")


def bench_agents(workdir: Path, figures: dict[str, Any]) -> None:
    """Import N agent results with ~50 KB trajectories each against the same results
    without trajectories, measured here (the target: at most 2x the time, under 300 MB)."""
    n = int(os.environ.get("BENCH_AGENTS_N", "10000"))
    plain, paths = workdir / f"agents-plain-{n}.jsonl", workdir / f"agents-paths-{n}.jsonl"
    text = workdir / f"agents-text-{n}.jsonl"
    if not text.exists():
        _agent_lines(plain, n, False)
        _agent_lines(paths, n, True)
        _agent_lines(text, n, True, as_text=True)
    a = run_step("memory-import", plain, workdir)
    t = run_step("memory-import", text, workdir)
    b = run_step("memory-import", paths, workdir)
    peak = max(b["peak_rss_mb"], b["children_rss_mb"])
    ratio_plain = b["seconds"] / a["seconds"] if a["seconds"] else float("nan")
    ratio = b["seconds"] / t["seconds"] if t["seconds"] else float("nan")
    size = paths.stat().st_size / n / 1000
    figures["agents"] = {"n": n, "bytes_per_result": size * 1000, "plain_seconds": a["seconds"],
                         "same_bytes_as_text_seconds": t["seconds"], "paths_seconds": b["seconds"],
                         "ratio_vs_text": ratio, "ratio_vs_plain": ratio_plain, "peak_rss_mb": peak}  # fmt: skip
    print(f"agents: {n:,} results with ~{size:.0f} KB trajectories each: {b['seconds']:.1f} s, peak {peak:.0f} MB "
          f"({'OK' if peak < 300 else 'OVER'} < 300 MB)")  # fmt: skip
    print(f"  the same results, the transcript as output text (same bytes, no trajectory): {t['seconds']:.1f} s: "
          f"ratio {ratio:.2f}x (target <= 2x: {'OK' if ratio <= 2 else 'MISSED'})")  # fmt: skip
    print(f"  the same results with no transcript at all ({plain.stat().st_size / n:.0f} bytes each): "
          f"{a['seconds']:.1f} s: ratio {ratio_plain:.1f}x (reading {size:.0f} KB per result is most of it)")  # fmt: skip


def _section(name: str) -> Any:
    """A section kept in its own file, bench/NAME.py, as its function bench_NAME."""

    def run(workdir: Path, figures: dict[str, Any]) -> None:
        runpy.run_path(str(ROOT / "bench" / f"{name}.py"))[f"bench_{name}"](workdir, figures)

    return run


SECTIONS = {
    "import": bench_import,
    "inspect": bench_inspect,
    "compare": bench_compare,
    "pty": bench_pty,
    "bulk": bench_bulk,
    "memory": bench_memory,
    "agents": bench_agents,
    "mem_inspect": _section("mem_inspect"),
    "mem_traces": _section("mem_traces"),
    "mem_files": _section("mem_files"),
    "mem_app": _section("mem_app"),
    "codebook": _section("codebook"),
    "otlp_proto": _section("otlp_proto"),
    "calibrate": _section("calibrate"),
    "team": _section("team"),
    "production": _section("production"),
}


def main() -> dict[str, Any]:
    workdir = Path(os.environ.get("BENCH_DIR", ROOT / "bench" / "out"))
    workdir.mkdir(parents=True, exist_ok=True)
    only = [s for s in os.environ.get("BENCH_ONLY", ",".join(SECTIONS)).split(",") if s]
    print(f"machine: {machine()}")
    figures: dict[str, Any] = {"machine": machine()}
    for name in only:
        SECTIONS[name](workdir, figures)
    (workdir / "figures.json").write_text(json.dumps(figures, indent=2))
    return figures


STEPS = {
    "evaltui": step_evaltui,
    "sqlite3": step_sqlite3,
    "sqlite-utils": step_sqlite_utils,
    "inspect-evaltui": step_evaltui,
    "inspect-read": step_inspect_read,
    "inspect-generate": step_inspect_generate,
    "compare-engine": step_compare_engine,
    "compare-plain": step_compare_plain,
    "app": step_app,
    "memory-import": step_memory_import,
    "memory-json-load": step_memory_json_load,
}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:5])
    else:
        main()
