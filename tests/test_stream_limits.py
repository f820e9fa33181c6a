"""Streamed JSON (promptfoo .json, Inspect .json) and line formats: every reading limit
refuses cleanly, naming the record, and the store is left as it was (docs/security.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaltui import service
from evaltui.errors import InputError
from evaltui.importers import jsonstream

from .conftest import FIXTURES

PF_JSON = FIXTURES / "promptfoo" / "candidate.json"
INSPECT_JSON = next((FIXTURES / "inspect_ai" / "candidate").glob("*.json"))


def _promptfoo(tmp_path: Path, mutate) -> Path:
    """The real promptfoo file with one row changed by `mutate(row)`."""
    obj = json.loads(PF_JSON.read_text())
    mutate(obj["results"]["results"][3])
    out = tmp_path / "pf.json"
    out.write_text(json.dumps(obj, indent=2))
    return out


def _nest(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


def _refused(store, path: Path, fmt: str | None = None) -> InputError:
    before = store.dump()
    with pytest.raises(InputError) as info:
        service.import_path(store, path, fmt=fmt)
    assert store.dump() == before
    assert str(path) in str(info.value)
    return info.value


def test_streamed_json_reads_the_same_runs_as_before(store):
    """The two-pass reader gives the counts the tool's own stats give."""
    outcomes = service.import_path(store, PF_JSON)
    stats = json.loads(PF_JSON.read_text())["results"]["stats"]
    assert (
        sum(o.results for o in outcomes) == stats["successes"] + stats["failures"] + stats["errors"]
    )
    keys = {r[0] for r in store.conn.execute("SELECT case_key FROM cases")}
    assert len(keys) == len(json.loads(PF_JSON.read_text())["results"]["results"]) // len(outcomes)


