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
def test_a_real_openinference_trace_is_read_now_not_refused(db_path, run):
    """Written by openinference-instrumentation's OITracer (fixtures/agents/how-produced): refused
    while evaltui did not read the dialect (#24), read since #31 (tests/test_otlp_dialects.py
    checks every case's path); before #24 it imported as 16 unscored results keyed by trace id."""
    r = run_import(db_path, OPENINFERENCE / f"{run}.otlp.jsonl")
    assert r.exit_code == 0, r.output
    with Store(db_path) as store:
        keys = {k for (k,) in store.conn.execute("SELECT case_key FROM cases")}
        verdicts = dict(store.conn.execute("SELECT verdict, COUNT(*) FROM results GROUP BY 1"))
    assert "refund-02" in keys and len(keys) == 16 and "unscored" not in verdicts


def test_a_dialect_evaltui_does_not_read_is_still_refused_naming_it_and_the_line(db_path, tmp_path):
    """Spans in a convention evaltui does not read (OpenLLMetry's traceloop.*), with nothing
    that names the case or gives a verdict: refused naming the convention, never read as empty."""
    objs = [json.loads(x) for x in OTEL_LINES[:3]]
    for obj in objs:
        _foreign(obj, {"gen_ai.operation.name": "traceloop.span.kind", "gen_ai.request.model":
                       "traceloop.entity.name"})  # fmt: skip
    out = refused(db_path, write_lines(tmp_path / "traceloop.jsonl", objs))
    assert "OpenLLMetry (Traceloop)" in out and "traceloop.span.kind" in out, out
    assert ", line 1: " in out and "does not read" in out, out


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


def test_vercel_ai_sdk_spans_that_name_no_case_are_refused_naming_the_dialects_seen(
    db_path, tmp_path
):
    """Read since #31, but these traces name no case and carry no verdict: refused, saying
    which dialects the spans were in (never imported keyed by trace id)."""
    objs = [json.loads(x) for x in OTEL_LINES[:3]]
    for obj in objs:
        _foreign(obj, {"gen_ai.request.model": "ai.model.id", "gen_ai.operation.name": "ai.operationId",
                       "gen_ai.usage.": "ai.usage.", "gen_ai.input.messages": "ai.prompt.messages"})  # fmt: skip
    out = refused(db_path, write_lines(tmp_path / "vercel.jsonl", objs))
    assert "no trace in this file names its case" in out and "Vercel AI SDK" in out, out


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
        if not nodes:
            break
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


# -- 3. memory bounds -----------------------------------------------------------------


def _rootless(path: Path, traces: int, per_line: int) -> Path:
    """Children of `traces` traces whose roots never come, `per_line` spans a line."""
    obj = json.loads(OTEL_LINES[0])
    child = _child(obj)
    lines = []
    for start in range(0, traces, per_line):
        o = copy.deepcopy(obj)
        o["resourceSpans"][0]["scopeSpans"][0]["spans"] = [
            {**child, "traceId": f"{i + 1:032x}", "spanId": f"{i + 1:016x}"}
            for i in range(start, min(start + per_line, traces))
        ]
        lines.append(o)
    return write_lines(path, lines)


def test_spans_waiting_for_their_root_are_bounded_and_refused_early_naming_the_line(
    db_path, tmp_path, monkeypatch
):
    path = _rootless(tmp_path / "rootless.jsonl", 100, 10)
    monkeypatch.setenv("EVALTUI_MAX_PENDING_SPANS", "35")
    out = refused(db_path, path)
    assert ", line 4: " in out and "EVALTUI_MAX_PENDING_SPANS" in out and "36 spans" in out, out
    monkeypatch.delenv("EVALTUI_MAX_PENDING_SPANS")
    size = sum(len(json.dumps(a)) for a in _child(json.loads(OTEL_LINES[0]))["attributes"])
    monkeypatch.setenv("EVALTUI_MAX_PENDING_BYTES", str(size * 25))
    out = refused(db_path, path)
    line = int(out.split(", line ", 1)[1].split(":", 1)[0])
    assert 2 <= line <= 5 and "EVALTUI_MAX_PENDING_BYTES" in out, out  # early, not at the end


