"""The event log and the kept decisions each have one owning module, which alone names its
table in SQL; everything else goes through that module's functions and typed objects."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from click.testing import CliRunner

from evaltui import gate
from evaltui.cli import cli
from evaltui.store.events import Event

from .conftest import FIXTURES

PACKAGE = Path(__file__).resolve().parent.parent / "evaltui"
OWNERS = {"events": "store/events.py", "decisions": "store/decisions.py"}
# the store's mechanics: the schema itself (tables, triggers) and its migrations
MECHANICS = {"store/migrations.py", "store/schema.py"}
POLICY = FIXTURES / "policies" / "support-assistant.toml"


def _sql_naming(table: str) -> re.Pattern[str]:
    return re.compile(rf"\b(?:FROM|INTO|JOIN|UPDATE|TABLE|ON)\s+{table}\b")


def _strings(path: Path) -> str:
    """Every string constant of a module (f-strings' literal parts too), not its comments."""
    tree = ast.parse(path.read_text())
    return "\n".join(
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    )


def test_events_are_typed_and_log_json_is_their_columns_in_order(demo_store, db_path):
    events = demo_store.events()
    assert events and all(isinstance(e, Event) for e in events)
    first = events[0]
    assert (first.id, first.action, first.entity, first.entity_id) == (1, "import", "run", "1")
    assert first.actor == "tester" and first.before is None and first.after["results"] == 576
    out = CliRunner().invoke(cli, ["--db", str(db_path), "log", "--json"]).output
    assert json.loads(out) == [e.as_dict() for e in events]
    assert list(json.loads(out)[0]) == [
        "id", "at", "actor", "action", "entity", "entity_id", "before", "after", "context", "hash",
    ]  # fmt: skip
    assert demo_store.events(limit=2) == events[:2]


def test_kept_decisions_are_typed_rows_and_records(demo_store, db_path):
    record = gate.evaluate(demo_store, gate.load_policy(POLICY), 1, 2, 3)
    did = gate.record_decision(demo_store, record)
    (row,) = gate.list_decisions(demo_store)
    assert (row.id, row.decision, row.content_hash) == (did, "hold", record.content_hash)
    assert (row.baseline, row.candidate) == ("prod-2026-11-02", "cand-2026-11-20")
    assert gate.list_decisions(demo_store, baseline=1, candidate=3) == []
    kept = gate.get_decision(demo_store, did)
    assert kept.id == did and kept.model() == record  # the record as kept, and as the model
    assert kept.data == json.loads(gate.canonical(record.as_dict()))
    out = CliRunner().invoke(cli, ["--db", str(db_path), "decisions", "--json"]).output
    assert json.loads(out) == [row.as_dict()]
    assert list(json.loads(out)[0]) == [
        "id", "decided_at", "decided_by", "baseline", "candidate", "decision", "policy_sha256",
        "content_hash",
    ]  # fmt: skip
    assert demo_store.logged("decision", "decision", did)
    assert not demo_store.logged("decision.sign", "decision", did)
