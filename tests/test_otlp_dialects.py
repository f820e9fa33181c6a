"""OTLP traces in every dialect evaltui reads (#31), each written by the real library
(fixtures/agents/how-produced): OpenTelemetry GenAI in its attribute shape (util-genai) and
in its event shape (openai-v2 with OTEL_SEMCONV_STABILITY_OPT_IN unset: messages as log
records), the new shape with its content in log records (opt-in set), OpenInference
(OITracer), the Vercel AI SDK (`ai` with a mock model), a trace mixing GenAI and
OpenInference spans, and the GenAI pair as length-delimited protobuf. The same 16-case
scenario everywhere: every format gives the same tool calls per case as Inspect AI's log,
the same verdicts and the same tools_changed set."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from evaltui import service, trajectory
from evaltui.cli import cli
from evaltui.compare import Comparison
from evaltui.importers import ImportOptions
from evaltui.importers.otel_genai import OtelGenAIImporter
from evaltui.store import Store

from .conftest import FIXTURES
from .test_agents import INSPECT, _inspect_calls

AGENTS = FIXTURES / "agents"
SIDES = ("baseline", "candidate")


def _files(kind: str, side: str) -> tuple[Path, tuple[str, ...]]:
    """(the traces file, the logs files given with it) of one format."""
    if kind.startswith("openai-v2-"):
        folder = AGENTS / "openai_v2" / kind.rsplit("-", 1)[1]
        return folder / f"{side}.traces.otlp.jsonl", (str(folder / f"{side}.logs.otlp.jsonl"),)
    name = {"otel-genai": "otel_genai/{}.otlp.jsonl", "openinference": "openinference/{}.otlp.jsonl",
            "vercel-ai": "vercel_ai/{}.otlp.jsonl", "mixed": "mixed/{}.otlp.jsonl",
            "protobuf": "protobuf/{}.otlp.pb"}[kind]  # fmt: skip
    return AGENTS / name.format(side), ()


FORMATS = ["otel-genai", "openinference", "vercel-ai", "mixed", "protobuf", "openai-v2-old",
           "openai-v2-new"]  # fmt: skip
READ_AS = {"otel-genai": {"otel-genai"}, "openinference": {"openinference"},
           "vercel-ai": {"vercel-ai", "otel-genai"}, "mixed": {"openinference", "otel-genai"},
           "protobuf": {"otel-genai"}, "openai-v2-old": {"otel-genai"},
           "openai-v2-new": {"otel-genai"}}  # fmt: skip


def records(kind: str, side: str) -> list[Any]:
    path, logs = _files(kind, side)
    [parsed] = OtelGenAIImporter().read(path, ImportOptions(logs=logs))
    return list(parsed.records)


def import_pair(store: Store, kind: str) -> tuple[int, int]:
    ids = []
    for side in SIDES:
        path, logs = _files(kind, side)
        ids.append(service.import_path(store, path, options=ImportOptions(logs=logs))[0].run_id)
    return ids[0], ids[1]


@pytest.mark.parametrize("kind", FORMATS)
def test_every_dialect_gives_inspects_tool_calls_for_every_case(kind):
    """Names and arguments of every call, in order, equal what Inspect's log holds; every call
    has its result (the tool's text, or its error); the errors are the scenario's."""
    for side, log in zip(SIDES, INSPECT, strict=True):
        want = _inspect_calls(log)
        recs = records(kind, side)
        assert sorted(r.case_key for r in recs) == sorted(want)
        errors = 0
        for r in recs:
            calls = trajectory.calls(r.trajectory)
            # == on the parsed arguments: JavaScript writes 600.0 as 600, the same number
            assert [(c.name, c.arguments) for c in calls] == want[r.case_key], (kind, r.case_key)
            results = {s.call_id: s for s in r.trajectory if s.kind == "tool_result"}
            for c in calls:
                assert c.call_id in results and (
                    results[c.call_id].text or results[c.call_id].error
                )
            errors += trajectory.tool_errors(r.trajectory)
        assert errors == (1 if side == "baseline" else 2)


@pytest.mark.parametrize("kind", FORMATS[1:])
def test_every_dialect_gives_the_same_verdicts_criteria_input_and_answer(kind):
    for side in SIDES:
        ref = {r.case_key: r for r in records("otel-genai", side)}
        for r in records(kind, side):
            want = ref[r.case_key]
            assert r.verdict == want.verdict and r.output == want.output, (kind, r.case_key)
            assert r.input == want.input, (kind, r.case_key)
            assert {k: c.verdict for k, c in r.criteria.items()} == {
                k: c.verdict for k, c in want.criteria.items()
            }
            retrieved = trajectory.sources(r.trajectory)
            assert retrieved == trajectory.sources(want.trajectory), (kind, r.case_key)


def test_the_same_tools_changed_set_in_every_format(store, db_path):
    found = {}
    for kind in FORMATS:
        b, c = import_pair(store, kind)
        with Comparison(db_path, b, c) as cmp:
            found[kind] = set(cmp.changed_keys(["tools_changed"])["tools_changed"])
    assert found["otel-genai"] and all(v == found["otel-genai"] for v in found.values()), found


@pytest.mark.parametrize("kind", FORMATS)
def test_spans_are_counted_by_the_dialect_they_were_read_in(kind):
    path, logs = _files(kind, "candidate")
    [parsed] = OtelGenAIImporter().read(path, ImportOptions(logs=logs))
    meta = parsed.run.metadata["otlp"]
    assert set(meta["spans_read"]) == READ_AS[kind] and meta["spans_skipped"] == 0
    assert meta["traces"] == 16
    if logs:
        assert meta["logs"]["joined"] == meta["logs"]["records"] > 0


def test_two_dialects_in_one_trace_and_evaluator_spans_become_criteria():
    """GenAI invoke_agent/execute_tool/retrieval spans and OpenInference LLM and EVALUATOR
    spans in the same trace: calls from the one, results from the other."""
    for r in records("mixed", "candidate"):
        assert set(r.criteria) == {"answer_correct", "tool_policy", "citation"}
        c = r.criteria["answer_correct"]
        assert c.explanation and c.explanation[:3] in ("C: ", "I: ")  # the label, then why
        assert c.verdict == ("pass" if c.score == 1.0 else "fail")
    lookup = next(r for r in records("mixed", "candidate") if r.case_key == "lookup-01")
    assert [c.name for c in trajectory.calls(lookup.trajectory)] == ["lookup_account"] * 5
    assert trajectory.loops(lookup.trajectory) == [("lookup_account", 5)]


def run(db: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--db", str(db), *args])


def _with_other_spans(dst: Path) -> Path:
    """A real GenAI line with two more children of the root: one in OpenLLMetry's
    convention, one with no convention at all (an HTTP client span)."""
    obj = json.loads((AGENTS / "otel_genai" / "baseline.otlp.jsonl").read_text().splitlines()[0])
    spans = obj["resourceSpans"][0]["scopeSpans"][0]["spans"]
    root = next(s for s in spans if not s.get("parentSpanId"))
    child = next(s for s in spans if s.get("parentSpanId"))
    for i, attrs in enumerate((
        [{"key": "traceloop.span.kind", "value": {"stringValue": "task"}}],
        [{"key": "http.request.method", "value": {"stringValue": "GET"}}],
    )):  # fmt: skip
        spans.insert(0, {**child, "spanId": f"{0xabc0 + i:016x}", "name": f"other {i}",
                         "parentSpanId": root["spanId"], "attributes": attrs, "events": []})  # fmt: skip
    dst.write_text(json.dumps(obj) + "\n")
    return dst


def test_a_span_of_an_unknown_dialect_is_skipped_and_counted_never_silently(db_path, tmp_path):
    path = _with_other_spans(tmp_path / "other.jsonl")
    r = run(db_path, "import", str(path))
    assert r.exit_code == 0, r.output
    assert "2 span(s) in no dialect evaltui reads skipped (1 OpenLLMetry (Traceloop): " \
        "traceloop.span.kind, 1 no known convention)" in r.output, r.output  # fmt: skip
    runs = json.loads(run(db_path, "runs", "--json").output)
    assert runs[0]["otlp"]["spans_skipped"] == 2
    assert runs[0]["otlp"]["skipped_by_dialect"] == {
        "OpenLLMetry (Traceloop): traceloop.span.kind": 1, "no known convention": 1}  # fmt: skip
    # the path is the one the GenAI spans give
    [rec] = records_of(path)
    first = records("otel-genai", "baseline")[0]
    assert rec.trajectory == first.trajectory


def records_of(path: Path, **options: Any) -> list[Any]:
    [parsed] = OtelGenAIImporter().read(path, ImportOptions(**options))
    return list(parsed.records)


def test_without_its_logs_an_openai_v2_trace_says_its_turns_carry_no_messages(db_path):
    """The trace alone holds chat spans with no messages (openai-v2 wrote them as log
    records): said in the import line and counted, never silently an empty path."""
    path, _ = _files("openai-v2-new", "candidate")
    r = run(db_path, "import", str(path))
    assert r.exit_code == 0, r.output
    assert "model turn(s) carry no messages" in r.output and "import the OTLP logs" in r.output
    assert json.loads(run(db_path, "runs", "--json").output)[0]["otlp"][
        "model_turns_without_content"] == 51  # fmt: skip


@pytest.mark.parametrize("how", ["files", "folder"])
def test_logs_given_with_the_traces_are_joined(db_path, how):
    folder = AGENTS / "openai_v2" / "old"
    args = [str(folder)] if how == "folder" else [
        str(folder / "candidate.traces.otlp.jsonl"), str(folder / "candidate.logs.otlp.jsonl")]  # fmt: skip
    r = run(db_path, "import", *args)
    assert r.exit_code == 0, r.output
    assert "360 of " in r.output and "joined to their spans" in r.output, r.output
    with Store(db_path) as store:
        b = store.conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    assert b == (2 if how == "folder" else 1)


def test_a_logs_file_alone_is_refused_saying_to_give_it_with_its_traces(db_path):
    Store(db_path).close()
    with Store(db_path) as store:
        before = store.dump()
    path = AGENTS / "openai_v2" / "old" / "candidate.logs.otlp.jsonl"
    r = run(db_path, "import", str(path))
    assert r.exit_code == 2
    (line,) = r.output.strip().splitlines()
    assert line.startswith(f"Error: {path}") and "together with the traces" in line
    with Store(db_path) as store:
        assert store.dump() == before


# -- protobuf --------------------------------------------------------------------------------


def _fields(r: Any) -> dict[str, Any]:
    out = {k: getattr(r, k) for k in ("suite", "case_key", "verdict", "input", "output",
                                        "attributes", "latency_ms", "error")}  # fmt: skip
    out["criteria"] = {k: c.model_dump() for k, c in r.criteria.items()}
    out["trajectory"] = [s.model_dump() for s in r.trajectory]
    return out


@pytest.mark.parametrize("side", SIDES)
def test_protobuf_holds_the_same_content_as_the_json_lines(side):
    """The same spans written by the same script as protobuf: every record equal (only the
    location says `message N` where the JSON says `line N`)."""
    pb = records("protobuf", side)
    js = records("otel-genai", side)
    assert [_fields(r) for r in pb] == [_fields(r) for r in js]
    assert pb[0].location.startswith("message 1 (trace ") and js[0].location.startswith("line 1")
    assert pb[0].location.split("(", 1)[1] == js[0].location.split("(", 1)[1]


def _messages(path: Path) -> list[bytes]:
    data, out = path.read_bytes(), []
    while data:
        size = struct.unpack(">I", data[:4])[0]
        out.append(data[4 : 4 + size])
        data = data[4 + size :]
    return out


def test_one_bare_protobuf_message_is_read_too(tmp_path):
    """An OTLP/HTTP request body saved as it is (no length prefix): one message, the file."""
    first = _messages(AGENTS / "protobuf" / "baseline.otlp.pb")[0]
    path = tmp_path / "body.pb"
    path.write_bytes(first)
    [rec] = records_of(path)
    assert _fields(rec) == _fields(records("otel-genai", "baseline")[0])


def _request(data: bytes) -> Any:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    req = ExportTraceServiceRequest()
    req.ParseFromString(data)
    return req


def _framed(messages: list[bytes]) -> bytes:
    return b"".join(struct.pack(">I", len(m)) + m for m in messages)


def refused(db: Path, path: Path) -> str:
    Store(db).close()
    with Store(db) as store:
        before = store.dump()
    r = run(db, "import", str(path), "--format", "otel-genai")
    assert r.exit_code == 2, (r.exit_code, r.output)
    (line,) = r.output.strip().splitlines()
    assert line.startswith(f"Error: {path}"), line
    with Store(db) as store:
        assert store.dump() == before
    return line


def test_bad_protobuf_is_refused_with_file_message_and_field(db_path, tmp_path):
    msgs = _messages(AGENTS / "protobuf" / "baseline.otlp.pb")
    # a span id of 3 bytes, in the second message
    req = _request(msgs[1])
    req.resource_spans[0].scope_spans[0].spans[2].span_id = b"\x01\x02\x03"
    path = tmp_path / "short-id.pb"
    path.write_bytes(_framed([msgs[0], req.SerializeToString(), *msgs[2:]]))
    out = refused(db_path, path)
    assert ", message 2: field 'resourceSpans[0].scopeSpans[0].spans[2].spanId'" in out, out
    assert "8 bytes" in out
    # a non-finite double
    req = _request(msgs[0])
    req.resource_spans[0].scope_spans[0].spans[0].attributes[0].value.double_value = float("nan")
    path.write_bytes(_framed([req.SerializeToString()]))
    out = refused(db_path, path)
    assert "message 1: field 'resourceSpans[0].scopeSpans[0].spans[0].attributes[0].value" \
        ".doubleValue'" in out and "not a finite number" in out, out  # fmt: skip
    # cut in the middle of the third message
    whole = _framed(msgs)
    cut = len(_framed(msgs[:2])) + 10
    path.write_bytes(whole[:cut])
    out = refused(db_path, path)
    assert ", message 3: " in out and "the file ends inside a message" in out, out
    # a frame whose bytes are no ExportTraceServiceRequest
    path.write_bytes(_framed([msgs[0], b"\x0a\xff\xff\xff\xff\x0f\x00"]))
    out = refused(db_path, path)
    assert ", message 2: " in out and "not an OTLP ExportTraceServiceRequest" in out, out


def test_protobuf_is_bounded_like_the_json_reader(db_path, tmp_path, monkeypatch):
    path = AGENTS / "protobuf" / "baseline.otlp.pb"
    monkeypatch.setenv("EVALTUI_MAX_LINE_BYTES", "2000")
    out = refused(db_path, path)
    assert ", message 1: " in out and "EVALTUI_MAX_LINE_BYTES" in out, out
    monkeypatch.delenv("EVALTUI_MAX_LINE_BYTES")
    monkeypatch.setenv("EVALTUI_MAX_PENDING_SPANS", "3")
    out = refused(tmp_path / "b.db", path)
    assert "EVALTUI_MAX_PENDING_SPANS" in out and ", message 1: " in out, out
