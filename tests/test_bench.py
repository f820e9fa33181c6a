"""The benchmark harness at a small size: every step writes every record, figures are produced.

Timing is not asserted here (speed is measured by `make bench`, docs/performance.md).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_harness_small(tmp_path, monkeypatch, capsys):
    bench = load_bench()
    monkeypatch.setenv("BENCH_N", "2000")
    monkeypatch.setenv("BENCH_ONLY", "import")
    monkeypatch.setenv("BENCH_REPEAT", "1")
    monkeypatch.setenv("BENCH_DIR", str(tmp_path))
    figures = bench.main()
    assert figures["n"] == 2000
    for step in ("sqlite3", "evaltui", "sqlite-utils"):
        assert figures[step]["rows"] == 2000
        assert figures[step]["seconds"] > 0
        assert figures[step]["peak_rss_mb"] > 0
    assert figures["evaltui"]["results"] == 2000
    assert set(figures["ratios"]) == {"a/b", "c/a"}
    assert json.loads((tmp_path / "figures.json").read_text())["n"] == 2000
    printed = capsys.readouterr().out
    assert "a/b" in printed and "c/a" in printed and "peak RSS" in printed


def test_generated_records_are_valid_native_lines(tmp_path):
    from evaltui.importers import detect

    bench = load_bench()
    path = tmp_path / "r.jsonl"
    bench.generate(path, 50)
    assert detect(path).name == "native"
    lines = path.read_text().splitlines()
    assert len(lines) == 51
    sizes = [len(line) for line in lines[1:]]
    assert 800 < sum(sizes) / len(sizes) < 1400  # about 1 KB each, as the issue asks


def test_bench_bulk_section_small(tmp_path, monkeypatch, capsys):
    bench = load_bench()
    monkeypatch.setenv("BENCH_ONLY", "bulk")
    monkeypatch.setenv("BENCH_BULK_N", "300")
    monkeypatch.setenv("BENCH_DIR", str(tmp_path))
    figures = bench.main()
    assert figures["bulk"]["n"] == 300 and figures["bulk"]["retired"] == 300
    assert "plain sqlite3 UPDATE by key" in capsys.readouterr().out


def test_bench_team_section_small(tmp_path, monkeypatch, capsys):
    """The team section end to end at a small size (a throwaway PostgreSQL, the real app
    in a pseudo-terminal): it ran out of step once with the code it drives (#30)."""
    bench = load_bench()
    monkeypatch.setenv("BENCH_ONLY", "team")
    monkeypatch.setenv("BENCH_TEAM_N", "500")
    monkeypatch.setenv("BENCH_TEAM_KEYS", "5")
    monkeypatch.setenv("BENCH_TEAM_REPEAT", "2")
    monkeypatch.setenv("BENCH_DIR", str(tmp_path))
    team = bench.main()["team"]
    assert team["n"] == 500
    assert team["push"]["pushed"] == 500 and team["pull"]["pulled"] == 500
    assert team["pull"]["cases_changed"] == 100  # five findings on each of 100 cases
    keys = team["pty_keys"]
    assert len(keys["pairs"]) == 2
    for pair in keys["pairs"]:
        assert 0 < pair["synced"]["n"] <= 5 and pair["synced"]["synced_at_start"]
        assert 0 < pair["while_syncing"]["n"] <= 5 and pair["while_syncing"]["synced_at_end"]
        assert pair["ratio_median"] == round(
            pair["while_syncing"]["median_ms"] / pair["synced"]["median_ms"], 2
        )
    ratios = [p["ratio_p95"] for p in keys["pairs"]]
    assert keys["ratio_p95"] == {"median": sum(ratios) / 2, "min": min(ratios), "max": max(ratios)}
    printed = capsys.readouterr().out
    assert "in a real pseudo-terminal" in printed and "while syncing / synced: median" in printed
