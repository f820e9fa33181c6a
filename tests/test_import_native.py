"""Native JSONL/CSV import: good files, and every bad input leaves the store as it was."""

import json
from pathlib import Path

import pytest

from evaltui import service
from evaltui.errors import InputError
from evaltui.importers import ImportOptions, detect
from evaltui.store.runs import list_runs
from tests.conftest import DEMO
from tests.helpers import line, write_jsonl


def test_demo_file_imports_with_header_fields(store):
    (out,) = service.import_path(store, DEMO / "candidate.jsonl")
    (run,) = list_runs(store)
    assert run.name == "cand-2026-11-20"
    assert run.role == "candidate"
    assert run.system.startswith("support-bot v42")
    assert run.created_at == "2026-11-20T16:40:00+00:00"
    lines = [json.loads(x) for x in (DEMO / "candidate.jsonl").read_text().splitlines()[1:]]
    assert run.results == len(lines) == out.results
    assert run.cases == len({x["case_key"] for x in lines})
    assert run.passed == sum(x["verdict"] == "pass" for x in lines)
    assert run.errored == sum(x["verdict"] == "error" for x in lines)
    assert run.criteria["policy"]["failed"] == sum(
        x.get("criteria", {}).get("policy", {}).get("verdict") == "fail" for x in lines
    )
    row = store.conn.execute(
        "SELECT c.attributes, r.epoch FROM results r JOIN cases c ON c.id = r.case_id "
        "WHERE c.case_key = 'refunds-002' ORDER BY r.epoch"
    ).fetchall()
    assert [r[1] for r in row] == [0, 1, 2]  # high-risk cases carry three samples
    assert json.loads(row[0][0])["risk"] == "high"


def test_cli_options_override_header(store, tmp_path):
    path = write_jsonl(
        tmp_path / "r.jsonl", [line("a")], header={"name": "from-header", "role": "candidate"}
    )
    service.import_path(
        store, path, options=ImportOptions(name="mine", role="production", system="sys")
    )
    (run,) = list_runs(store)
    assert (run.name, run.role, run.system) == ("mine", "production", "sys")


def test_structured_input_and_int_case_key_are_kept(store, tmp_path):
    msgs = [{"role": "user", "content": "hi"}]
    path = write_jsonl(tmp_path / "r.jsonl", [{"case_key": 7, "input": msgs, "verdict": "pass"}])
    service.import_path(store, path)
    suite, key, text = store.conn.execute("SELECT suite, case_key, input FROM cases").fetchone()
    assert (suite, key) == ("default", "7")
    assert json.loads(text) == msgs


def test_same_file_twice_is_skipped_unless_forced(store):
    service.import_path(store, DEMO / "production.jsonl")
    (again,) = service.import_path(store, DEMO / "production.jsonl")
    assert again.skipped and again.run_id == 1
    assert len(list_runs(store)) == 1
    (forced,) = service.import_path(store, DEMO / "production.jsonl", force=True)
    assert not forced.skipped and forced.run_id == 2


