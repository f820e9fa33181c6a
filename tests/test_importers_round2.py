"""What the tools write beyond the first fixtures (issue: importers, second round).

Every file under fixtures/*/round2 was written by the tool itself (the generating scripts
are in fixtures/<tool>/how-produced/). Each test reads the tool's own summary from the
same file (Inspect's results and reductions, ...) and checks evaltui's reading against it.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaltui import service
from evaltui.cli import cli
from evaltui.compare import Comparison
from evaltui.errors import InputError
from evaltui.importers.base import ImportOptions
from evaltui.importers.inspect_ai import _read_member

from .conftest import FIXTURES

INSPECT = FIXTURES / "inspect_ai" / "round2"


def one(folder: str) -> Path:
    (path,) = sorted((INSPECT / folder).glob("*.eval"))
    return path


def member(path: Path, name: str) -> dict:
    with zipfile.ZipFile(path) as zf:
        return json.loads(bytes(_read_member(path, zf, zf.getinfo(name))))


def headline_accuracy(path: Path) -> tuple[str, float, int]:
    results = member(path, "header.json")["results"]
    head = results["headline"]
    score = next(s for s in results["scores"] if s["scorer"] == head["scorer"]
                 and s["name"] == (head.get("score") or head["scorer"]))  # fmt: skip
    return head["scorer"], score["metrics"][head["metric"]]["value"], results["total_samples"]


def run_of(store, run_id: int):
    return next(r for r in store.list_runs() if r.id == run_id)


# -- Inspect: a dict-valued scorer as the headline ------------------------------------------


def test_a_dict_scorer_headline_is_read_as_the_tool_reads_it(store):
    path = one("dict-first")
    scorer, accuracy, total = headline_accuracy(path)
    assert scorer == "format_checks"  # the headline names the dict-valued scorer
    (out,) = service.import_path(store, path)
    run = run_of(store, out.run_id)
    assert run.errored == 0 and run.results == total
    assert run.passed == round(accuracy * total)  # the headline key's accuracy
    # criteria are scorer/key; explanations kept; every result counted per criterion
    for name, counts in run.criteria.items():
        assert counts["passed"] + counts["failed"] + counts["errored"] + counts["unscored"] == total
    assert {
        "format_checks/single_line",
        "format_checks/starts_with_target",
        "match",
        "brevity",
    } == set(run.criteria)


@pytest.mark.parametrize(
    "name", ["format_checks/starts_with_target", "starts_with_target", "match"]
)
def test_a_pass_criterion_may_be_named_either_way(store, name):
    path = one("dict-first")
    results = member(path, "header.json")["results"]
    key = name.split("/")[-1]
    score = next(s for s in results["scores"] if s["name"] == key)
    (out,) = service.import_path(store, path, options=ImportOptions(pass_criterion=name))
    assert run_of(store, out.run_id).passed == round(score["metrics"]["accuracy"]["value"] * 40)


def test_an_unknown_pass_criterion_is_refused_for_every_format(store):
    for path in (one("dict-first"), FIXTURES / "promptfoo" / "candidate.json",
                 FIXTURES / "openai_evals" / "fixture-match_candidate.jsonl",
                 FIXTURES / "lm_eval" / "fixture-lm"):  # fmt: skip
        before = store.dump()
        with pytest.raises(InputError) as info:
            service.import_path(store, path, options=ImportOptions(pass_criterion="no-such"))
        assert info.value.field == "--pass-criterion" and "no-such" in info.value.message, path
        assert store.dump() == before


# -- Inspect: a float scorer; the threshold rule ------------------------------------------------


def test_a_float_headline_passes_at_the_threshold(store):
    path = one("float-first")
    values = [
        member(path, f"samples/{n}")["scores"]["brevity"]["value"]
        for n in sorted(
            m.removeprefix("samples/")
            for m in zipfile.ZipFile(path).namelist()
            if m.startswith("samples/")
        )
    ]
    (out,) = service.import_path(store, path)
    run = run_of(store, out.run_id)
    assert run.passed == sum(v >= 1.0 for v in values) and run.failed == sum(
        v < 1.0 for v in values
    )
    between = [v for v in values if 0.25 <= v < 1.0]
    assert between  # the fixture has values the threshold moves
    (low,) = service.import_path(store, path, options=ImportOptions(pass_threshold=0.25), force=True)
    assert run_of(store, low.run_id).passed == sum(v >= 0.25 for v in values) == run.passed + len(between)


# -- Inspect: the declared epoch reducer ------------------------------------------------------


def reduced_passing(path: Path) -> set[str]:
    """The cases the tool's own reducer passes (reductions.json: value 1 / C)."""
    (red,) = member(path, "reductions.json")
    return {str(s["sample_id"]) for s in red["samples"] if s["value"] in (1, 1.0, "C")}


