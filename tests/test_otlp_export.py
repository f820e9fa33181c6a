"""Triage out as OpenTelemetry (#31): `evaltui findings export --otlp` writes each finding as
a gen_ai.evaluation.result event (an OTLP log record) parented to the trace and the root span
of the case it judges, as OTLP/JSON that opentelemetry-proto's own JSON parser reads back;
`--endpoint` POSTs it (OTLP/HTTP JSON) to a collector, here a server on 127.0.0.1 started by
the test; hostile text in a note stays exact and inert."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from evaltui import service
from evaltui.cli import cli
from evaltui.review import triage
from evaltui.review.taxonomy import default_taxonomy
from evaltui.store import Store

from .conftest import FIXTURES

AGENTS = FIXTURES / "agents"
HOSTILE = 'wrong tool\x1b[31m\u202e"}]\n<script>{{x}}</script> \x00 \U0001f600 \\u0041'


def run(db: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--db", str(db), *args])


def _findings(db: Path) -> dict[str, Any]:
    """The OpenInference pair (runs from traces) and an Inspect run (not from traces), with
    a label, an adjudication-free verdict and an undo by two reviewers."""
    with Store(db) as store:
        b = service.import_path(store, AGENTS / "openinference" / "baseline.otlp.jsonl")[0].run_id
        c = service.import_path(store, AGENTS / "openinference" / "candidate.otlp.jsonl")[0].run_id
        cases = dict(store.conn.execute("SELECT case_key, id FROM cases"))
        triage.label(store, b, c, cases["refund-02"], failure_class=default_taxonomy().get("unsafe_tool_action"), owner="agents",
                     verdict="real_regression", note=HOSTILE, reviewer="ana")  # fmt: skip
        triage.label(
            store,
            b,
            c,
            cases["lookup-01"],
            failure_class=default_taxonomy().get("latency_timeout"),
            reviewer="ben",
        )
        triage.label(store, b, c, cases["privacy-01"], verdict="accepted", reviewer="ana")
        triage.undo(store, b, c, reviewer="ana")
        ids = {}
        for key in ("refund-02", "lookup-01", "privacy-01"):
            (line,) = store.conn.execute(
                "SELECT source_line FROM results WHERE run_id = ? AND case_id = ?", (c, cases[key])
            ).fetchone()
            ids[key] = line
    return ids


def _parse(text: str) -> list[Any]:
    """Each line through opentelemetry-proto's classes and protobuf's JSON parser. OTLP/JSON
    differs from protobuf's JSON mapping in one point: trace and span ids are hex, not base64
    (opentelemetry-proto, "JSON Protobuf Encoding"); the ids are checked to be hex of the
    right length, then given to the parser as base64, as a collector's receiver does."""
    import base64

    from google.protobuf.json_format import Parse
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    out = []
    for line in text.splitlines():
        obj = json.loads(line)
        for rl in obj["resourceLogs"]:
            for sl in rl["scopeLogs"]:
                for rec in sl["logRecords"]:
                    for key, size in (("traceId", 32), ("spanId", 16)):
                        if key in rec:
                            assert len(rec[key]) == size and int(rec[key], 16) > 0
                            rec[key] = base64.b64encode(bytes.fromhex(rec[key])).decode()
        out.append(Parse(json.dumps(obj), ExportLogsServiceRequest()))
    return out


def _attrs(record: Any) -> dict[str, Any]:
    out = {}
    for kv in record.attributes:
        kind = kv.value.WhichOneof("value")
        out[kv.key] = getattr(kv.value, kind)
    return out


def test_findings_round_trip_through_the_otlp_json_parser_parented_to_their_traces(
    db_path, tmp_path
):
    lines = _findings(db_path)
    out = tmp_path / "triage.otlp.jsonl"
    r = run(db_path, "findings", "export", "--otlp", str(out))
    assert r.exit_code == 0, r.output
    assert "wrote 4 findings as gen_ai.evaluation.result events" in r.output
    [request] = _parse(out.read_text())
    [rl] = request.resource_logs
    assert _attrs(rl.resource)["service.name"] == "evaltui"
    [sl] = rl.scope_logs
    assert sl.scope.name == "evaltui.review.triage"
    by_case: dict[str, list[Any]] = {}
    for rec in sl.log_records:
        assert rec.event_name == "gen_ai.evaluation.result"
        by_case.setdefault(_attrs(rec)["evaltui.case.key"], []).append(rec)
    [label] = by_case["refund-02"]
    a = _attrs(label)
    assert a["gen_ai.evaluation.name"] == "evaltui.review.triage"
    assert a["gen_ai.evaluation.score.label"] == "unsafe_tool_action"  # the class
    assert a["gen_ai.evaluation.explanation"] == HOSTILE  # exact once parsed
    assert a["evaltui.finding.owner"] == "agents" and a["evaltui.finding.reviewer"] == "ana"
    assert a["evaltui.finding.verdict"] == "real_regression"
    # parented to the candidate's trace and its root span, as kept at import
    assert f"(trace {label.trace_id.hex()}, span {label.span_id.hex()})" in lines["refund-02"]
    accepted, undo = sorted(by_case["privacy-01"], key=lambda r: _attrs(r)["evaltui.finding.kind"])
    assert _attrs(accepted)["gen_ai.evaluation.score.label"] == "accepted"  # no class: the verdict
    assert _attrs(undo)["evaltui.finding.kind"] == "undo"
    assert _attrs(undo)["evaltui.finding.undoes"] == _attrs(accepted)["evaltui.finding.uid"]
    assert label.time_unix_nano > 0 and label.severity_number == 9