def test_one_trace_of_many_spans_is_refused_before_its_root_comes(db_path, tmp_path, monkeypatch):
    obj = json.loads(OTEL_LINES[0])
    r, child = root(obj), _child(obj)
    lines = []
    for start in range(0, 60, 10):
        o = copy.deepcopy(obj)
        o["resourceSpans"][0]["scopeSpans"][0]["spans"] = [
            {**child, "spanId": f"{i + 1:016x}", "parentSpanId": r["spanId"]}
            for i in range(start, start + 10)
        ]
        lines.append(o)
    o = copy.deepcopy(obj)
    o["resourceSpans"][0]["scopeSpans"][0]["spans"] = [r]
    path = write_lines(tmp_path / "wide.jsonl", [*lines, o])
    monkeypatch.setenv("EVALTUI_MAX_PENDING_SPANS", "25")
    out = refused(db_path, path)
    assert ", line 3: " in out and "1 trace(s)" in out, out
    monkeypatch.setenv("EVALTUI_MAX_PENDING_SPANS", "100")
    assert run_import(db_path, path).exit_code == 0  # within the bound, the same trace imports


def test_row_batches_are_bounded_in_bytes_not_only_in_rows():
    from evaltui.models import Record
    from evaltui.store.rows import BATCH_BYTES, Tally, build_rows

    big = "x" * (3 << 20)
    records = (Record(suite="s", case_key=f"c{i}", verdict="pass", output=big) for i in range(20))
    batches = [len(rows) for _, rows, _ in build_rows(records, 1, Tally())]
    per = BATCH_BYTES // len(big) + 1
    assert sum(batches) == 20 and max(batches) <= per, batches


def _promptfoo_copy(tmp_path: Path, name: str, rows: int) -> Path:
    obj = json.loads((FIXTURES / "promptfoo" / "candidate.json").read_text())
    obj["results"]["results"] = obj["results"]["results"][:rows]
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return path


@pytest.mark.parametrize("how", ["renamed-over", "rewritten-in-place"])
def test_a_json_file_swapped_between_the_passes_is_refused_before_a_record_is_built(
    db_path, tmp_path, monkeypatch, how
):
    import os

    from evaltui.importers import jsonstream

    path = _promptfoo_copy(tmp_path, "pf.json", 6)
    other = _promptfoo_copy(tmp_path, "other.json", 6)
    text = other.read_text().replace('"case_id": "', '"case_id": "X', 1)
    other.write_text(text[: len(path.read_text())].ljust(len(path.read_text())))
    scan, built = jsonstream.scan, []

    def swapped(*args: Any, **kw: Any) -> Any:
        out = scan(*args, **kw)
        if how == "renamed-over":
            os.replace(other, path)
        else:  # same inode, same size, the mtime put back: only the ctime tells
            st = os.stat(path)
            path.write_bytes(other.read_bytes())
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
            while os.stat(path).st_ctime_ns == st.st_ctime_ns:  # wait on state: a new tick
                os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        return out

    real_items = jsonstream.items

    def items(*args: Any, **kw: Any) -> Any:
        for item in real_items(*args, **kw):
            built.append(item)
            yield item

    monkeypatch.setattr(jsonstream, "scan", swapped)
    monkeypatch.setattr(jsonstream, "items", items)
    out = refused(db_path, path)
    assert "the file changed while it was being read" in out and not built, out