def test_a_long_value_is_refused_at_its_record(store, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALTUI_MAX_FIELD_BYTES", "200000")
    path = _promptfoo(tmp_path, lambda row: row["response"].update(output="x" * 500_000))
    err = _refused(store, path)
    assert err.location == "results.results[3]"
    assert "one value is longer than 200,000 bytes (EVALTUI_MAX_FIELD_BYTES)" in err.message


def test_deep_nesting_is_refused_with_its_field(store, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALTUI_MAX_DEPTH", "20")
    path = _promptfoo(
        tmp_path, lambda row: row["testCase"].setdefault("metadata", {}).update(x=_nest(30))
    )
    err = _refused(store, path)
    assert err.location == "results.results[3]"
    assert "nested more than 20 levels deep (EVALTUI_MAX_DEPTH)" in err.message
    assert err.field.startswith("results.results.item.testCase.metadata.x")


def test_the_default_depth_limit_holds_for_thousands_of_levels(store, tmp_path):
    path = _promptfoo(tmp_path, lambda row: row.update(vars="DEEP"))
    deep = '{"k": ' * 5000 + "1" + "}" * 5000  # more than json.dumps (or json.loads) can nest
    path.write_text(path.read_text().replace('"DEEP"', deep))
    err = _refused(store, path)
    assert "nested more than 64 levels deep" in err.message


def test_a_long_record_is_refused(store, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALTUI_MAX_LINE_BYTES", "300000")
    path = _promptfoo(tmp_path, lambda row: row.update(pad=["y" * 1000] * 400))
    err = _refused(store, path)
    assert err.location == "results.results[3]"
    assert "the record is longer than 300,000 bytes (EVALTUI_MAX_LINE_BYTES)" in err.message


def test_a_record_of_many_small_values_is_refused(store, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALTUI_MAX_RECORD_VALUES", "5000")
    path = _promptfoo(tmp_path, lambda row: row.update(pad=[{}] * 20_000))
    err = _refused(store, path)
    assert err.location == "results.results[3]"
    assert "more than 5,000 JSON values (EVALTUI_MAX_RECORD_VALUES)" in err.message


def test_a_jsonl_line_of_many_small_values_is_refused(store, tmp_path):
    """`{},{},...` in one 3 MB line would be a million dicts: counted from the bytes."""
    path = tmp_path / "many.jsonl"
    row = {"suite": "s", "case_key": "a", "input": "x", "verdict": "pass"}
    path.write_text(
        json.dumps(row)
        + "\n"
        + json.dumps({**row, "case_key": "b", "attributes": {"x": [{}] * 1_100_000}})
        + "\n"
    )
    err = _refused(store, path, fmt="native")
    assert (
        err.location == "line 2"
        and "over the limit of 1,000,000 (EVALTUI_MAX_RECORD_VALUES)" in err.message
    )


def test_truncated_streamed_json_is_named(store, tmp_path):
    data = PF_JSON.read_bytes()
    path = tmp_path / "cut.json"
    path.write_bytes(data[: len(data) // 2])
    err = _refused(store, path, fmt="promptfoo")
    assert err.detail == "malformed JSON (the file ends in the middle of the document (truncated?))"
    assert "\n" not in str(err)


def test_inspect_json_streams_its_samples(store, tmp_path):
    """Same results from the streamed .json as from the .eval of the same run."""
    (from_json,) = service.import_path(store, INSPECT_JSON)
    (from_eval,) = service.import_path(store, INSPECT_JSON.with_suffix(".eval"), force=True)
    assert from_json.results == from_eval.results > 0
    rows = [
        sorted(store.conn.execute(
            "SELECT c.case_key, r.epoch, r.verdict, r.output FROM results r "
            "JOIN cases c ON c.id = r.case_id WHERE r.run_id = ?", (run,)))
        for run in (from_json.run_id, from_eval.run_id)
    ]  # fmt: skip
    assert rows[0] == rows[1]


def test_inspect_json_sample_over_the_field_limit(store, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALTUI_MAX_FIELD_BYTES", "100000")
    obj = json.loads(INSPECT_JSON.read_text())
    obj["samples"][1]["output"]["completion"] = "z" * 300_000
    path = tmp_path / "log.json"
    path.write_text(json.dumps(obj))
    err = _refused(store, path)
    assert err.location == "samples[1]" and "EVALTUI_MAX_FIELD_BYTES" in err.message


def test_scan_keeps_the_header_and_counts_records(tmp_path):
    scan = jsonstream.scan(INSPECT_JSON, "samples")
    obj = json.loads(INSPECT_JSON.read_text())
    assert scan.count == len(obj["samples"])
    assert scan.head["eval"] == obj["eval"] and scan.head["samples"] == []
    assert [s["id"] for s in jsonstream.items(INSPECT_JSON, "samples", scan)] == [
        s["id"] for s in obj["samples"]
    ]


def test_a_file_changed_between_passes_is_refused(tmp_path):
    path = tmp_path / "log.json"
    path.write_bytes(INSPECT_JSON.read_bytes())
    scan = jsonstream.scan(path, "samples")
    path.write_bytes(INSPECT_JSON.read_bytes() + b"\n\n")
    with pytest.raises(InputError, match="changed while it was being read"):
        list(jsonstream.items(path, "samples", scan))


def test_a_big_promptfoo_json_is_read_in_bounded_memory(tmp_path):
    """40k rows (~60 MB, 480 MB once json.load'ed whole): the reader holds one row at a
    time; the import runs in its own process, which reports its peak (the 300 MB file's
    figure is in `make bench`)."""
    obj = json.loads(PF_JSON.read_text())
    rows = obj["results"]["results"]
    obj["results"]["results"] = []
    head, tail = json.dumps(obj).split('"results": []', 1)
    path = tmp_path / "big.json"
    with path.open("w") as fh:
        fh.write(head + '"results": [')
        for i in range(2000):
            for n, r in enumerate(rows):
                row = {**r, "testIdx": r["testIdx"] + i * len(rows),
                       "vars": {**(r.get("vars") or {}), "case_id": f"c{i}-{r['testIdx']}"}}  # fmt: skip
                fh.write(("," if i or n else "") + json.dumps(row))
        fh.write("]" + tail)
    assert path.stat().st_size > 40 << 20
    results, peak_mb = _import_in_own_process(tmp_path, path)
    assert results == 2000 * len(rows)
    assert peak_mb < 150, peak_mb


def _import_in_own_process(tmp_path: Path, path: Path, fmt: str = "") -> tuple[int, float]:
    """(results imported or -1 if refused, the process's own peak RSS in MB). VmHWM, not
    ru_maxrss: Linux carries ru_maxrss over from the parent (pytest) across exec."""
    import os
    import subprocess
    import sys

    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc (Linux)")
    code = (
        "import sys\n"
        "from evaltui import service\nfrom evaltui.errors import InputError\n"
        "from evaltui.store import Store\n"
        "try:\n"
        "    n = sum(o.results for o in service.import_path(Store(sys.argv[1]), sys.argv[2], fmt=sys.argv[3] or None))\n"
        "except InputError:\n"
        "    n = -1\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "print(n, hwm)\n"
    )
    env = {**os.environ, "EVALTUI_IMPORT_PROCESS": "0"}
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s.db"), str(path), fmt],
                          capture_output=True, text=True, env=env, check=True)  # fmt: skip
    n, kb = map(int, done.stdout.split())
    return n, kb / 1024


@pytest.mark.parametrize("fmt", ["promptfoo", "inspect"])
def test_json_nested_100000_deep_is_refused_in_bounded_memory(tmp_path, fmt):
    """ijson's prefixes would cost O(depth) per event (10 GB here): the scan keeps its own."""
    n, peak_mb = _import_in_own_process(tmp_path, FIXTURES / "hostile" / "deep.jsonl", fmt)
    assert n == -1 and peak_mb < 150, peak_mb


async def test_a_huge_output_reaches_the_case_pane_cut_with_its_size(db_path, tmp_path):
    """A 20 MB output: the case is read with 200,000 characters of it, the pane shows
    4,000 and says how many more there are (all 20,000,000 counted)."""
    from evaltui.compare.rows import OUTPUT_READ_CHARS
    from evaltui.store import Store
    from evaltui.tui.app import EvaltuiApp

    from .helpers import line, write_jsonl
    from .tui.test_compare_screen import open_compare, pane_text, settle

    big = "word " * 4_000_000
    with Store(db_path) as store:
        for name, verdict in (("b", "pass"), ("c", "fail")):
            (out,) = service.import_path(store, write_jsonl(
                tmp_path / f"{name}.jsonl", [line("huge", verdict, output=big)], header={"name": name}))  # fmt: skip
            service.mark_run(store, "baseline" if name == "b" else "candidate", out.run_id)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        await settle(app, pilot)
        _, detail, _ = screen.comparison.read_case(screen.current)
        assert len(detail.candidate[0].output) == OUTPUT_READ_CHARS
        assert detail.candidate[0].output_length == len(big)
        text = pane_text(screen)
        assert f"… [{len(big) - 4000:,} more characters]" in text
        assert len(text) < 40_000
