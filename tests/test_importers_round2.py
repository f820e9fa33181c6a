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
from evaltui.compare.rows import reducer_note
from evaltui.errors import InputError
from evaltui.importers.base import ImportOptions
from evaltui.importers.inspect_ai import _read_member
from evaltui.store.runs import list_runs

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
    return next(r for r in list_runs(store) if r.id == run_id)


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
        assert sum(counts.values()) == total, name
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
    (low,) = service.import_path(
        store, path, options=ImportOptions(pass_threshold=0.25), force=True
    )
    assert (
        run_of(store, low.run_id).passed
        == sum(v >= 0.25 for v in values)
        == run.passed + len(between)
    )


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
        assert (
            cmp.reducer.label == "at-least-2"
            and reducer_note(cmp.reducer, cmp.baseline, cmp.candidate, cmp.fallback) is None
        )
        keys = cmp.changed_keys(["regressed", "improved"])
        assert set(keys["regressed"]) == want_b - want_c
        assert set(keys["improved"]) == want_c - want_b
    with Comparison(db_path, b, c) as cmp:  # the default says it is not the tool's
        assert cmp.reducer.label == "worst"
        assert "declare at_least_2" in reducer_note(
            cmp.reducer, cmp.baseline, cmp.candidate, cmp.fallback
        )
        assert cmp.summary().dump()["declared_reducers"] == {
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
    """A sample Inspect stopped at a limit and still scored keeps its verdict; the limit
    is a flag beside it, counted apart (docs/formats.md): the pass rate is Inspect's."""
    for path in sorted((INSPECT / "limits").glob("*.eval")):
        header = member(path, "header.json")
        kind = "message" if header["eval"]["config"].get("message_limit") else "token"
        names = [m for m in zipfile.ZipFile(path).namelist() if m.startswith("samples/")]
        limited = {n for n in names if member(path, n).get("limit")}
        (out,) = service.import_path(store, path)
        run = run_of(store, out.run_id)
        assert run.limit == len(limited) > 0
        assert run.passed + run.failed + run.errored + run.unscored == run.results
        _, accuracy, _ = headline_accuracy(path)
        assert run.pass_rate == pytest.approx(accuracy)
        flags = {r[0] for r in store.conn.execute(
            "SELECT limit_hit FROM results WHERE run_id = ? AND limit_hit IS NOT NULL", (out.run_id,))}  # fmt: skip
        assert all(f.startswith(f"{kind} limit (") for f in flags), flags
    # the gate can name them
    with Comparison(db_path, 1, 2) as cmp:
        from evaltui.compare.measures import measure

        value, evidence = measure(cmp, "limit_hits", "all", alpha=0.05)
        assert value == run_of(store, 2).limit and evidence["cases"]


# -- folders, eval sets and the same run twice ------------------------------------------------


def test_a_folder_imports_every_log_and_skips_bookkeeping(db_path):
    out = CliRunner().invoke(cli, ["--db", str(db_path), "import", str(INSPECT)])
    assert out.exit_code == 0, out.output
    logs = sorted(INSPECT.rglob("*.eval"))
    assert sum(line.startswith("imported ") for line in out.output.splitlines()) == len(logs)
    assert "skipped 3 file(s)" in out.output and "logs.json" in out.output
    assert "field 'eval'" not in out.output  # bookkeeping files are never read as logs


def test_a_folder_with_a_bad_file_imports_the_others_and_exits_2(db_path, tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    for src in sorted((INSPECT / "reducer").glob("*.eval")):
        (folder / src.name).write_bytes(src.read_bytes())
    (folder / "broken.eval").write_bytes(b"PK\x03\x04 not a zip at all")
    out = CliRunner().invoke(cli, ["--db", str(db_path), "import", str(folder)])
    assert out.exit_code == 2
    lines = out.output.splitlines()
    assert sum(line.startswith("imported ") for line in lines) == 2 and "broken.eval" in out.output
    assert "2 run(s) imported from 3 file(s); 1 file(s) failed" in out.output


def test_the_same_run_in_two_serialisations_is_a_duplicate(store):
    base = FIXTURES / "inspect_ai" / "baseline"
    (first,) = service.import_path(store, next(base.glob("*.eval")))
    (again,) = service.import_path(store, next(base.glob("*.json")))
    assert again.skipped and again.run_id == first.run_id and "the tool's id inspect/" in again.why
    (kept,) = service.import_path(store, next(base.glob("*.json")), force=True)
    assert not kept.skipped
    names = [r.name for r in list_runs(store)]
    assert names == [names[0], names[0] + " #2"]  # a name resolves to one run


# -- lm-evaluation-harness --------------------------------------------------------------------

LM = FIXTURES / "lm_eval" / "round2"


def test_corpus_metrics_import_and_count_as_unscored(store):
    outcomes = service.import_path(store, next((LM / "corpus").iterdir()))
    assert len(outcomes) == 2
    for out in outcomes:
        run = run_of(store, out.run_id)
        ts = store.conn.execute(
            "SELECT source_part FROM runs WHERE id = ?", (out.run_id,)
        ).fetchone()[0]
        (results,) = [
            json.loads(p.read_text()) for p in (LM / "corpus").rglob(f"results_{ts}.json")
        ]
        figures = results["results"]["fixture_mc_corpus"]
        assert run.passed == round(figures["acc,none"] * 40) and run.errored == 0
        for corpus in ("f1", "mcc", "brier_score"):
            assert run.criteria[corpus] == {"passed": 0, "failed": 0, "errored": 0, "unscored": 40}


def test_a_predict_only_run_is_unscored_not_failed(store):
    (out,) = service.import_path(store, next((LM / "predict").iterdir()))
    run = run_of(store, out.run_id)
    assert (run.passed, run.failed, run.errored, run.unscored) == (0, 0, 0, 40)
    assert run.pass_rate is None


def test_gold_fields_are_not_default_segments(store, db_path):
    a, b = service.import_path(store, next((LM / "corpus").iterdir()))
    with Comparison(db_path, a.run_id, b.run_id) as cmp:
        assert "label" not in cmp.dimensions and "segment" in cmp.dimensions
    with Comparison(db_path, a.run_id, b.run_id, dimensions=["label"]) as cmp:
        assert cmp.dimensions == ["label"]  # still yours to choose


# -- OpenAI Evals: a class that records only metrics -------------------------------------------

OAI = FIXTURES / "openai_evals" / "round2"


@pytest.mark.parametrize("name", ["fixture-metrics_baseline.jsonl", "fixture-metrics_candidate.jsonl",
                                  "fixture-fuzzy_candidate.jsonl"])  # fmt: skip
def test_metrics_only_classes_read_as_the_final_report_says(store, name):
    path = OAI / name
    report = next(json.loads(line)["final_report"] for line in path.read_text().splitlines()
                  if line.startswith('{"final_report"'))  # fmt: skip
    (out,) = service.import_path(store, path)
    run = run_of(store, out.run_id)
    assert run.errored == 0 and run.unscored == 0
    assert run.passed == round(report["accuracy"] * run.results)


# -- promptfoo: assert-sets and object-valued vars -------------------------------------------------

PF = FIXTURES / "promptfoo" / "round2"


def test_an_assert_set_is_one_criterion_with_its_checks_under_it(store):
    (out,) = service.import_path(store, PF / "round2.json")
    run = run_of(store, out.run_id)
    assert {"format", "format/is-json", "format/javascript", "correctness"} <= set(run.criteria)
    assert "assertion" not in run.criteria and "is-json" not in run.criteria
    doc = json.loads((PF / "round2.json").read_text())
    sets = sum(
        1 for r in doc["results"]["results"] for c in r["gradingResult"]["componentResults"]
        if (c.get("metadata") or {}).get("assertionSet")
    )  # fmt: skip
    assert run.criteria["format"]["passed"] + run.criteria["format"]["failed"] == sets


def test_json_csv_and_jsonl_of_one_eval_give_the_same_case_keys(store):
    keys = []
    for suffix in ("json", "csv", "jsonl"):
        (out,) = service.import_path(store, PF / f"round2.{suffix}", force=True)
        keys.append(sorted(store.conn.execute(
            "SELECT c.case_key, r.epoch FROM results r JOIN cases c ON c.id = r.case_id "
            "WHERE r.run_id = ?", (out.run_id,)).fetchall()))  # fmt: skip
    assert keys[0] == keys[1] == keys[2]
    assert len({k for k, _ in keys[0]}) == 8 and {e for _, e in keys[0]} == {0, 1}  # --repeat 2
