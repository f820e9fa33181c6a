"""Peak memory of the app on the trajectory cases of issue #24 (limit 300 MB each): a case
whose path has 100,000 tool calls, and one whose single call has 9 MiB of arguments.

    BENCH_ONLY=mem_app make bench

Each case runs in its own process (`python bench/mem_app.py --child STEPS ARG_MIB DB`):
the real app, headless (Textual's Pilot) at 160x50, opens the comparison, shows the case
(both paths aligned), steps the path cursor and opens the whole case; its peak RSS (VmHWM)
is printed with what the case pane said about the steps it left out.
"""

from __future__ import annotations

import asyncio
import json
import os
import runpy
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LIMIT_MB = 300


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(steps: int, arg_mib: int, db: Path) -> None:
    from evaltui.tui.app import EvaltuiApp
    from evaltui.tui.screens.compare import CompareScreen

    if not db.exists():  # built in a process of its own: its peak is the import's, not the app's
        subprocess.run([sys.executable, __file__, "--build", str(steps), str(arg_mib), str(db)],
                       check=True)  # fmt: skip
    base = _peak_mb()
    said: dict[str, Any] = {}

    async def run() -> None:
        app = EvaltuiApp(db)
        async with app.run_test(size=(160, 50)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.press("enter")
            while not (isinstance(app.screen, CompareScreen) and app.screen.shown_at):
                await pilot.pause(0.01)
            await app.workers.wait_for_complete()
            await pilot.pause()
            for key in ("]", "]", "=", "["):
                await pilot.press(key)
                await pilot.pause()
            await pilot.press("enter")  # the whole case
            await app.workers.wait_for_complete()
            await pilot.pause()

    asyncio.run(run())
    print(json.dumps({"peak_mb": round(_peak_mb(), 1), "before_app_mb": round(base, 1), **said}))


def bench_mem_app(workdir: Path, figures: dict[str, Any]) -> None:
    print("\n== the app on long trajectories (#24): peak memory, limit 300 MB")
    results = {}
    for name, steps, mib in (("100,000 tool calls", 100_000, 0), ("9 MiB of arguments", 1, 9)):
        with tempfile.TemporaryDirectory(dir=workdir) as tmp:
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(steps), str(mib),
                   str(Path(tmp) / "s.db")]  # fmt: skip
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            lines = done.stdout.strip().splitlines()
            r = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {
                "peak_mb": None, "error": done.stderr.strip().splitlines()[-1:]}  # fmt: skip
        results[name] = r
        ok = r.get("peak_mb") is not None and r["peak_mb"] < LIMIT_MB
        print(f"  {name}: peak {r.get('peak_mb')} MB ({'OK' if ok else 'MISSED'}): {r}")
    figures["mem_app"] = results


def build(steps: int, arg_mib: int, db: Path) -> None:
    from evaltui import service
    from evaltui.store import Store

    runpy.run_path(str(ROOT / "bench" / "mem_traces.py"))["_path_store"](db, steps, arg_mib)
    with Store(db) as store:
        service.mark_run(store, "baseline", 1)
        service.mark_run(store, "candidate", 2)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--build"]:
        build(int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
    elif sys.argv[1:2] == ["--child"]:
        child(int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
    else:
        out = Path(os.environ.get("BENCH_DIR", ROOT / "bench" / "out"))
        out.mkdir(parents=True, exist_ok=True)
        bench_mem_app(out, {})
