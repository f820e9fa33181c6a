"""Peak memory of the trace and streamed-format cases of issue #24 (limit 300 MB each):

- OTLP: 100,000 traces whose roots never come; one trace of 100,000 spans (root last);
- native JSONL: 20 lines each with a 30 MiB output;
- a 300 MB promptfoo JSON swapped for another file between jsonstream's two passes
  (renamed over it; rewritten in place with its size and mtime put back);
- `evaltui case --json` (and the text form) on a path of 100,000 steps, and on one with
  9 MiB tool arguments.

    BENCH_ONLY=mem_traces make bench

Each case runs in its own process (`python bench/mem_traces.py --child CASE FILE DB`),
whose peak RSS (VmHWM; and its reader process's, through RUSAGE_CHILDREN) is printed.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIMIT_MB = 300


def _otel_root_line() -> dict[str, Any]:
    line = (ROOT / "fixtures" / "agents" / "otel_genai" / "baseline.otlp.jsonl").open().readline()
    return json.loads(line)


def _rootless(dst: Path, n: int) -> None:
    """`n` traces of one child span each, on lines of 1,000 spans; no root ever comes."""
    obj = _otel_root_line()
    scope = obj["resourceSpans"][0]["scopeSpans"][0]
    child = next(s for s in scope["spans"] if s.get("parentSpanId"))
    with dst.open("w") as fh:
        for start in range(0, n, 1000):
            batch = []
            for i in range(start, min(start + 1000, n)):
                batch.append({**child, "traceId": f"{i + 1:032x}", "spanId": f"{i + 1:016x}"})
            scope["spans"] = batch
            fh.write(json.dumps(obj) + "\n")


def _one_trace(dst: Path, n: int) -> None:
    """One trace of `n` spans, children first (1,000 a line), its root on the last line."""
    obj = _otel_root_line()
    scope = obj["resourceSpans"][0]["scopeSpans"][0]
    root = next(s for s in scope["spans"] if not s.get("parentSpanId"))
    child = next(s for s in scope["spans"] if s.get("parentSpanId"))
    trace = root["traceId"]
    with dst.open("w") as fh:
        for start in range(0, n, 1000):
            scope["spans"] = [{**child, "traceId": trace, "spanId": f"{i + 1:016x}",
                               "parentSpanId": root["spanId"]}
                              for i in range(start, min(start + 1000, n))]  # fmt: skip
            fh.write(json.dumps(obj) + "\n")
        scope["spans"] = [root]
        fh.write(json.dumps(obj) + "\n")


def _native_large(dst: Path, lines: int, mib: int) -> None:
    block = "x" * (mib << 20)
    with dst.open("w") as fh:
        for i in range(lines):
            fh.write(json.dumps({"suite": "s", "case_key": f"c{i}", "verdict": "pass",
                                 "output": block}) + "\n")  # fmt: skip


def _promptfoo_pair(dst: Path, other: Path, mb: int) -> None:
    """A promptfoo JSON of `mb` MB and another of the same size holding one giant row."""
    sys.path.insert(0, str(ROOT / "bench"))
    from run import _promptfoo_json

    _promptfoo_json(dst, mb << 20)
    size = dst.stat().st_size
    obj = json.loads((ROOT / "fixtures" / "promptfoo" / "candidate.json").read_text())
    row = {k: v for k, v in obj["results"]["results"][0].items() if k != "response"}
    row["response"] = {"output": "PLACEHOLDER"}  # last: the giant string closes the row
    obj["results"]["results"] = []
    head, tail = json.dumps(obj).split('"results": []', 1)
    text = json.dumps(row)
    start = head + '"results": [' + text[: text.index('"PLACEHOLDER"') + 1]
    end = '"}}]' + tail
    with other.open("w") as fh:
        fh.write(start)
        filler = size - len(start.encode()) - len(end.encode())
        block = "y" * (1 << 20)
        while filler > 0:
            fh.write(block[:filler])
            filler -= len(block)
        fh.write(end)


def _path_store(db: Path, steps: int, arg_mib: int) -> None:
    """Two runs of one case whose trajectory has `steps` tool calls (or one call whose
    arguments are `arg_mib` MiB), imported from native JSONL."""
    from evaltui import service
    from evaltui.store import Store

    for name in ("base", "cand"):
        src = db.parent / f"path-{steps}-{arg_mib}-{name}.jsonl"
        traj: list[dict[str, Any]] = [{"kind": "message", "role": "user", "text": "help"}]
        if arg_mib:
            traj.append({"kind": "tool_call", "turn": 1, "name": "search", "call_id": "c1",
                         "arguments": {"query": "q" * (arg_mib << 20)}})  # fmt: skip
        else:
            traj += [{"kind": "tool_call", "turn": 1 + i // 10, "name": f"t{i % 7}", "call_id": f"c{i}",
                      "arguments": {"i": i}} for i in range(steps)]  # fmt: skip
        src.write_text(json.dumps({"suite": "s", "case_key": "k", "verdict": "pass", "output": name,
                                   "trajectory": traj}) + "\n")  # fmt: skip
        with Store(db) as store:
            service.import_path(store, src)
        src.unlink()


def _own_peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(case: str, src: str, db: str) -> None:
    """One case, in this process: what happened and the peak memory."""
    from evaltui.errors import EvaltuiError

    t0 = time.perf_counter()
    outcome = ""
    try:
        if case.startswith("case"):
            from click.testing import CliRunner

            from evaltui.cli import cli

            args = ["--db", db, "case", "1", "2", "k"] + (["--json"] if case == "case-json" else [])
            r = CliRunner().invoke(cli, args)
            outcome = f"exit {r.exit_code}, {len(r.output):,} characters printed"
        else:
            from evaltui import service
            from evaltui.store import Store

            if case.startswith("swap"):
                from evaltui.importers import jsonstream

                scan, other = jsonstream.scan, Path(src + ".other")

                def swapped(*args: Any, **kw: Any) -> Any:
                    out = scan(*args, **kw)
                    if case == "swap-rename":
                        os.replace(other, src)
                    else:  # the same file rewritten in place, its size and mtime put back
                        st = os.stat(src)
                        with open(other, "rb") as fin, open(src, "r+b") as fout:
                            while block := fin.read(1 << 20):
                                fout.write(block)
                        os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
                    return out

                jsonstream.scan = swapped  # type: ignore[assignment]
            with Store(Path(db)) as store:
                out = service.import_path(store, Path(src))
            outcome = f"imported {sum(o.results for o in out):,} results"
    except EvaltuiError as exc:
        outcome = f"refused: {exc}"
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": time.perf_counter() - t0, "outcome": outcome,
                      "peak_rss_mb": max(_own_peak_mb(), kids)}))  # fmt: skip


def run_child(case: str, src: Path, db: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, __file__, "--child", case, str(src), str(db)],
                          capture_output=True, text=True, env=env, check=False)  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"mem_traces {case} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_mem_traces(workdir: Path, figures: dict[str, Any]) -> None:
    n = int(os.environ.get("BENCH_TRACES_N", "100000"))
    pf_mb = int(os.environ.get("BENCH_MEMORY_MB", "300"))
    work = workdir / "mem_traces"
    work.mkdir(parents=True, exist_ok=True)
    cases: list[tuple[str, str, Path, Path]] = []  # (label, child case, file, store)

    rootless = work / f"rootless-{n}.otlp.jsonl"
    if not rootless.exists():
        _rootless(rootless, n)
    cases.append((f"OTLP: {n:,} traces without a root", "import", rootless, work / "a.db"))
    big = work / f"one-trace-{n}.otlp.jsonl"
    if not big.exists():
        _one_trace(big, n)
    cases.append((f"OTLP: one trace of {n:,} spans", "import", big, work / "b.db"))
    native = work / "native-20x30mib.jsonl"
    if not native.exists():
        _native_large(native, 20, 30)
    cases.append(("native JSONL: 20 lines of 30 MiB", "import", native, work / "c.db"))
    for how in ("rename", "inplace"):
        pf, other = work / f"promptfoo-{how}.json", work / f"promptfoo-{how}.json.other"
        _promptfoo_pair(pf, other, pf_mb)
        cases.append((f"promptfoo JSON {pf_mb} MB swapped between passes ({how})", f"swap-{how}",
                      pf, work / f"d-{how}.db"))  # fmt: skip
    for label, steps, mib in ((f"{n:,} steps", n, 0), ("9 MiB tool arguments", 0, 9)):
        db = work / f"paths-{steps}-{mib}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        _path_store(db, steps, mib)
        cases.append((f"case --json, a path of {label}", "case-json", db, db))
        cases.append((f"case (text), a path of {label}", "case-text", db, db))

    rows = []
    print(f"mem_traces: peak RSS per case (limit {LIMIT_MB} MB)")
    for label, case, src, db in cases:
        if not case.startswith("case"):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
        out = run_child(case, src, db)
        peak = out["peak_rss_mb"]
        rows.append({"case": label, "peak_rss_mb": peak, "seconds": out["seconds"],
                     "outcome": out["outcome"]})  # fmt: skip
        print(f"  {label}: {peak:.0f} MB, {out['seconds']:.1f} s, "
              f"{'OK' if peak < LIMIT_MB else 'OVER'}; {out['outcome'][:150]}")  # fmt: skip
    figures["mem_traces"] = rows


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:5])
    else:
        bench_mem_traces(ROOT / "bench" / "out", {})