def test_the_second_pass_is_bounded_on_its_own(tmp_path, monkeypatch):
    """Even were a change not seen, a record past the limits costs no more than the limit."""
    from evaltui.errors import InputError
    from evaltui.importers import jsonstream

    path = tmp_path / "doc.json"
    path.write_text(json.dumps({"rows": [{"a": 1}, {"b": "x" * 300_000}, {"c": 2}]}))
    monkeypatch.setenv("EVALTUI_MAX_LINE_BYTES", "1000")
    with pytest.raises(InputError):  # the first pass refuses the record...
        jsonstream.scan(path, "rows")
    bare = jsonstream.Scan(count=3)  # ...and the second, given no identity, on its own
    monkeypatch.setattr(jsonstream, "ITEM_CHUNK", 4096)
    with pytest.raises(InputError, match="changed while it was being read"):
        list(jsonstream.items(path, "rows", bare))
    path.write_text(json.dumps({"rows": [{"a": [[[[{}]]]] * 2000}]}))
    monkeypatch.setenv("EVALTUI_MAX_LINE_BYTES", str(1 << 20))
    monkeypatch.setenv("EVALTUI_MAX_RECORD_VALUES", "1000")
    with pytest.raises(InputError, match="changed while it was being read"):
        list(jsonstream.items(path, "rows", jsonstream.Scan(count=1)))


def _path_runs(db: Path, tmp_path: Path, steps: int, arg_chars: int) -> None:
    for name in ("base", "cand"):
        traj: list[dict[str, Any]] = [{"kind": "message", "role": "user", "text": "help"}]
        traj += [{"kind": "tool_call", "turn": 1, "name": f"t{i % 3}", "call_id": f"{name}{i}",
                  "arguments": {"q": "a" * arg_chars, "i": i}} for i in range(steps)]  # fmt: skip
        src = tmp_path / f"{name}.jsonl"
        src.write_text(json.dumps({"suite": "s", "case_key": "k", "verdict": "pass", "output": name,
                                   "trajectory": traj}) + "\n")  # fmt: skip
        assert run_import(db, src).exit_code == 0


def test_case_pages_a_long_path_and_cuts_long_fields_saying_what_was_left_out(
    db_path, tmp_path, monkeypatch
):
    _path_runs(db_path, tmp_path, 30, 500)
    monkeypatch.setenv("EVALTUI_MAX_CASE_STEPS", "10")
    monkeypatch.setenv("EVALTUI_MAX_CASE_FIELD_CHARS", "100")
    run = CliRunner()
    r = run.invoke(cli, ["--db", str(db_path), "case", "1", "2", "k", "--json"])
    assert r.exit_code == 0, r.output
    base = json.loads(r.output)["paths"]["runs"]["baseline"]
    assert base["page"] == {"from": 0, "shown": 10, "total": 31, "left_out": 21}
    args = base["steps"][1]["arguments"]
    assert isinstance(args, str) and args.startswith('{"i": 0, "q": "aaa')
    assert "[truncated: 517 characters in all, 417 left out]" in args  # {"i": 0, "q": "a"*500}
    assert base["chars_left_out"] == 9 * 417
    r = run.invoke(
        cli, ["--db", str(db_path), "case", "1", "2", "k", "--json", "--steps-from", "25"]
    )
    cand = json.loads(r.output)["paths"]["runs"]["candidate"]
    assert cand["page"] == {"from": 25, "shown": 6, "total": 31, "left_out": 25}
    assert [s["call_id"] for s in cand["steps"]] == [f"cand{i}" for i in range(24, 30)]
    r = run.invoke(cli, ["--db", str(db_path), "case", "1", "2", "k"])
    text = " ".join(r.output.split())
    assert "baseline: steps 0 to 9 of 31 shown (21 left out; EVALTUI_MAX_CASE_STEPS" in text
    assert "cut at 100 characters" in text
    r = run.invoke(cli, ["--db", str(db_path), "compare", "1", "2", "--json"])
    assert json.loads(r.output)["tools"]["baseline"]["tool_calls"] == 30  # counted past the page


# -- 4. non-finite numbers, read the way each tool means them ---------------------------


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"attributes": {"risk": float("nan")}}, "attributes.risk"),
        ({"input": {"messages": [{"t": float("inf")}]}}, "input.messages[0].t"),
        ({"output": [1.0, float("-inf")]}, "output[1]"),
        ({"trajectory": [{"kind": "tool_call", "name": "f", "arguments": {"x": float("nan")}}]},
         "trajectory[0].arguments.x"),
    ],
    ids=["attribute", "input", "output", "tool-arguments"],
)  # fmt: skip
def test_native_refuses_a_non_finite_number_in_any_field(db_path, tmp_path, row, field):
    path = tmp_path / "n.jsonl"
    path.write_text(json.dumps({"suite": "s", "case_key": "a", "verdict": "pass"}) + "\n"
                    + json.dumps({"suite": "s", "case_key": "b", "verdict": "pass", **row}) + "\n")  # fmt: skip
    out = refused(db_path, path)
    assert ", line 2: " in out and f"field '{field}'" in out and "finite" in out, out


