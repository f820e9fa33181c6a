"""The comparison's doors and records (#25): it reads the store through `Store.reader`,
names no store table in SQL, and hands out typed records (one segment type)."""

from __future__ import annotations

import ast
import re
import sqlite3

import pytest
from click.testing import CliRunner

from evaltui import gate, service
from evaltui.cli import cli
from evaltui.compare import CompareSummary, Comparison, SegmentRecord, TriagedCase
from evaltui.compare.paths import step_of
from evaltui.compare.rows import CaseDetail, Sample
from evaltui.errors import InputError
from evaltui.models import StepRef
from evaltui.review import triage
from evaltui.review.taxonomy import default_taxonomy
from evaltui.textsafe import safe_json
from evaltui.trajectory import Step, ToolStats

from .conftest import FIXTURES, ROOT

COMPARE = ROOT / "evaltui" / "compare"
TABLES = (
    "runs",
    "cases",
    "results",
    "run_cases",
    "attr_sets",
    "run_criteria",
    "trajectories",
    "case_triage",
    "findings",
)
# a table named where SQL names one: after FROM, JOIN, INTO, UPDATE or a comma in a FROM list
NAMED = re.compile(rf"\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+({'|'.join(TABLES)})\b", re.IGNORECASE)


def _strings(path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    ]


def test_no_compare_module_names_a_store_table():
    """The tables' owners (store/runs.py, triage.py) hold the comparison's SQL on them."""
    found = {
        p.name: sorted({m for s in _strings(p) for m in NAMED.findall(s)})
        for p in sorted(COMPARE.glob("*.py"))
    }
    assert {k: v for k, v in found.items() if v} == {}


def test_paths_sits_below_the_engine():
    """No cycle: the engine imports paths, paths never imports the engine."""
    tree = ast.parse((COMPARE / "paths.py").read_text())
    names = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "evaltui.compare.engine" not in names and "evaltui.compare" not in names


def test_the_comparison_reads_through_a_read_only_connection(demo_store, db_path):
    with Comparison(db_path, 1, 2) as cmp:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            cmp.conn.execute("DELETE FROM events")
        assert cmp.conn.execute("PRAGMA trusted_schema").fetchone() == (0,)
        assert cmp.counts()["regressed"] > 0  # its temporary tables were made on it


def test_compare_json_is_the_summary_dump(demo_store, db_path):
    out = CliRunner().invoke(
        cli, ["--db", str(db_path), "compare", "1", "2", "--fallback", "3", "--json"]
    )
    assert out.exit_code == 0, out.output
    with Comparison(db_path, 1, 2, 3) as cmp:
        summary = cmp.summary()
        segments = cmp.segments()
    assert isinstance(summary, CompareSummary)
    assert out.output == safe_json(summary.dump()) + "\n"
    assert segments == summary.segments and all(type(s) is SegmentRecord for s in segments)
    every = segments[0]
    assert (every.dimension, every.label, every.fallback is not None) == ("all", "all", True)
    assert every.baseline_rate == every.baseline.rate == round(every.baseline_passed / every.n, 6)
    assert (every.regressed, every.improved) == (every.flips.pass_to_fail, every.flips.fail_to_pass)
    # read only when asked: a summary without keys or criteria leaves them out of the JSON
    with Comparison(db_path, 1, 2) as cmp:
        lean = cmp.summary(with_keys=False, with_criteria=False).dump()
    assert "changed" not in lean and "criteria" not in lean and lean["fallback"] is None
    assert list(lean)[-3:] == ["limit_hits", "tools", "new_in_candidate"] and lean["tools"] == {
        "baseline": None,
        "candidate": None,
    }
    assert lean["new_in_candidate"] == {"classes": [], "cases": []}  # no finding yet (#29)


def test_the_decision_record_keeps_the_comparisons_segments(demo_store, db_path):
    """One segment type: the record's segments are the comparison's, value for value."""
    rec = gate.evaluate(
        demo_store, gate.load_policy(FIXTURES / "policies" / "support-assistant.toml"), 1, 2, 3
    )
    with Comparison(db_path, 1, 2, 3, dimensions=rec.provenance.dimensions) as cmp:
        segments = cmp.segments()
    assert [type(s) for s in rec.segments] == [SegmentRecord] * len(segments)
    assert [s.model_dump() for s in rec.segments] == [s.model_dump() for s in segments]


def test_triaged_cases_are_named(demo_store, db_path):
    with Comparison(db_path, 1, 2) as cmp:
        key = cmp.changed_keys({"regressed"})["regressed"][0]
        case_id = cmp.find(None, key).case_id
    taxonomy_class = default_taxonomy().get("wrong_source")
    triage.label(demo_store, 1, 2, case_id, failure_class=taxonomy_class)
    with Comparison(db_path, 1, 2) as cmp:
        (row,) = cmp.triaged()
    assert isinstance(row, TriagedCase)
    assert (row.failure_class, row.case_key, row.state, row.classes, row.triaged) == (
        "wrong_source",
        key,
        "triaged",
        ["wrong_source"],
        True,
    )
    assert row.owner == taxonomy_class.owner and row.verdict is None


def _detail(tool: str) -> CaseDetail:
    def sample(steps: list[Step]) -> Sample:
        return Sample(0, "pass", None, "", {}, None, None, None, None, trajectory=steps)

    call = Step(kind="tool_call", name=tool, call_id="c1", turn=1)
    return CaseDetail(
        1, "s", "k", "", None, {}, "active", None, [sample([])], [sample([call])], None
    )


def test_step_of_is_a_step_ref_and_refuses_what_a_findings_file_cannot_carry():
    assert step_of(_detail("lookup"), 0) == StepRef(
        run="candidate", index=0, tool="lookup", call_id="c1", turn=1
    )
    with pytest.raises(InputError, match="call 1 cannot be pointed at: its tool"):
        step_of(_detail("t" * 201), 0)
    with pytest.raises(InputError, match="no call 2"):
        step_of(_detail("lookup"), 1)


def test_tool_stats_are_typed(store, db_path):
    agents = FIXTURES / "agents" / "otel_genai"
    b, c = (
        service.import_path(store, agents / f"{s}.otlp.jsonl")[0].run_id
        for s in ("baseline", "candidate")
    )
    with Comparison(db_path, b, c) as cmp:
        stats = cmp.tool_stats()
    assert set(stats) == {"baseline", "candidate"}
    assert all(isinstance(s, ToolStats) for s in stats.values())
    assert (stats["baseline"].tool_calls, stats["candidate"].tool_calls) == (26, 36)
