"""Trust, traces and streamed formats (#24): a trace dialect evaltui does not read is refused,
naming it; malformed OTLP shapes are refused with file, line and field (never a crash);
memory stays bounded (pending spans, large native fields, a file swapped between passes, a
huge case path); non-finite numbers are read the way each tool means them."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaltui.cli import cli
from evaltui.store import Store

from .conftest import FIXTURES

OTEL = FIXTURES / "agents" / "otel_genai"
OPENINFERENCE = FIXTURES / "agents" / "openinference"
OTEL_LINES = (OTEL / "baseline.otlp.jsonl").read_text().splitlines()


def run_import(db: Path, path: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--db", str(db), "import", str(path), *args])


def refused(db: Path, path: Path, *args: str) -> str:
    """Import `path` into an existing store: exit 2, one `Error:` line, the store as it was."""
    Store(db).close()
    with Store(db) as store:
        before = store.dump()
    r = run_import(db, path, *args)
    assert r.exit_code == 2, (r.exit_code, r.output, r.exception)
    (out,) = r.output.strip().splitlines()
    assert out.startswith(f"Error: {path}"), out
    with Store(db) as store:
        assert store.dump() == before
    return out


def write_lines(path: Path, objs: list[Any]) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objs))
    return path


def spans(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for rs in obj["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]


def root(obj: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in spans(obj) if not s.get("parentSpanId"))


# -- 1. a trace dialect evaltui does not read --------------------------------------------


@pytest.mark.parametrize("run", ["baseline", "candidate"])
def test_a_real_openinference_trace_is_refused_naming_the_dialect_and_the_line(db_path, run):
    """Written by openinference-instrumentation's OITracer (fixtures/agents/how-produced):
    before, it imported as 16 unscored results keyed by trace id."""
    path = OPENINFERENCE / f"{run}.otlp.jsonl"
    out = refused(db_path, path)
    assert ", line 1: " in out and "OpenInference" in out, out
    assert "openinference.span.kind" in out and "does not read" in out


def _foreign(obj: dict[str, Any], rename: dict[str, str], drop_events: bool = True) -> None:
    """Every span's attributes renamed into another convention (keys outside it dropped)."""
    for span in spans(obj):
        attrs = []
        for a in span.get("attributes", []):
            for old, new in rename.items():
                if a["key"].startswith(old):
                    attrs.append({**a, "key": new + a["key"][len(old) :]})
                    break
        span["attributes"] = attrs
        if drop_events:
            span["events"] = []


def test_the_vercel_ai_sdk_convention_is_named(db_path, tmp_path):
    objs = [json.loads(x) for x in OTEL_LINES[:3]]
    for obj in objs:
        _foreign(obj, {"gen_ai.request.model": "ai.model.id", "gen_ai.operation.name": "ai.operationId",
                       "gen_ai.usage.": "ai.usage.", "gen_ai.input.messages": "ai.prompt.messages"})  # fmt: skip
    out = refused(db_path, write_lines(tmp_path / "vercel.jsonl", objs))
    assert "Vercel AI SDK" in out and "ai.operationId" in out and ", line 1: " in out, out


def test_traces_without_the_attributes_evaltui_reads_are_refused_naming_what_is_missing(
    db_path, tmp_path
):
    objs = [json.loads(x) for x in OTEL_LINES[:4]]
    for obj in objs:
        _foreign(obj, {"acme.": "acme."})  # only the acme.* attributes are left
    out = refused(db_path, write_lines(tmp_path / "bare.jsonl", objs))
    assert "no trace in this file names its case" in out and "test.case.name" in out, out
    # case names, but nothing that gives a verdict: refused too, naming it
    objs = [json.loads(x) for x in OTEL_LINES[:4]]
    for obj in objs:
        r = root(obj)
        r["events"] = []
        r["attributes"] = [a for a in r["attributes"] if a["key"] != "test.case.result.status"]
    out = refused(db_path, write_lines(tmp_path / "unscored.jsonl", objs))
    assert "carries a verdict" in out and "gen_ai.evaluation.result" in out, out


def test_the_genai_traces_still_import_whole(db_path):
    r = run_import(db_path, OTEL / "candidate.otlp.jsonl")
    assert r.exit_code == 0, r.output
    with Store(db_path) as store:
        rows = store.conn.execute("SELECT verdict, COUNT(*) FROM results GROUP BY 1").fetchall()
        keys = {k for (k,) in store.conn.execute("SELECT case_key FROM cases")}
    assert sum(n for _, n in rows) == 16 and "unscored" not in dict(rows)
    assert "refund-02" in keys


# -- 2. malformed OTLP shapes: exit 2 naming file, line and field ------------------------


def _attr(span: dict[str, Any], key: str) -> dict[str, Any]:
    return next(a for a in span["attributes"] if a["key"] == key)


def _child(obj: dict[str, Any]) -> dict[str, Any]:
    return next(s for s in spans(obj) if s.get("parentSpanId"))