PF = FIXTURES / "promptfoo"


def test_promptfoo_json_lines_with_a_non_finite_number_were_not_written_by_promptfoo(
    db_path, tmp_path
):
    """JSON.stringify writes NaN and the infinities as null: promptfoo never writes one."""
    rows = [json.loads(x) for x in (PF / "candidate.jsonl").read_text().splitlines()[:3]]
    for mutate, field in (
        (lambda r: r.update(score=float("nan")), "score"),
        (lambda r: r.update(latencyMs=float("inf")), "latencyMs"),
        (lambda r: r["namedScores"].update(correctness=float("nan")), "namedScores.correctness"),
        (lambda r: r["testCase"].setdefault("metadata", {}).update(w=float("nan")),
         "testCase.metadata.w"),
    ):  # fmt: skip
        bad = copy.deepcopy(rows)
        mutate(bad[1])
        out = refused(db_path, write_lines(tmp_path / "pf.jsonl", bad))
        assert ", line 2" in out and f"field '{field}'" in out, out
    # and null, what promptfoo writes for a NaN score, is no score
    ok = copy.deepcopy(rows)
    ok[1]["score"] = None
    assert run_import(db_path, write_lines(tmp_path / "pf-null.jsonl", ok)).exit_code == 0


def test_promptfoo_csv_nan_score_is_no_score_other_non_finite_cells_are_refused(db_path, tmp_path):
    """promptfoo's CSV writes a NaN Score as "NaN" (score?.toFixed(2)) and a NaN metric as
    an empty cell: the first reads as no score, as the same result's null in the JSON."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO((PF / "candidate.csv").read_text())))
    head = rows[0]
    score, metric = (
        head.index("Score"),
        next(i for i, h in enumerate(head) if h.startswith("Metric: ")),
    )

    def with_cell(col: int, value: str, name: str) -> Path:
        out = [list(r) for r in rows]
        out[2][col] = value
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(out)
        path = tmp_path / name
        path.write_text(buf.getvalue())
        return path

    r = run_import(db_path, with_cell(score, "NaN", "nan-score.csv"))
    assert r.exit_code == 0, r.output
    with Store(db_path) as store:
        scores = [s for (s,) in store.conn.execute("SELECT score FROM results ORDER BY id")]
    assert scores.count(None) == 1 and len(scores) == len(rows) - 1
    out = refused(tmp_path / "other.db", with_cell(score, "Infinity", "inf-score.csv"))
    assert ", record 3: field 'Score'" in out, out
    out = refused(tmp_path / "third.db", with_cell(metric, "NaN", "nan-metric.csv"))
    assert f"field '{head[metric]}'" in out, out


LM = FIXTURES / "lm_eval" / "fixture-lm" / "fixture-org__candidate-7b"


def _lm_copy(tmp_path: Path, mutate: Any) -> Path:
    out = tmp_path / "lm" / LM.name
    out.mkdir(parents=True)
    for f in LM.iterdir():
        text = f.read_text()
        if f.name.startswith("samples_fixture_gen"):
            lines = [json.loads(x) for x in text.splitlines()]
            mutate(lines)
            text = "".join(
                json.dumps(x, ensure_ascii=False) + "\n" for x in lines
            )  # as lm-eval does
        out.joinpath(f.name).write_text(text)
    return out


def test_lm_eval_nan_metric_is_no_value_for_the_document_an_infinity_is_refused(db_path, tmp_path):
    def nan(lines: list[dict[str, Any]]) -> None:
        metric = lines[1]["metrics"][0]
        lines[1][metric] = float("nan")
        lines[2]["doc"]["segment"] = float("nan")  # a dataset's missing value

    folder = _lm_copy(tmp_path / "a", nan)
    r = run_import(db_path, folder)
    assert r.exit_code == 0, r.output
    with Store(db_path) as store:
        rows = dict(store.conn.execute(
            "SELECT c.case_key, json_array(r.verdict, r.criteria, c.attributes) FROM results r "
            "JOIN cases c ON c.id = r.case_id WHERE c.suite = 'fixture_gen'"
        ).fetchall())  # fmt: skip
    verdict, criteria, _ = json.loads(rows["geo-002"])
    assert verdict == "unscored" and "lm-eval recorded NaN" in criteria
    assert "segment" not in json.loads(json.loads(rows["geo-003"])[2])
    assert json.loads(json.loads(rows["geo-001"])[2])["segment"] == "geography"

    def inf(lines: list[dict[str, Any]]) -> None:
        lines[1][lines[1]["metrics"][0]] = float("-inf")

    out = refused(tmp_path / "b.db", _lm_copy(tmp_path / "b", inf))
    assert "samples_fixture_gen" in out and ", line 2: field '" in out and "-inf" in out, out


def _metadata(db: Path) -> dict[str, Any]:
    """The run's metadata as stored: strict JSON (no NaN token), and `runs --json` works."""
    assert CliRunner().invoke(cli, ["--db", str(db), "runs", "--json"]).exit_code == 0
    with Store(db) as store:
        (text,) = store.conn.execute("SELECT metadata FROM runs").fetchone()

    def strict(token: str) -> Any:
        raise AssertionError(f"{token} in the stored metadata")

    return json.loads(text, parse_constant=strict)


