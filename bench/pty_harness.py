"""The app as a person meets it: the real process in a real pseudo-terminal, timed from
outside, beside a minimal Textual app started by this harness in the same run.

A key's latency is from the byte written to the pty to the last byte of the frames it
caused (output quiet for QUIET seconds after). Figures are medians and 95th percentiles;
the ratios divide by the minimal app's figure measured here, now (docs/performance.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import shutil
import statistics
import struct
import sys
import termios
import time
from pathlib import Path
from typing import Any

COLS, ROWS = 160, 50
QUIET = 0.05

MINIMAL_APP = '''
from textual.app import App
from textual.widgets import Footer, Static


class Minimal(App):
    """The floor: a pane repainted after a key, a footer, nothing else."""

    BINDINGS = [("j", "step", "Step"), ("enter", "open", "Open"), ("q", "quit", "Quit")]

    def compose(self):
        self.n = 0
        yield Static("minimal app: runs 73.1%", id="s")
        yield Footer()

    def action_open(self):
        self.query_one("#s", Static).update("minimal app: case 1 of 1")

    def action_step(self):
        self.n += 1
        self.query_one("#s", Static).update(f"case {self.n} " + "x" * (self.n % 50) * 20)


Minimal().run()
'''


class Pty:
    """One program in a pseudo-terminal of COLS x ROWS."""

    def __init__(self, cmd: list[str], env: dict[str, str] | None = None) -> None:
        full = dict(
            os.environ, TERM="xterm-256color", COLUMNS=str(COLS), LINES=str(ROWS), **(env or {})
        )
        full.pop("NO_COLOR", None)
        self.t0 = time.perf_counter()
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child
            os.execvpe(cmd[0], cmd, full)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        self.seen = b""

    def read(self, timeout: float) -> bytes | None:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if self.fd not in ready:
            return b""
        try:
            data = os.read(self.fd, 1 << 20)
        except OSError:
            return None
        if b"\x1b[?2026$p" in data:  # Textual asks whether synchronized output is supported
            os.write(self.fd, b"\x1b[?2026;2$y")
        self.seen = (self.seen + data)[-(1 << 20) :]
        return data

    def settle(
        self, marker: bytes | None = None, limit: float = 120.0, quiet: float = 0.3
    ) -> tuple[float | None, float | None]:
        """Read until `marker` has appeared and output has been quiet for `quiet` s.
        Returns (first, last) byte times."""
        first = last = None
        start = time.perf_counter()
        while time.perf_counter() - start < limit:
            data = self.read(quiet)
            if data is None:
                break
            if data:
                last = time.perf_counter()
                first = first or last
            elif (marker is None or marker in text(self.seen).encode()) and last is not None:
                break
        return first, last

    def key(self, data: bytes) -> float | None:
        """Write `data`; seconds to the last byte of the frames it caused (None: no answer)."""
        while self.read(0):  # drain
            pass
        t = time.perf_counter()
        os.write(self.fd, data)
        if not self.read(2.0):
            return None
        last = time.perf_counter()
        while self.read(QUIET):
            last = time.perf_counter()
        return last - t

    def stop(self) -> None:
        try:
            os.write(self.fd, b"\x11")
            time.sleep(0.2)
            os.kill(self.pid, 9)
        except (ProcessLookupError, OSError):
            pass
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def text(buf: bytes) -> str:
    s = buf.decode("utf-8", "replace")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)", "", s)


def stats(values: list[float]) -> dict[str, float]:
    ms = sorted(v * 1000 for v in values)
    return {"median_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[max(0, int(len(ms) * 0.95) - 1)], 1), "n": len(ms)}  # fmt: skip


def startup(cmd: list[str], marker: bytes, repeat: int = 5) -> dict[str, float]:
    firsts, settled = [], []
    for _ in range(repeat):
        p = Pty(cmd)
        first, last = p.settle(marker)
        p.stop()
        if first and last:
            firsts.append(first - p.t0)
            settled.append(last - p.t0)
    return {"first_frame_ms": round(statistics.median(firsts) * 1000, 1),
            "settled_ms": round(statistics.median(settled) * 1000, 1)}  # fmt: skip


def open_compare(
    cmd: list[str], first_case: bytes, reviewer: str, runs_marker: bytes | None = None
) -> tuple[Pty, float]:
    """Start the app, press Enter on the runs screen (once `runs_marker` shows: by
    default the demo's or the bench store's candidate); seconds from Enter to the first
    case on screen (its key in the case pane). Each `reviewer` starts where they left it
    (the view kept per comparison): a new name starts at the first case."""
    p = Pty(cmd, {"EVALTUI_REVIEWER": reviewer})
    default = b"73.1%" if b"support-assistant" in first_case else b"cand-"
    p.settle(runs_marker or default)
    while p.read(0.3):
        pass
    p.seen = b""
    t = time.perf_counter()
    os.write(p.fd, b"\r")
    shown = None
    while time.perf_counter() - t < 60:
        data = p.read(0.5)
        if data is None:
            break
        if shown is None and first_case in text(p.seen).encode():
            shown = time.perf_counter() - t
        if shown is not None and not data:
            break
    time.sleep(1.0)  # figures, read-ahead
    while p.read(0.3):
        pass
    return p, shown if shown is not None else float("nan")


def steps(p: Pty, key: bytes, n: int) -> list[float]:
    out = []
    for _ in range(n):
        lat = p.key(key)
        if lat is not None:
            out.append(lat)
    return out


def position(p: Pty) -> int | None:
    found = re.findall(r"case ([\d,]+) of ([\d,]+)", text(p.seen))
    return int(found[-1][0].replace(",", "")) if found else None


def measure(
    evaltui: Path, python: str, workdir: Path, stores: dict[str, tuple[Path, bytes]]
) -> dict[str, Any]:
    """`stores`: label -> (store file, the first case's key as the case pane shows it)."""
    minimal = workdir / "minimal_app.py"
    minimal.write_text(MINIMAL_APP)
    out: dict[str, Any] = {"minimal": {}}
    m_cmd = [python, str(minimal)]
    out["minimal"]["startup"] = startup(m_cmd, b"minimal app")
    p = Pty(m_cmd)
    p.settle(b"minimal app")
    os.write(p.fd, b"\r")
    p.settle(quiet=0.3)
    out["minimal"]["step"] = stats(steps(p, b"j", 100))
    p.stop()
    for label, (db, first_case) in stores.items():
        work = workdir / f"pty-{label}.db"  # a copy: the triage keys below write findings
        for suffix in ("", "-wal", "-shm"):
            Path(f"{work}{suffix}").unlink(missing_ok=True)
        shutil.copy(db, work)
        cmd = [str(evaltui), "--db", str(work)]
        env_marker = b"73.1%" if b"support-assistant" in first_case else b"cand-"
        fig: dict[str, Any] = {"startup": startup(cmd, env_marker)}
        p, fig["enter_to_first_case_ms"] = open_compare(cmd, first_case, "bench-steps")
        fig["enter_to_first_case_ms"] = round(fig["enter_to_first_case_ms"] * 1000, 1)
        fig["step"] = stats(steps(p, b"j", 150))  # 150 presses: across two page boundaries
        fig["step_back"] = stats(steps(p, b"k", 100))
        fig["triage"] = stats(steps(p, b"1", 20))  # label and move to the next untriaged
        p.stop()
        p, _ = open_compare(cmd, first_case, "bench-burst")
        while p.read(0.3):
            pass
        os.write(p.fd, b"j" * 100)  # typed ahead: one write
        p.settle(quiet=1.5, limit=30)
        fig["burst_100_position"] = position(p)
        p.stop()
        out[label] = fig
    return out


def report(figures: dict[str, Any]) -> None:
    floor = figures["minimal"]
    print(f"  minimal Textual app: start-up {floor['startup']['first_frame_ms']} ms to the first frame "
          f"({floor['startup']['settled_ms']} ms settled); a key repaints in {floor['step']['median_ms']} ms "
          f"median, p95 {floor['step']['p95_ms']} ms")  # fmt: skip
    for label, fig in figures.items():
        if label == "minimal":
            continue
        s = fig["step"]
        ratio_step = s["median_ms"] / floor["step"]["median_ms"]
        ratio_start = fig["startup"]["first_frame_ms"] / floor["startup"]["first_frame_ms"]
        ok = lambda good: "OK" if good else "MISSED"  # noqa: E731
        print(f"  {label}:")
        print(f"    step to the next case {s['median_ms']} ms median, p95 {s['p95_ms']} ms over {s['n']} presses "
              f"(page boundaries included); {ratio_step:.2f}x the minimal app "
              f"(targets: <= 16 ms {ok(s['median_ms'] <= 16)}, p95 <= 33 ms {ok(s['p95_ms'] <= 33)}, "
              f"<= 3x {ok(ratio_step <= 3)})")  # fmt: skip
        print(
            f"    step back {fig['step_back']['median_ms']} ms median, p95 {fig['step_back']['p95_ms']} ms"
        )
        print(f"    triage key (label, then the next untriaged case) {fig['triage']['median_ms']} ms median, "
              f"p95 {fig['triage']['p95_ms']} ms (target <= 50 ms {ok(fig['triage']['median_ms'] <= 50)})")  # fmt: skip
        print(f"    100 presses sent at once moved to case {fig['burst_100_position']} "
              f"(target 101 {ok(fig['burst_100_position'] == 101)})")  # fmt: skip
        print(f"    start-up {fig['startup']['first_frame_ms']} ms to the first frame "
              f"({fig['startup']['settled_ms']} ms settled): {ratio_start:.2f}x the minimal app "
              f"(target <= 1.5x {ok(ratio_start <= 1.5)})")  # fmt: skip
        print(f"    Enter on the runs screen to the first case on screen {fig['enter_to_first_case_ms']} ms "
              f"(target <= 1000 ms {ok(fig['enter_to_first_case_ms'] <= 1000)})")  # fmt: skip


if __name__ == "__main__":  # python bench/pty_harness.py STORE FIRST_CASE_KEY
    import json

    print(json.dumps(measure(Path(sys.executable).parent / "evaltui", sys.executable, Path("/tmp"),
                             {"store": (Path(sys.argv[1]), sys.argv[2].encode())}), indent=2))  # fmt: skip