def test_native_csv_same_columns(store, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(
        "suite,case_key,epoch,input,verdict,score,attributes,criteria,latency_ms\n"
        's,a,0,"multi\nline",pass,1,"{""risk"": ""high""}","{""c1"": {""verdict"": ""fail""}}",12.5\n'
        "s,b,0,x,fail,0,,,\n",
        encoding="utf-8",
    )
    assert detect(path).name == "native-csv"
    service.import_path(store, path)
    (run,) = list_runs(store)
    assert (run.results, run.passed, run.failed) == (2, 1, 1)
    assert run.criteria == {"c1": {"passed": 0, "failed": 1, "errored": 0, "unscored": 0}}
    assert (
        store.conn.execute("SELECT input FROM cases WHERE case_key='a'").fetchone()[0]
        == "multi\nline"
    )


# -- bad input: a clear error naming file, line and field; store unchanged ------------


def _bad(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


GOOD = json.dumps(line("a")).encode() + b"\n"

BAD_INPUTS = {
    "malformed-json": (
        GOOD + b'{"case_key": "b", "verdict": "pass"\n',
        "line 2",
        None,
        "malformed JSON",
    ),
    "missing-key": (
        GOOD + json.dumps({"case_key": "b"}).encode() + b"\n",
        "line 2",
        "verdict",
        "Field required",
    ),
    "wrong-type": (
        GOOD + json.dumps(line("b", latency_ms="fast")).encode(),
        "line 2",
        "latency_ms",
        "valid number",
    ),
    "unknown-verdict": (
        GOOD + json.dumps(line("b", verdict="passed")).encode(),
        "line 2",
        "verdict",
        "'pass', 'fail', 'error', 'limit' or 'unscored'",
    ),
    "bad-criterion": (
        GOOD + json.dumps(line("b", criteria={"c": {"verdict": "ok"}})).encode(),
        "line 2",
        "criteria.c.verdict",
        "'pass'",
    ),
    "unknown-field": (
        GOOD + json.dumps(line("b", verdcit="pass")).encode(),
        "line 2",
        "verdcit",
        "Extra inputs",
    ),
    "duplicate-case-epoch": (
        GOOD * 2,
        "line 2",
        "case_key",
        "duplicate result for case 's/a' epoch 0 (also at line 1)",
    ),
    "empty-file": (b"", None, None, "the file is empty"),
    "blank-lines-only": (b"\n\n  \n", None, None, "the file is empty"),
    "latin-1": (
        GOOD + '{"case_key": "é", "verdict": "pass"}\n'.encode("latin-1"),
        "line 2",
        None,
        "not valid UTF-8",
    ),
    "utf-16": ('{"case_key": "a", "verdict": "pass"}\n'.encode("utf-16"), None, None, "UTF-16"),
    "binary": (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
        None,
        None,
        "binary file",
    ),
    "header-bad-role": (
        b'{"run": {"role": "staging"}}\n' + GOOD,
        "line 1 (run header)",
        "run.role",
        "'production'",
    ),
    "not-an-object": (GOOD + b"[1, 2]\n", "line 2", None, "should be an object"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_native_input_names_file_line_field_and_changes_nothing(store, tmp_path, case):
    content, location, field, text = BAD_INPUTS[case]
    service.import_path(store, DEMO / "production.jsonl")  # an existing run must survive
    before = store.dump()
    path = _bad(tmp_path, f"{case}.jsonl", content)
    with pytest.raises(InputError) as info:
        service.import_path(store, path, fmt="native")
    err = info.value
    assert err.path.endswith(f"{case}.jsonl")
    assert err.location == location
    assert err.field == field
    assert text in str(err)
    assert store.dump() == before


def test_unknown_format_lists_supported_formats(tmp_path):
    path = _bad(tmp_path, "notes.txt", b"just some text\n")
    with pytest.raises(
        InputError,
        match="unrecognised file format; supported formats: inspect, promptfoo, openai-evals, lm-eval, otel-genai, langsmith, otlp-logs, native, native-csv",
    ):
        detect(path)


def test_csv_bad_cell_names_line_and_column(store, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("case_key,verdict,attributes\na,pass,{}\nb,pass,{not json}\n")
    with pytest.raises(InputError) as info:
        service.import_path(store, path)
    assert (info.value.location, info.value.field) == ("line 3", "attributes")
    assert list_runs(store) == []


def test_csv_unknown_column_is_named(store, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("case_key,verdict,colour\na,pass,red\n")
    with pytest.raises(InputError, match="unknown column 'colour'"):
        service.import_path(store, path)


def _peak_import(store, path):
    import tracemalloc

    tracemalloc.start()
    service.import_path(store, path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def test_import_streams_in_bounded_memory(store, tmp_path):
    """Memory does not grow with the file: 4x the records, about the same peak."""
    peaks = []
    for n in (10_000, 40_000):
        big = tmp_path / f"big{n}.jsonl"
        with big.open("w") as fh:
            for i in range(n):
                fh.write(json.dumps(line(f"k{i}", output="o" * 500)) + "\n")
        peaks.append((_peak_import(store, big), big.stat().st_size))
    (small_peak, _small_size), (big_peak, big_size) = peaks
    assert big_size > 20_000_000
    assert big_peak < big_size / 4, peaks  # far below the file
    assert big_peak < small_peak * 1.5, peaks  # and flat as the file grows 4x
