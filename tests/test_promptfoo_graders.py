"""The grader's identity of promptfoo's llm-rubric: the grading provider the file names, kept
as the run's `grader_models` (#27). Checked on fixtures/promptfoo/rubric, written by promptfoo
0.121.20 itself (how-produced/rubric.sh) with two offline grading providers: one named on
the `accuracy` assertions (an object) and on one unnamed llm-rubric (an id), the other for
every test by `defaultTest.options.provider`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaltui import service
from evaltui.importers.promptfoo_graders import default_grader, provider_id
from evaltui.review.calibration.report import grader_identity
from evaltui.store import Store
from evaltui.store.runs.grader import VERDICT, run_identity

from .conftest import FIXTURES

RUBRIC = FIXTURES / "promptfoo" / "rubric"
GRADERS = {  # as read by hand from rubric.json / rubric.jsonl (below)
    "accuracy": "file://grader.js",
    "llm-rubric": "file://grader.js,file://lenient-grader.js",
    "tone": "file://lenient-grader.js",
}


def rows(path: Path) -> list[dict]:
    if path.suffix == ".json":
        return json.loads(path.read_text())["results"]["results"]
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def graders_of(store: Store, path: Path) -> tuple[int, dict]:
    (out,) = service.import_path(store, path)
    return out.run_id, run_identity(store.conn, out.run_id)[3]


@pytest.mark.parametrize("name", ["rubric.json", "rubric.jsonl"])
def test_the_rubrics_grading_provider_is_the_graders_identity(tmp_path, name):
    path = RUBRIC / name
    by_case = {r["testCase"]["vars"]["case_id"]: r for r in rows(path)}
    first = by_case["cap-01"]["gradingResult"]["componentResults"][0]["assertion"]
    assert (first["type"], first["metric"]) == ("llm-rubric", "accuracy")
    assert first["provider"]["id"] == "file://grader.js"  # on the assertion, an object
    plain = by_case["sen-04"]["gradingResult"]["componentResults"][0]["assertion"]
    assert ("metric" in plain, plain["provider"]) == (False, "file://grader.js")  # an id
    tone = by_case["sen-01"]
    assert "provider" not in tone["gradingResult"]["componentResults"][0]["assertion"]
    # defaultTest.options.provider, merged into every test's options
    assert tone["testCase"]["options"]["provider"]["id"] == "file://lenient-grader.js"
    with Store(tmp_path / "s.db") as store:
        run_id, meta = graders_of(store, path)
        assert meta["grader_models"] == GRADERS
        accuracy = grader_identity(store.conn, run_id, "accuracy")
        mixed = grader_identity(store.conn, run_id, "llm-rubric")
        plain_check = grader_identity(store.conn, run_id, "correctness")
        verdict = grader_identity(store.conn, run_id, VERDICT)
    assert accuracy == "accuracy (promptfoo); grader model file://grader.js"
    assert mixed == "llm-rubric (promptfoo); grader model file://grader.js,file://lenient-grader.js"
    assert plain_check == "correctness (promptfoo)"  # icontains: no grader model
    assert verdict.endswith(
        "; grader models accuracy: file://grader.js, "
        "llm-rubric: file://grader.js,file://lenient-grader.js, tone: file://lenient-grader.js"
    )


def test_the_csv_names_no_grading_provider(tmp_path):
    header = (RUBRIC / "rubric.csv").read_text().splitlines()[0]
    assert "provider" not in header.lower() and "grader.js" not in header
    with Store(tmp_path / "s.db") as store:
        _, meta = graders_of(store, RUBRIC / "rubric.csv")
    assert "grader_models" not in meta


def _without_test_options(tmp_path: Path, name: str) -> Path:
    """The real file with every row's testCase.options dropped: the grader promptfoo took
    from defaultTest is then named only by the JSON's config."""
    path = RUBRIC / name
    if name.endswith(".jsonl"):
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for row in lines:
            del row["testCase"]["options"]
        text = "".join(json.dumps(row) + "\n" for row in lines)
    else:
        obj = json.loads(path.read_text())
        for row in obj["results"]["results"]:
            del row["testCase"]["options"]
        text = json.dumps(obj)
    out = tmp_path / name
    out.write_text(text)
    return out


def test_the_jsons_config_names_the_default_grader_the_jsonl_cannot(tmp_path):
    config = json.loads((RUBRIC / "rubric.json").read_text())["config"]
    assert config["defaultTest"]["options"]["provider"]["id"] == "file://lenient-grader.js"
    assert default_grader(config) == "file://lenient-grader.js"
    with Store(tmp_path / "s.db") as store:
        _, from_json = graders_of(store, _without_test_options(tmp_path, "rubric.json"))
        _, from_jsonl = graders_of(store, _without_test_options(tmp_path, "rubric.jsonl"))
    assert from_json["grader_models"] == GRADERS
    assert from_jsonl["grader_models"] == {  # only the assertions' own providers
        "accuracy": "file://grader.js",
        "llm-rubric": "file://grader.js",
    }


@pytest.mark.parametrize(
    "path",
    ["baseline.json", "candidate.jsonl", "baseline.csv", "round2/round2.json"],
)
def test_files_without_a_model_graded_assertion_name_no_grader(tmp_path, path):
    with Store(tmp_path / "s.db") as store:
        outcomes = service.import_path(store, FIXTURES / "promptfoo" / path)
        metas = [run_identity(store.conn, o.run_id)[3] for o in outcomes]
    assert metas and all("grader_models" not in m for m in metas)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("openai:gpt-4.1-mini", "openai:gpt-4.1-mini"),
        ({"id": "file://grader.js", "label": "g", "config": {}}, "file://grader.js"),
        ({"text": {"id": "anthropic:claude"}, "embedding": "openai:emb"}, "anthropic:claude"),
        ({"text": "ollama:llama3"}, "ollama:llama3"),
        ({"label": "no id"}, None),
        ("", None),
        (["file://grader.js"], None),
        ("x" * 300, "x" * 200),
    ],
)
def test_a_provider_is_its_id_as_promptfoo_resolves_it(value, expected):
    assert provider_id(value) == expected