MUTATIONS = {
    "string-for-anyvalue": (lambda o: root(o)["attributes"][0].update(value="plain"), "attributes[0].value"),
    "huge-intvalue": (lambda o: _attr(root(o), "acme.case.turns")["value"].update(intValue="9" * 30), "intValue"),
    "word-intvalue": (lambda o: _attr(root(o), "acme.case.turns")["value"].update(intValue="two"), "intValue"),
    "two-roots": (lambda o: _child(o).pop("parentSpanId"), "parentSpanId"),
    "traceid-number": (lambda o: root(o).update(traceId=12345), "traceId"),
    "spanid-list": (lambda o: _child(o).update(spanId=["ab"]), "spanId"),
    "parent-object": (lambda o: _child(o).update(parentSpanId={"id": 1}), "parentSpanId"),
    "time-word": (lambda o: root(o).update(startTimeUnixNano="yesterday"), "startTimeUnixNano"),
    "time-negative": (lambda o: _child(o).update(endTimeUnixNano="-5"), "endTimeUnixNano"),
    "scopespans-object": (lambda o: o["resourceSpans"][0].update(scopeSpans={"spans": []}), "scopeSpans"),
    "spans-string": (lambda o: o["resourceSpans"][0]["scopeSpans"][0].update(spans="none"), "spans"),
    "span-array": (lambda o: o["resourceSpans"][0]["scopeSpans"][0]["spans"].append([1, 2]), "spans["),
    "resourcespans-object": (lambda o: o.update(resourceSpans={"a": 1}), "resourceSpans"),
    "no-resourcespans": (lambda o: o.update(resourceSpans=None) or o.pop("resourceSpans"), "resourceSpans"),
    "status-string": (lambda o: root(o).update(status="ERROR"), "status"),
    "status-code-7": (lambda o: root(o).update(status={"code": 7}), "status.code"),
    "events-object": (lambda o: root(o).update(events={"name": "x"}), "events"),
    "two-kinds": (lambda o: root(o)["attributes"][0]["value"].update(intValue="1"), "attributes[0].value"),
    "array-values-string": (lambda o: root(o)["attributes"][0].update(value={"arrayValue": {"values": "x"}}), "values"),
    "key-number": (lambda o: root(o)["attributes"][0].update(key=7), "key"),
    "tokens-string": (lambda o: _attr(next(s for s in spans(o) if s["name"].startswith("chat")), "gen_ai.usage.input_tokens").update(value={"stringValue": "12x"}), "gen_ai.usage.input_tokens"),
    "messages-not-json": (lambda o: _attr(root(o), "gen_ai.input.messages").update(value={"stringValue": "{not json"}), "gen_ai.input.messages"),
    "case-name-list": (lambda o: _attr(root(o), "test.case.name").update(value={"arrayValue": {"values": []}}), "test.case.name"),
    "resource-array": (lambda o: o["resourceSpans"][0].update(resource=[1]), "resource"),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
def test_malformed_otlp_shapes_are_refused_with_file_line_and_field(db_path, tmp_path, kind):
    mutate, field = MUTATIONS[kind]
    objs = [json.loads(x) for x in OTEL_LINES[:3]]
    mutate(objs[1])
    out = refused(db_path, write_lines(tmp_path / f"{kind}.jsonl", objs))
    assert ", line 2: " in out, out
    assert "field '" in out and field in out.split("field '", 1)[1].split("'", 1)[0], out
    assert "a bug" not in out and "unexpected" not in out


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _nodes(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _nodes(v, (*path, i))
    return out


ODD = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["", "x", "NaN", "1e999", "-1"]),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.sampled_from(["stringValue", "values", "a"]),
                                                         st.integers(), max_size=2),
)  # fmt: skip
SMALL = json.loads(OTEL_LINES[0])


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_shape_change_of_a_real_line_is_imported_or_refused_never_a_crash(data):
    obj = copy.deepcopy(SMALL)
    for _ in range(data.draw(st.integers(1, 3))):
        nodes = _nodes(obj)[1:]
        where = data.draw(st.sampled_from(nodes))
        parent = obj
        for p in where[:-1]:
            parent = parent[p]
        if isinstance(parent, dict) and data.draw(st.booleans()):
            parent.pop(where[-1])
        else:
            parent[where[-1]] = data.draw(ODD)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_lines(Path(tmp) / "t.jsonl", [obj])
        r = run_import(Path(tmp) / "s.db", path, "--format", "otel-genai")
    assert r.exit_code in (0, 2), (r.exit_code, r.output, r.exception)
    assert "Traceback" not in r.output
    if r.exit_code == 2:
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), r.output


def test_non_finite_doubles_in_otlp_are_refused_naming_the_field(db_path, tmp_path):
    """OTLP/JSON spells a non-finite double "NaN"/"Infinity"; OTel GenAI gives an
    evaluation score no such meaning: refused, never imported as a number."""
    for value in ("NaN", "-Infinity", 1e999):
        objs = [json.loads(x) for x in OTEL_LINES[:2]]
        ev = root(objs[1])["events"][0]
        score = next(a for a in ev["attributes"] if a["key"] == "gen_ai.evaluation.score.value")
        score["value"] = {"doubleValue": value}
        text = "".join(json.dumps(o) + "\n" for o in objs)
        path = tmp_path / "nan.jsonl"
        path.write_text(text)
        out = refused(db_path, path)
        assert ", line 2: " in out and "events[0].attributes" in out and "not a finite" in out, out
