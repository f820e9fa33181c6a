"""promptfoo results written with tracing on (fixtures/agents/promptfoo, written by promptfoo
0.121.20 itself): the top-level `traces` array joined to its rows by `traceId`, read in the
JSON's first pass and never held whole; bad traces refused with file, record and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaltui import service, trajectory
from evaltui.cli import cli
from evaltui.errors import InputError
from evaltui.importers import ImportOptions
from evaltui.importers.promptfoo import PromptfooImporter

from .conftest import FIXTURES
from .test_hostile import assert_inert
from .test_stream_limits import _import_in_own_process

PF = FIXTURES / "agents" / "promptfoo"
JSON = [PF / f"{side}.json" for side in ("baseline", "candidate")]


def _read(path: Path) -> tuple[list, list[str]]:
    (run,) = PromptfooImporter().read(path, ImportOptions())
    return list(run.records), run.notes


def _calls(records) -> dict[str, list[tuple]]:
    return {r.case_key: [(s.name, s.arguments) for s in trajectory.calls(r.trajectory or [])]
            for r in records}  # fmt: skip


def _edit(tmp_path: Path, mutate, name: str = "pf.json") -> Path:
    obj = json.loads(JSON[1].read_text())
    mutate(obj)
    out = tmp_path / name
    out.write_text(json.dumps(obj))
    return out


def _refused(store, path: Path) -> InputError:
    before = store.dump()
    with pytest.raises(InputError) as info:
        service.import_path(store, path)
    assert store.dump() == before
    assert str(path) in str(info.value)
    return info.value


def test_each_row_gets_its_traces_path():
    """Every row joins its trace: the calls, results, errors and sources the spans hold."""
    records, notes = _read(JSON[1])
    assert notes == ["16 of the file's rows joined to their traces (16 traces, 113 spans)"]
    calls = _calls(records)
    assert sum(map(len, calls.values())) == 36
    assert calls["lookup-01"] == [("lookup_account", {"account_id": "A-1007"})] * 5
    assert calls["cancel-01"] == [("lookup_account", {"account_id": "A-1008"}),
                                  ("search_policy", {"query": "cancel annual plan mid-term"})]  # fmt: skip
    assert calls["giftcard-01"] == []
    by_key = {r.case_key: r for r in records}
    nf = by_key["notfound-01"].trajectory
    assert trajectory.tool_errors(nf) == 2
    assert next(s.error for s in nf if s.kind == "tool_result") == "account A-9999 not found"
    retrieved, cited = trajectory.sources(by_key["refund-03"].trajectory)
    assert set(retrieved) == {"policy/refunds#3", "policy/refunds#1"} and cited == [
        "policy/refunds#1"
    ]
    final = [s for s in by_key["refund-03"].trajectory if s.kind == "message"][-1]
    assert final.text == by_key["refund-03"].output and final.role == "assistant"
    # the verdicts are promptfoo's own (its assertions read the same trace)
    assert (
        by_key["refund-02"].verdict == "fail"
        and by_key["refund-02"].criteria["tool_policy"].verdict == "fail"
    )


def test_a_jsonl_names_traces_it_does_not_hold():
    """promptfoo writes traces only into the JSON: the JSONL's rows have a traceId and no
    path, and the import line says so (never an empty path in silence)."""
    records, notes = _read(PF / "candidate.jsonl")
    assert all(r.trajectory is None for r in records) and len(records) == 16
    assert notes == ["16 rows name a trace (traceId) this file does not hold: promptfoo writes "
                     "traces only into -o results.json; import that file for their paths"]  # fmt: skip


def test_traces_before_the_results_read_the_same(tmp_path):
    """Another tool's rewrite may put `traces` first: the second pass skips it (a gap the
    first pass measured), building nothing of it."""
    obj = json.loads(JSON[1].read_text())
    path = tmp_path / "first.json"
    path.write_text(json.dumps({"traces": obj.pop("traces"), **obj}))
    assert _calls(_read(path)[0]) == _calls(_read(JSON[1])[0])


def test_a_cut_attribute_is_kept_as_written_and_counted(tmp_path):
    """promptfoo's export cuts attributes at 400 characters (with `…`): such arguments are
    the text promptfoo wrote, not parsed, and the import line counts them."""
    long_query = '{"query": "' + "q" * 500 + '"}'

    def cut(obj):
        span = next(s for t in obj["traces"] for s in t["spans"]
                    if s["attributes"].get("gen_ai.tool.name") == "search_policy")  # fmt: skip
        span["attributes"]["gen_ai.tool.call.arguments"] = long_query[:400] + "…"

    records, notes = _read(_edit(tmp_path, cut))
    args = [s.arguments for r in records for s in trajectory.calls(r.trajectory or [])
            if isinstance(s.arguments, str)]  # fmt: skip
    assert args == [long_query[:400] + "…"]
    assert "1 span attributes were cut at 400 characters by promptfoo's export" in notes[1]


@pytest.mark.parametrize(
    ("mutate", "location", "field"),
    [
        (lambda o: o["traces"][2]["spans"][1].update(startTime="soon"), "traces[2]",
         "spans.1.startTime"),
        (lambda o: o["traces"][4].update(traceId=o["traces"][3]["traceId"]), "traces[4]",
         "traceId"),
        (lambda o: o["traces"][0]["spans"].append({"spanId": "x", "startTime": 1, "attributes": {
            "gen_ai.operation.name": "retrieval", "gen_ai.retrieval.documents": "{not json"}}),
         "traces[0]", "attributes[gen_ai.retrieval.documents]"),
        (lambda o: o["traces"][0]["metadata"].update(testIdx=99), "results.results[",
         "traceId"),
        (lambda o: o["traces"].__setitem__(1, ["not", "a", "trace"]), "traces[1]", None),
    ],
    ids=["span-time", "duplicate-trace", "documents-not-json", "trace-of-another-test", "not-an-object"],
)  # fmt: skip
def test_bad_traces_are_refused_naming_record_and_field(store, db_path, tmp_path, mutate,
                                                        location, field):  # fmt: skip
    path = _edit(tmp_path, mutate)
    err = _refused(store, path)
    assert location in (err.location or ""), err
    if field:
        assert field in (err.field or ""), err
    out = CliRunner().invoke(cli, ["--db", str(db_path), "import", str(path)])
    assert out.exit_code == 2 and f"Error: {path}" in out.output


def test_hostile_text_in_spans_stays_inert(store, db_path, tmp_path):
    evil = "look\x1b]0;PWNED\x07up \x1b[31m\u202e"

    def poison(obj):
        for t in obj["traces"]:
            for s in t["spans"]:
                a = s["attributes"]
                if a.get("gen_ai.tool.name") == "lookup_account":
                    a["gen_ai.tool.name"] = evil
                    a["gen_ai.tool.call.arguments"] = json.dumps({"account_id": evil})
                    a["gen_ai.tool.call.result"] = evil

    path = _edit(tmp_path, poison)
    (out,) = service.import_path(store, path)
    runner = CliRunner()
    for args in (["case", str(out.run_id), str(out.run_id), "refund-01"],
                 ["case", str(out.run_id), str(out.run_id), "refund-01", "--json"]):  # fmt: skip
        shown = runner.invoke(cli, ["--db", str(db_path), *args])
        assert shown.exit_code == 0, shown.output
        assert_inert(shown.output, " ".join(args))
        assert "PWNED" in shown.output  # shown, as data


def test_a_large_traced_file_is_read_in_bounded_memory(tmp_path):
    """3,200 traced rows and their traces (~55 MB, the traces after the results as promptfoo
    writes them): imported in its own process with one row and one trace held at a time."""
    obj = json.loads(JSON[1].read_text())
    rows, traces = obj["results"]["results"], obj.pop("traces")
    by_id = {t["traceId"]: t for t in traces}
    obj["results"]["results"] = []
    head, tail = json.dumps(obj).split('"results": []', 1)
    path = tmp_path / "big.json"
    copies = 200
    with path.open("w") as fh:
        fh.write(head + '"results": [')
        for i in range(copies):
            for n, r in enumerate(rows):
                row = {**r, "testIdx": r["testIdx"] + i * len(rows), "traceId": f"{i:08x}{r['traceId'][8:]}",
                       "vars": {**r["vars"], "case_id": f"c{i}-{r['vars']['case_id']}"}}  # fmt: skip
                fh.write(("," if i or n else "") + json.dumps(row))
        fh.write("]" + tail[:-1] + ', "traces": [')
        for i in range(copies):
            for n, r in enumerate(rows):
                t = by_id[r["traceId"]]
                t = {**t, "traceId": f"{i:08x}{t['traceId'][8:]}",
                     "metadata": {**t["metadata"], "testIdx": r["testIdx"] + i * len(rows)}}  # fmt: skip
                fh.write(("," if i or n else "") + json.dumps(t))
        fh.write("]}")
    assert path.stat().st_size > 50 << 20
    results, peak_mb = _import_in_own_process(tmp_path, path)
    assert results == copies * len(rows)
    assert peak_mb < 150, peak_mb  # 67 MB measured; json.load of the file alone is ~450 MB
