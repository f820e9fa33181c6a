"""LangSmith run exports (fixtures/agents/langsmith, written from the langsmith package's own
RunTree and its client's Run and Feedback schemas): one trace per case, feedback as criteria
and verdict, the llm/tool/retriever runs as the path; bad lines refused with file, line and
field, the store unchanged; hostile text inert; memory bounded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaltui import service, trajectory
from evaltui.cli import cli
from evaltui.errors import InputError
from evaltui.importers import ImportOptions, detect
from evaltui.importers.langsmith import LangSmithImporter

from .conftest import FIXTURES
from .test_hostile import assert_inert
from .test_stream_limits import _import_in_own_process

LS = FIXTURES / "agents" / "langsmith"
FILES = [LS / f"{side}.jsonl" for side in ("baseline", "candidate")]


def _lines(path: Path = FILES[1]) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(tmp_path: Path, lines: list[dict], name: str = "ls.jsonl") -> Path:
    out = tmp_path / name
    out.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return out


def _read(path: Path, **opts) -> tuple[list, list[str]]:
    (run,) = LangSmithImporter().read(path, ImportOptions(**opts))
    return list(run.records), run.notes


def _refused(store, path: Path) -> InputError:
    before = store.dump()
    with pytest.raises(InputError) as info:
        service.import_path(store, path)
    assert store.dump() == before
    assert str(path) in str(info.value)
    return info.value


def test_detected_from_content_and_read_as_cases():
    assert detect(FILES[0]).name == "langsmith"
    (run,) = LangSmithImporter().read(FILES[1], ImportOptions())
    assert run.run.name == "support_agent support-bot-v2" and run.run.system == "support-bot-v2"
    records = {r.case_key: r for r in run.records}
    assert len(records) == 16
    r2 = records["refund-02"]
    assert r2.verdict == "fail" and r2.criteria["tool_policy"].verdict == "fail"
    assert (
        r2.criteria["answer_correct"].explanation
        == "none of ['not eligible for a refund'] in the answer"
    )
    assert records["refund-03"].criteria["citation"].explanation.startswith("wrong_source ")
    assert (
        records["refund-01"].verdict == "pass"
        and records["refund-01"].attributes["risk"] == "medium"
    )
    assert records["refund-01"].input.startswith("user: Hi, this is Dana")
    lookups = trajectory.calls(records["lookup-01"].trajectory)
    assert [(c.name, c.arguments) for c in lookups] == [
        ("lookup_account", {"account_id": "A-1007"})
    ] * 5
    assert trajectory.tool_errors(records["notfound-01"].trajectory) == 2
    retrieved, cited = trajectory.sources(records["refund-03"].trajectory)
    assert set(retrieved) == {"policy/refunds#1", "policy/refunds#3"} and cited == [
        "policy/refunds#1"
    ]
    turns = [
        s for s in records["refund-01"].trajectory if s.kind == "message" and s.role == "assistant"
    ]
    assert turns[-1].text == records["refund-01"].output


def test_feedback_verdicts_follow_the_threshold_and_the_pass_criterion():
    """A numeric score passes at --pass-threshold; --pass-criterion picks one key."""
    records, _ = _read(FILES[1], pass_criterion="answer_correct")
    by_key = {r.case_key: r.verdict for r in records}
    assert by_key["refund-03"] == "pass"  # its answer is right; only its citation is wrong
    lines = _lines()
    for x in lines:
        if x.get("key") == "citation":
            x["score"] = 0.5 if x["score"] else 0.0
    path = Path(__import__("tempfile").mkdtemp()) / "half.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    low = {r.case_key: r.verdict for r in _read(path, pass_threshold=0.5)[0]}
    high = {r.case_key: r.verdict for r in _read(path)[0]}
    assert low["refund-01"] == "pass" and high["refund-01"] == "fail"


def test_a_run_tree_with_nested_children_reads_the_same(tmp_path):
    """The same runs as one tree per line (child_runs, as read_run(load_child_runs=True)
    gives them), parent ids and trace ids left to the nesting."""
    lines = _lines()
    runs = {x["id"]: x for x in lines if "run_type" in x}
    feedback = [x for x in lines if "run_type" not in x]
    for x in runs.values():
        x["child_runs"] = []
    roots = []
    for x in sorted(runs.values(), key=lambda r: r["dotted_order"]):
        if x["parent_run_id"]:
            runs[x["parent_run_id"]]["child_runs"].append(x)
        else:
            roots.append(x)
    for x in runs.values():
        if x["parent_run_id"]:
            del x["parent_run_id"], x["trace_id"]
    path = _write(tmp_path, roots + feedback)

    def paths(p):
        return {r.case_key: (r.verdict, r.trajectory) for r in _read(p)[0]}

    assert paths(path) == paths(FILES[1])


def test_a_case_comes_from_the_reference_example_when_no_case_id(tmp_path):
    lines = _lines()
    for x in lines:
        if "run_type" in x:
            x["extra"]["metadata"].pop("case_id")
    records, _ = _read(_write(tmp_path, lines))
    refs = {
        x["reference_example_id"]
        for x in lines
        if x.get("parent_run_id") is None and "run_type" in x
    }
    assert {r.case_key for r in records} == refs and len(refs) == 16


def _drop_root_ids(lines):
    for x in lines:
        if "run_type" in x and x["parent_run_id"] is None:
            x["extra"]["metadata"].pop("case_id")
            x["reference_example_id"] = None
    return lines


@pytest.mark.parametrize(
    ("mutate", "where", "field"),
    [
        (lambda ls: ls[3].update(start_time="yesterday"), "line 4", "start_time"),
        (lambda ls: ls[5].update(id=ls[4]["id"]), "line 6", "id"),
        (lambda ls: ls[2].update(outputs={"output": float("nan")}), "line 3", "outputs.output"),
        (lambda ls: ls.insert(1, {"hello": "world"}), "line 2", None),
        (lambda ls: [x.update(score=None, value="ok") for x in ls if "key" in x], None,
         "feedback.score"),
        (lambda ls: ls.__delitem__(slice(ls.index(next(x for x in ls if "key" in x)), None)), None,
         "feedback.score"),
        (_drop_root_ids, "line", "extra.metadata.case_id"),
        (lambda ls: [ls.remove(x) for x in list(ls) if x.get("name") == "support_agent"][:0],
         "line", "parent_run_id"),
        (lambda ls: ls[0].update(child_runs="none"), "line 1", "child_runs"),
    ],
    ids=["time", "duplicate-id", "nan", "not-a-run", "no-scored-feedback", "no-feedback", "no-case",
         "no-root", "child-runs-not-a-list"],
)  # fmt: skip
def test_bad_exports_are_refused_naming_line_and_field(store, db_path, tmp_path, mutate, where,
                                                       field):  # fmt: skip
    lines = _lines()
    mutate(lines)
    path = tmp_path / "bad.jsonl"
    path.write_text("".join(json.dumps(x, allow_nan=True) + "\n" for x in lines))
    err = _refused(store, path)
    if where:
        assert where in (err.location or ""), err
    if field:
        assert field in (err.field or ""), err
    out = CliRunner().invoke(cli, ["--db", str(db_path), "import", str(path)])
    assert out.exit_code == 2 and f"Error: {path}" in out.output


def test_feedback_for_runs_not_in_the_file_is_said(tmp_path):
    lines = _lines()
    lines.append({**next(x for x in lines if "key" in x),
                  "run_id": "00000000-0000-4000-8000-000000000001", "trace_id": None})  # fmt: skip
    _, notes = _read(_write(tmp_path, lines))
    assert notes == ["1 feedback rows are for runs this file does not hold: left out"]


def test_hostile_text_in_runs_stays_inert(store, db_path, tmp_path):
    evil = "look\x1b]0;PWNED\x07up \x1b[31m\u202e"
    lines = _lines()
    for x in lines:
        if x.get("run_type") == "tool" and x["name"] == "lookup_account":
            x["name"] = evil
            x["inputs"] = {"account_id": evil}
            x["outputs"] = {"output": evil}
        if x.get("key") == "citation":
            x["comment"] = evil
    (out,) = service.import_path(store, _write(tmp_path, lines))
    for args in (["case", str(out.run_id), str(out.run_id), "refund-01"],
                 ["case", str(out.run_id), str(out.run_id), "refund-01", "--json"]):  # fmt: skip
        shown = CliRunner().invoke(cli, ["--db", str(db_path), *args])
        assert shown.exit_code == 0, shown.output
        assert_inert(shown.output, " ".join(args))
        assert "PWNED" in shown.output


def test_a_trace_over_the_run_limit_is_refused(store, tmp_path, monkeypatch):
    monkeypatch.setenv("EVALTUI_MAX_PENDING_SPANS", "5")
    err = _refused(store, FILES[1])
    assert "holds more than 5 runs (EVALTUI_MAX_PENDING_SPANS)" in str(err)


def test_a_large_export_is_read_in_bounded_memory(tmp_path):
    """300 copies of the 16 traces and their feedback (~80 MB, feedback at the end): the
    runs wait in the temporary SQLite file, one trace is built at a time."""
    lines = _lines()
    path = tmp_path / "big.jsonl"
    copies = 300
    with path.open("w") as fh:
        for part in ("runs", "feedback"):
            for i in range(copies):
                for x in lines:
                    if ("run_type" in x) != (part == "runs"):
                        continue
                    y = dict(x)
                    for k in ("id", "trace_id", "parent_run_id", "run_id"):
                        if y.get(k):
                            y[k] = f"{i:08x}{y[k][8:]}"
                    if "run_type" in y:
                        y["extra"] = {"metadata": {**y["extra"]["metadata"],
                                                   "case_id": f"c{i}-{y['extra']['metadata']['case_id']}"}}  # fmt: skip
                    fh.write(json.dumps(y) + "\n")
    assert path.stat().st_size > 60 << 20
    results, peak_mb = _import_in_own_process(tmp_path, path)
    assert results == copies * 16
    assert peak_mb < 150, peak_mb
