"""`evaltui calibrate` and `evaltui gold` (#27): the sample, the report with --json, the
scripted judgment, files of labels, gold, and bad input: one line, exit 2, store unchanged."""

from __future__ import annotations

import csv
import importlib.util
import json

import pytest
from click.testing import CliRunner

from evaltui import service
from evaltui.cli import cli
from evaltui.review.calibration import demo, judgments
from evaltui.store import Store

from .conftest import ROOT


def run(*args: str, reviewer: str = "tester"):
    return CliRunner().invoke(cli, ["--reviewer", reviewer, *args], catch_exceptions=False)


@pytest.fixture
def story(demo_store):
    demo.load(demo_store)
    return demo_store


def test_sample_keeps_a_queue_and_writes_a_labels_file(demo_store, tmp_path):
    out = tmp_path / "items.csv"
    res = run(
        "calibrate",
        "sample",
        "cand-2026-11-20",
        "--criterion",
        "grounded",
        "--n",
        "12",
        "--seed",
        "5",
        "--out",
        str(out),
        "--json",
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert (data["drawn"], data["seed"], data["frame_size"], data["criterion"]) == (
        12,
        5,
        568,
        "grounded",
    )
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 12 and rows[0]["run"] == "cand-2026-11-20" and rows[0]["verdict"] == ""
    listed = json.loads(run("calibrate", "samples", "--json").output)
    assert [(s["id"], s["judged_by_you"]) for s in listed] == [(data["id"], 0)]
    again = run(
        "calibrate", "sample", "cand-2026-11-20", "--criterion", "grounded", "--out", str(out)
    )
    assert again.exit_code == 2 and "exists" in again.output


def test_a_filled_labels_file_imports_once(demo_store, tmp_path):
    out = tmp_path / "items.csv"
    run(
        "calibrate",
        "sample",
        "cand-2026-11-20",
        "--criterion",
        "grounded",
        "--n",
        "6",
        "--out",
        str(out),
    )
    rows = list(csv.DictReader(out.open()))
    for i, r in enumerate(rows):
        r["verdict"], r["reviewer"] = ("fail" if i == 0 else "pass"), "carol"
    with out.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    first = json.loads(run("calibrate", "import", str(out), "--json").output)
    second = json.loads(run("calibrate", "import", str(out), "--json").output)
    assert (first, second) == ({"added": 6, "already_there": 0}, {"added": 0, "already_there": 6})
    report = json.loads(run("calibrate", "report", "cand-2026-11-20", "--json").output)
    (c,) = report["criteria"]
    assert (c["judged"], c["reviewers"], c["human_fails"]) == (6, ["carol"], 1)


@pytest.mark.parametrize(
    ("row", "where", "message"),
    [
        ({"verdict": "maybe"}, "line 3: field 'verdict'", "must be one of pass, fail, unsure"),
        ({"run": "cand-nope"}, "line 3: field 'run'", "No run 'cand-nope'"),
        ({"case": "no-such-case"}, "line 3: field 'case'", "no case 'no-such-case'"),
        ({"criterion": "groundd"}, "line 3: field 'criterion'", "did you mean 'grounded'"),
        ({"epoch": "x"}, "line 3: field 'epoch'", "whole number"),
        ({"reviewer": ""}, "line 3: field 'reviewer'", "reviewer is missing"),
        ({"sample": "999"}, "line 3: field 'sample'", "no calibration sample"),
    ],
)
def test_a_bad_labels_file_is_one_line_exit_2_and_changes_nothing(
    demo_store, tmp_path, row, where, message
):
    good = {
        "run": "cand-2026-11-20",
        "case": "billing-001",
        "epoch": "",
        "criterion": "grounded",
        "verdict": "pass",
        "reviewer": "carol",
        "sample": "",
        "note": "",
    }
    path = tmp_path / "labels.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(good))
        w.writeheader()
        w.writerow(good)
        w.writerow({**good, "case": "billing-002", **row})
    before = demo_store.dump()
    res = run("calibrate", "import", str(path))
    assert res.exit_code == 2
    (line,) = res.output.strip().splitlines()
    assert line.startswith(f"Error: {path}, {where}") and message in line, line
    assert demo_store.dump() == before


def test_a_jsonl_labels_file_and_its_bad_line(demo_store, tmp_path):
    path = tmp_path / "labels.jsonl"
    good = {
        "run": "cand-2026-11-20",
        "case": "billing-001",
        "criterion": "grounded",
        "verdict": "fail",
        "reviewer": "dan",
    }
    path.write_text(json.dumps(good) + "\n[1]\n")
    res = run("calibrate", "import", str(path))
    assert res.exit_code == 2 and f"Error: {path}, line 2" in res.output
    path.write_text(json.dumps(good) + "\n")
    assert "imported 1 judgments" in run("calibrate", "import", str(path)).output


def test_label_and_undo_are_the_screens_keys_scripted(demo_store):
    res = run(
        "calibrate",
        "label",
        "cand-2026-11-20",
        "billing-001",
        "--criterion",
        "grounded",
        "--verdict",
        "fail",
        "--note",
        "no source",
        "--json",
    )
    data = json.loads(res.output)
    assert (data["kind"], data["verdict"], data["reviewer"]) == ("judgment", "fail", "tester")
    undone = json.loads(
        run(
            "calibrate",
            "label",
            "cand-2026-11-20",
            "billing-001",
            "--criterion",
            "grounded",
            "--undo",
            "--json",
        ).output
    )
    assert (undone["kind"], undone["verdict"]) == ("undo", None)
    nothing = run(
        "calibrate", "label", "cand-2026-11-20", "billing-001", "--criterion", "grounded", "--undo"
    )
    assert "nothing to undo" in nothing.output
    both = run(
        "calibrate", "label", "cand-2026-11-20", "billing-001", "--verdict", "pass", "--undo"
    )
    assert both.exit_code == 2


def test_a_mistyped_criterion_is_one_line_exit_2(demo_store):
    res = run("calibrate", "sample", "cand-2026-11-20", "--criterion", "groundd")
    assert res.exit_code == 2
    assert res.output.strip() == (
        "Error: --criterion: run 2 scores no criterion 'groundd'; did you mean 'grounded'?"
    )


def test_report_text_and_json_on_the_demo_story(story):
    res = run("calibrate", "report", "--criterion", "grounded")  # the marks: cand vs prod
    assert res.exit_code == 0
    text = res.output
    assert "calibration of cand-2026-11-20 vs prod-2026-11-02" in text
    assert "raw 92.4% (525/568) -> corrected 65.9%" in text
    assert "raw delta +11.9 pts" in text and "corrected delta -11.6 pts" in text
    assert "reviewer ana on gold: 7/8 right" in text
    data = json.loads(run("calibrate", "report", "cand-2026-11-20", "--json").output)
    assert data["baseline"] is None and data["gold_items"] == 8
    assert [c["criterion"] for c in data["criteria"]] == ["grounded"]


def test_gold_answers_are_shown_to_adjudicators_only(story):
    run("findings", "adjudicators", "--add", "lead", reviewer="lead")
    seen = json.loads(run("gold", "list", "--json", reviewer="lead").output)
    assert seen["answers_shown"] is True and len(seen["items"]) == 8
    hidden = json.loads(run("gold", "list", "--json", reviewer="ana").output)
    assert hidden == {"answers_shown": False, "by_criterion": {"grounded": 8}}
    refused = run(
        "gold", "add", "cand-2026-11-20", "billing-001", "--answer", "fail", reviewer="ana"
    )
    assert refused.exit_code == 2 and "not an adjudicator" in refused.output
    added = run(
        "gold",
        "add",
        "cand-2026-11-20",
        "billing-001",
        "--criterion",
        "grounded",
        "--answer",
        "fail",
        reviewer="lead",
    )
    assert "9 in force" in added.output
    log = run("log", "--json").output
    assert '"gold.set"' in log and "billing-001" not in log.split('"gold.set"')[-1][:300]


def test_gold_import_checks_every_row(story, tmp_path):
    path = tmp_path / "gold.csv"
    path.write_text(
        "run,case,criterion,answer\ncand-2026-11-20,billing-001,grounded,pass\n"
        "cand-2026-11-20,billing-002,grounded,maybe\n"
    )
    res = run("gold", "import", str(path))
    assert res.exit_code == 2 and "line 3: field 'answer'" in res.output
    path.write_text("run,case,criterion,answer\ncand-2026-11-20,billing-001,grounded,pass\n")
    assert "imported 1 gold answers" in run("gold", "import", str(path)).output
    assert "imported 0 gold answers (1 already there)" in run("gold", "import", str(path)).output


def test_the_demo_command_ships_the_story(tmp_path, monkeypatch):
    db = tmp_path / "demo.db"
    res = CliRunner().invoke(cli, ["--db", str(db), "demo", "--no-open"], catch_exceptions=False)
    assert res.exit_code == 0
    with Store(db) as store:
        assert judgments.judged_counts(store.conn) == {(1, "grounded"): 30, (2, "grounded"): 30}


def test_the_bench_section_runs_small(tmp_path, monkeypatch, capsys):
    """`make bench`'s calibrate section at 3,000 results: the figures it writes (no timing)."""
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setenv("BENCH_ONLY", "calibrate")
    monkeypatch.setenv("BENCH_CALIBRATE_N", "3000")
    monkeypatch.setenv("BENCH_DIR", str(tmp_path))
    figures = bench.main()["calibrate"]
    assert (figures["results"], figures["judged"]) == (3000, 1000)
    assert 0 <= figures["corrected"] <= 1 and figures["report_s"] > 0
    assert "calibrate report (one run)" in capsys.readouterr().out


def test_exchanging_judgment_files_converges(story, tmp_path):
    """Store A's judgments exported and imported into store B (the same runs, one judgment
    of its own), B's exported back into A: each judgment once in each store, and both
    compute the same judgment set."""
    a_file, b_file, other = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "other.db"
    assert "exported 60 judgments" in run("calibrate", "export", str(a_file)).output
    with Store(other) as b:
        service.load_demo(b)
    b_db = ["--db", str(other)]
    run(
        *b_db,
        "calibrate",
        "label",
        "cand-2026-11-20",
        "billing-001",
        "--criterion",
        "grounded",
        "--verdict",
        "fail",
        reviewer="dan",
    )
    assert json.loads(run(*b_db, "calibrate", "import", str(a_file), "--json").output) == {
        "added": 60,
        "already_there": 0,
    }
    assert json.loads(run(*b_db, "calibrate", "import", str(a_file), "--json").output) == {
        "added": 0,
        "already_there": 60,
    }
    assert "exported 61 judgments" in run(*b_db, "calibrate", "export", str(b_file)).output
    back = json.loads(run("calibrate", "import", str(b_file), "--json").output)
    assert back == {"added": 1, "already_there": 60}
    a, b = (
        json.loads(run(*db, "calibrate", "report", "cand-2026-11-20", "--json").output)["criteria"][
            0
        ]
        for db in ([], b_db)
    )
    assert a["judgment_set_sha256"] == b["judgment_set_sha256"] and a["judged"] == b["judged"] == 31
    assert run("calibrate", "export", str(a_file)).exit_code == 2  # never over a file


def test_the_log_names_a_judged_result_and_never_a_gold_items(demo_store):
    """`evaltui log`'s key column: a judgment names its run, case and epoch (not `2:17:0`);
    a gold answer's event names the gold item only, so the log keeps gold hidden."""
    run("findings", "adjudicators", "--add", "lead", reviewer="lead")
    assert run("calibrate", "label", "cand-2026-11-20", "billing-001", "--criterion",
               "grounded", "--verdict", "fail").exit_code == 0  # fmt: skip
    run("calibrate", "label", "cand-2026-11-20", "billing-001", "--criterion", "grounded",
        "--undo")  # fmt: skip
    added = run("gold", "add", "cand-2026-11-20", "billing-002", "--criterion", "grounded",
                "--answer", "pass", reviewer="lead")  # fmt: skip
    assert added.exit_code == 0, added.output
    events = demo_store.events(None)[-3:]
    subjects = service.event_subjects(demo_store, events)
    assert [e.action for e in events] == ["judgment.record", "judgment.undo", "gold.set"]
    assert [e.entity_id for e in events][:2] == ["2:1:0", "2:1:0"]
    assert subjects[:2] == ["cand-2026-11-20: support-assistant/billing-001 epoch 0"] * 2
    assert subjects[2] == f"gold answer {events[2].entity_id[:12]}"
    table = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["log"]).output
    rows = [" ".join(line.split()[3:]) for line in table.splitlines()[-3:]]  # after id, at
    assert rows == [
        "tester judgment.record result cand-2026-11-20: support-assistant/billing-001 epoch 0 "
        '{"criterion": "grounded", "verdict": "fail"}',
        "tester judgment.undo result cand-2026-11-20: support-assistant/billing-001 epoch 0 "
        '{"criterion": "grounded", "verdict": null}',
        f'lead gold.set gold gold answer {events[2].entity_id[:12]} {{"criterion": "grounded"}}',
    ]
    assert "2:1:0" not in table and "billing-002" not in table
