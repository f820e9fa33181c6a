"""Peak memory of the user-named-file cases of issue #24 (limit 300 MB each): files that
are not small regular files, given where evaltui reads a whole file.

- the user config (read when the app starts) as /dev/zero, as a FIFO with no writer,
  as a sparse 3 GB file;
- a findings file as a FIFO, and as a sparse 3 GB file;
- a signed findings file whose .sig is a sparse 300 MB file;
- a gate policy as /dev/zero.

    BENCH_ONLY=mem_files make bench

Each case runs `evaltui` in its own process (`python bench/mem_files.py --child ARGS...`),
which prints its peak RSS (VmHWM) and exit code; a case that has not finished in 60 s
is reported as hanging.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIMIT_MB = 300
DEMO = ROOT / "fixtures" / "demo"


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(args: list[str]) -> None:
    from evaltui.cli import main

    sys.argv = ["evaltui", *args]
    code = 0
    try:
        main()  # the real entry point: its errors become one line and an exit code
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    print(json.dumps({"peak_mb": round(_peak_mb(), 1), "code": code}))


def _sparse(path: Path, size: int) -> Path:
    with path.open("wb") as fh:
        fh.truncate(size)
    return path


def _case(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
        )
    except subprocess.TimeoutExpired:
        return {"peak_mb": None, "code": None, "hang": True}
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "{}"
    out = json.loads(last)
    out["error"] = (done.stderr.strip().splitlines() or [""])[-1][:160]
    return out


def bench_mem_files(workdir: Path, figures: dict[str, Any]) -> None:
    print("\n== user-named files (#24): peak memory, limit 300 MB")
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        t = Path(tmp)
        db = t / "s.db"
        subprocess.run(
            [sys.executable, "-m", "evaltui", "--db", str(db), "import",
             str(DEMO / "production.jsonl"), str(DEMO / "candidate.jsonl")],
            check=True, capture_output=True,
        )  # fmt: skip
        fifo = t / "fifo"
        os.mkfifo(fifo)
        big = _sparse(t / "big", 3 << 30)
        signed = t / "findings.jsonl"
        signed.write_text("")
        _sparse(t / "findings.jsonl.sig", 300 << 20)
        signers = t / "allowed_signers"
        signers.write_text("")
        base = ["--db", str(db)]
        cases = {
            "config is /dev/zero": (base, {"EVALTUI_CONFIG": "/dev/zero"}),
            "config is a FIFO": (base, {"EVALTUI_CONFIG": str(fifo)}),
            "config is a sparse 3 GB file": (base, {"EVALTUI_CONFIG": str(big)}),
            "findings file is a FIFO": ([*base, "findings", "import", str(fifo)], None),
            "findings file is a sparse 3 GB file": ([*base, "findings", "import", str(big)], None),
            "a 300 MB .sig": (
                [*base, "findings", "import", str(signed), "--allowed-signers", str(signers)],
                None,
            ),
            "policy is /dev/zero": ([*base, "gate", "1", "2", "--policy", "/dev/zero"], None),
        }
        results = {}
        for name, (args, env) in cases.items():
            r = _case(args, env)
            results[name] = r
            peak = r["peak_mb"]
            state = "HANGS" if r.get("hang") else f"exit {r['code']}"
            ok = peak is not None and peak < LIMIT_MB
            print(
                f"  {name}: {state}, peak {peak} MB ({'OK' if ok else 'MISSED'}): {r.get('error', '')}"
            )
        figures["mem_files"] = results


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2:])
    else:
        out = Path(os.environ.get("BENCH_DIR", ROOT / "bench" / "out"))
        out.mkdir(parents=True, exist_ok=True)
        bench_mem_files(out, {})