def test_the_declared_reducer_flips_what_the_tool_says(store, db_path):
    base, cand = sorted((INSPECT / "reducer").glob("*.eval"))
    b = service.import_path(store, base)[0].run_id
    c = service.import_path(store, cand)[0].run_id
    want_b, want_c = reduced_passing(base), reduced_passing(cand)
    with Comparison(db_path, b, c, reducer="declared") as cmp:
        assert cmp.reducer.label == "at-least-2" and cmp.reducer_note() is None
        keys = cmp.changed_keys(["regressed", "improved"])
        assert set(keys["regressed"]) == want_b - want_c
        assert set(keys["improved"]) == want_c - want_b
    with Comparison(db_path, b, c) as cmp:  # the default says it is not the tool's
        assert cmp.reducer.label == "worst"
        assert "declare at_least_2" in cmp.reducer_note()
        assert cmp.summary()["declared_reducers"] == {
            "baseline": "at_least_2",
            "candidate": "at_least_2",
        }
    out = CliRunner().invoke(cli, ["--db", str(db_path), "compare", str(b), str(c), "--json"])
    assert json.loads(out.output)["reducer_note"].startswith("the logs declare at_least_2")


@pytest.mark.parametrize("folder", ["reducer-max", "reducer-pass_at_2"])
def test_other_declared_reducers_pass_the_cases_the_tool_passes(store, db_path, folder):
    path = one(folder)
    run = service.import_path(store, path)[0].run_id
    with Comparison(db_path, run, run, reducer="declared") as cmp:
        passing = {
            r.case_key for r in cmp.page(cmp_filter_all(), limit=100) if r.change == "still_passing"
        }
    (red,) = member(path, "reductions.json")
    tool = {str(s["sample_id"]) for s in red["samples"] if s["value"] in (1, 1.0, "C")}
    assert passing == tool


def cmp_filter_all():
    from evaltui.compare.filter import Filter
    from evaltui.compare.kinds import CHANGES

    return Filter(changes=frozenset(CHANGES))


# -- Inspect: limits ----------------------------------------------------------------------------


def test_samples_stopped_at_a_limit_are_counted_apart(store, db_path):
    for path in sorted((INSPECT / "limits").glob("*.eval")):
        header = member(path, "header.json")
        kind = "message" if header["eval"]["config"].get("message_limit") else "token"
        names = [m for m in zipfile.ZipFile(path).namelist() if m.startswith("samples/")]
        limited = {n for n in names if member(path, n).get("limit")}
        (out,) = service.import_path(store, path)
        run = run_of(store, out.run_id)
        assert run.limit == len(limited) > 0
        assert run.passed + run.failed + run.errored + run.limit == run.results
        errors = {r[0] for r in store.conn.execute(
            "SELECT error FROM results WHERE run_id = ? AND verdict = 'limit'", (out.run_id,))}  # fmt: skip
        assert all(e.startswith(f"{kind} limit (") for e in errors), errors
    # the gate can name them
    with Comparison(db_path, 1, 2) as cmp:
        from evaltui.compare.measures import measure

        value, evidence = measure(cmp, "limit_hits", "all", alpha=0.05)
        assert value == run_of(store, 2).limit and evidence["cases"]