def test_hostile_text_in_a_note_is_escaped_exactly_and_inert(db_path, tmp_path):
    _findings(db_path)
    out = tmp_path / "triage.otlp.jsonl"
    assert run(db_path, "findings", "export", "--otlp", str(out)).exit_code == 0
    raw = out.read_bytes()
    assert raw.isascii() and b"\x1b" not in raw and b"\x00" not in raw
    assert b'\\u001b[31m\\u202e\\"}]\\n<script>' in raw  # JSON escapes, nothing interpreted
    assert len(raw.splitlines()) == 1


def test_a_run_not_from_traces_exports_findings_without_ids(db_path, tmp_path):
    with Store(db_path) as store:
        b, c = (service.import_path(store, next((AGENTS / "inspect_ai" / s).glob("*.eval")))[0].run_id
                for s in ("baseline", "candidate"))  # fmt: skip
        case = store.conn.execute("SELECT id FROM cases WHERE case_key = 'refund-02'").fetchone()[0]
        triage.label(
            store,
            b,
            c,
            case,
            failure_class=default_taxonomy().get("unsafe_tool_action"),
            reviewer="ana",
        )
    out = tmp_path / "t.jsonl"
    assert run(db_path, "findings", "export", "--otlp", str(out)).exit_code == 0
    [request] = _parse(out.read_text())
    [rec] = request.resource_logs[0].scope_logs[0].log_records
    assert rec.trace_id == b"" and rec.span_id == b""


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]] = []
    status = 200
    reply = b"{}"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(type(self).status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(type(self).reply)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector():
    _Collector.received, _Collector.status, _Collector.reply = [], 200, b"{}"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/logs"
    server.shutdown()
    server.server_close()
    thread.join()


def test_endpoint_receives_the_events_as_otlp_http_json(db_path, tmp_path, collector):
    _findings(db_path)
    r = run(db_path, "findings", "export", "--otlp", "--endpoint", collector)
    assert r.exit_code == 0, r.output
    assert "(1 request(s))" in r.output
    [(path, ctype, body)] = _Collector.received
    assert path == "/v1/logs" and ctype == "application/json"
    [request] = _parse(body.decode())
    assert len(request.resource_logs[0].scope_logs[0].log_records) == 4
    # the same bytes as the file
    out = tmp_path / "t.jsonl"
    assert run(db_path, "findings", "export", "--otlp", str(out)).exit_code == 0
    assert out.read_bytes() == body + b"\n"


def test_an_endpoint_that_refuses_or_rejects_is_an_error(db_path, collector):
    _findings(db_path)
    _Collector.status, _Collector.reply = 400, b'{"code": 3, "message": "bad"}'
    r = run(db_path, "findings", "export", "--otlp", "--endpoint", collector)
    assert r.exit_code == 2 and "answered 400" in r.output, r.output
    _Collector.status = 200
    _Collector.reply = b'{"partialSuccess": {"rejectedLogRecords": "2", "errorMessage": "too old"}}'
    r = run(db_path, "findings", "export", "--otlp", "--endpoint", collector)
    assert r.exit_code == 2 and "rejected 2 log record(s)" in r.output and "too old" in r.output
    r = run(db_path, "findings", "export", "--otlp", "--endpoint", "file:///etc/passwd")
    assert r.exit_code == 2 and "http:// or https://" in r.output


def test_usage_errors(db_path, tmp_path):
    _findings(db_path)
    assert (
        run(db_path, "findings", "export", "--endpoint", "http://127.0.0.1:9/v1/logs").exit_code
        == 2
    )
    assert run(db_path, "findings", "export", "--otlp").exit_code == 2
    r = run(
        db_path, "findings", "export", "--otlp", str(tmp_path / "x"), "--sign", str(tmp_path / "k")
    )
    assert r.exit_code == 2
    assert run(db_path, "findings", "export").exit_code == 2