def test_lm_eval_results_nan_figure_is_kept_as_its_word_and_json_stays_strict(db_path, tmp_path):
    folder = _lm_copy(tmp_path, lambda lines: None)
    results = next(folder.glob("results_*.json"))
    data = json.loads(results.read_text())
    task = next(t for t in data["results"] if t == "fixture_gen")
    key = next(k for k in data["results"][task] if "," in k and "stderr" not in k)
    data["results"][task][key] = float("nan")
    results.write_text(json.dumps(data))
    assert run_import(db_path, folder).exit_code == 0
    assert _metadata(db_path)["results"][task][key] == "NaN"


OE = FIXTURES / "openai_evals" / "round2" / "fixture-metrics_baseline.jsonl"


def test_openai_evals_nan_metric_is_undefined_for_the_sample_an_infinity_is_refused(
    db_path, tmp_path
):
    lines = [json.loads(x) for x in OE.read_text().splitlines()]
    first = next(i for i, x in enumerate(lines) if x.get("type") == "metrics")
    lines[first]["data"]["accuracy"] = float("nan")
    for x in lines:
        if "final_report" in x:
            x["final_report"]["score"] = float("nan")
    r = run_import(db_path, write_lines(tmp_path / "oe.jsonl", lines))
    assert r.exit_code == 0, r.output
    sample = lines[first]["sample_id"]
    with Store(db_path) as store:
        verdict, crit = store.conn.execute(
            "SELECT r.verdict, r.criteria FROM results r JOIN cases c ON c.id = r.case_id "
            "WHERE c.case_key = ?", (sample,),
        ).fetchone()  # fmt: skip
    assert verdict == "unscored" and "undefined for this sample" in crit, (sample, verdict, crit)
    assert _metadata(db_path)["final_report"]["score"] == "NaN"
    lines[first]["data"]["accuracy"] = float("inf")
    out = refused(tmp_path / "b.db", write_lines(tmp_path / "oe-inf.jsonl", lines))
    assert f", line {first + 1}: field 'data.accuracy'" in out, out


def test_an_openai_evals_log_with_no_verdict_anywhere_is_refused_naming_what_is_missing(
    db_path, tmp_path
):
    lines = [json.loads(x) for x in OE.read_text().splitlines()]
    kept = [x for x in lines if x.get("type") not in ("metrics", "match")]
    out = refused(db_path, write_lines(tmp_path / "sampling-only.jsonl", kept))
    assert "no sample carries a verdict" in out and "field 'match'" in out, out
