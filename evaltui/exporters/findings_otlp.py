"""Triage out as OpenTelemetry: every finding as a `gen_ai.evaluation.result` event, so a team
that watches its agents in a tracing backend (Phoenix, Langfuse, Datadog, Grafana...) sees
evaltui's failure classes and verdicts beside the traces they judge.

An event is a log record (OTLP logs signal): `eventName` gen_ai.evaluation.result, the
GenAI semantic conventions' attributes `gen_ai.evaluation.name` = `evaltui.review.triage`,
`gen_ai.evaluation.score.label` = the failure class (else the verdict, else the kind:
an undo), `gen_ai.evaluation.explanation` = the note, and `evaltui.finding.*` for the rest
(uid, kind, class, class name, owner, verdict, reviewer, what it undoes) and the case and
runs it is about. When the run came from traces, the record carries the trace id and the
root span id of the candidate's trace for that case (else the baseline's), as evaltui kept
them at import (`results.source_line`): the event is parented to the trace it judges.

Written as OTLP/JSON lines (one `ExportLogsServiceRequest` per line, BATCH records each:
what a Collector's otlpjsonfile receiver reads), every string escaped to ASCII (the text is
exact once parsed and inert when printed); with an endpoint, each line is POSTed as
OTLP/HTTP JSON and the answer checked (an HTTP error or rejected records is an error).
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from evaltui import __version__
from evaltui.errors import InputError
from evaltui.files import atomic_writer
from evaltui.review import triage
from evaltui.store import Store
from evaltui.store.runs import source_line

EVENT = "gen_ai.evaluation.result"
NAME = "evaltui.review.triage"
BATCH = 1000  # log records per ExportLogsServiceRequest
_IDS = re.compile(r"\(trace ([0-9a-f]{32}), span ([0-9a-f]{16})\)")
TIMEOUT = 10.0  # seconds per POST


def _nanos(at: str) -> str:
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return "0"
    return str(int(moment.timestamp()) * 10**9 + moment.microsecond * 1000)


def _attr(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": str(value)}}


def _ids(store: Store, run: int, case: int) -> tuple[str, str] | None:
    line = source_line(store, run, case)
    m = _IDS.search(line) if line else None
    return (m[1], m[2]) if m else None


def records(
    store: Store, base: int | None = None, cand: int | None = None
) -> Iterator[dict[str, Any]]:
    """Every finding as an OTLP/JSON log record, in the findings file's order."""
    ids: dict[tuple[int, int, int], tuple[str, str] | None] = {}
    for named in triage.in_file_order(store, base=base, cand=cand):
        f = named.finding
        brun, crun, case = f.baseline_run, f.candidate_run, f.case_id
        if (brun, crun, case) not in ids:
            ids[brun, crun, case] = _ids(store, crun, case) or _ids(store, brun, case)
        attrs = [
            _attr("gen_ai.evaluation.name", NAME),
            _attr("gen_ai.evaluation.score.label", f.class_key or f.verdict or f.kind),
        ]
        if f.note:
            attrs.append(_attr("gen_ai.evaluation.explanation", f.note))
        for k, v in (
            ("uid", f.uid),
            ("kind", f.kind),
            ("class", f.class_key),
            ("class_name", f.class_name),
            ("owner", f.owner),
            ("verdict", f.verdict),
            ("reviewer", f.reviewer),
            ("undoes", f.undoes),
        ):
            if v is not None:
                attrs.append(_attr(f"evaltui.finding.{k}", v))
        attrs += [
            _attr("evaltui.case.suite", named.suite),
            _attr("evaltui.case.key", named.case_key),
            _attr("evaltui.run.baseline", named.baseline.name),
            _attr("evaltui.run.candidate", named.candidate.name),
        ]
        record: dict[str, Any] = {
            "timeUnixNano": _nanos(f.at),
            "observedTimeUnixNano": _nanos(f.at),
            "severityNumber": 9,
            "severityText": "INFO",
            "eventName": EVENT,
            "attributes": attrs,
        }
        found = ids[brun, crun, case]
        if found:
            record["traceId"], record["spanId"] = found
        yield record


def requests(store: Store, base: int | None = None, cand: int | None = None) -> Iterator[str]:
    """OTLP/JSON `ExportLogsServiceRequest`s of at most BATCH records, each one line."""
    resource = {
        "attributes": [_attr("service.name", "evaltui"), _attr("service.version", __version__)]
    }
    scope = {"name": NAME, "version": __version__}
    batch: list[dict[str, Any]] = []

    def line() -> str:
        body = {
            "resourceLogs": [
                {"resource": resource, "scopeLogs": [{"scope": scope, "logRecords": batch}]}
            ]
        }
        return json.dumps(body, ensure_ascii=True, separators=(",", ":"), allow_nan=False)

    for record in records(store, base, cand):
        batch.append(record)
        if len(batch) == BATCH:
            yield line()
            batch = []
    if batch:
        yield line()


def export(
    store: Store,
    path: Path | None,
    endpoint: str | None = None,
    *,
    base: int | None = None,
    cand: int | None = None,
) -> tuple[int, int]:
    """Write the findings as OTLP/JSON lines to `path` (when given) and POST them to
    `endpoint` (when given); returns (records, requests)."""
    lines = list(requests(store, base, cand))
    n = sum(line.count('"eventName":') for line in lines)
    if path is not None:
        with atomic_writer(path) as fh:
            for line in lines:
                fh.write(line + "\n")
    if endpoint:
        for i, line in enumerate(lines, 1):
            post(endpoint, line, f"request {i} of {len(lines)}")
    return n, len(lines)


def post(endpoint: str, body: str, what: str) -> None:
    """One OTLP/HTTP JSON request; an HTTP error, a refused connection or rejected records
    is an error naming the endpoint."""
    if not re.match(r"https?://", endpoint):
        raise InputError(
            endpoint,
            "an http:// or https:// URL is expected (an OTLP/HTTP logs "
            "endpoint, such as http://127.0.0.1:4318/v1/logs)",
        )
    req = urllib.request.Request(
        endpoint, data=body.encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as answer:
            reply = answer.read(65536)
    except urllib.error.HTTPError as exc:
        text = exc.read(300).decode("utf-8", "replace")
        raise InputError(
            endpoint, f"the OTLP endpoint answered {exc.code} to {what}: {text}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(
            endpoint, f"could not send {what} to the OTLP endpoint: {reason}"
        ) from None
    try:
        partial = json.loads(reply or b"{}").get("partialSuccess") or {}
    except (ValueError, AttributeError):
        partial = {}
    rejected = int(partial.get("rejectedLogRecords") or 0) if isinstance(partial, dict) else 0
    if rejected:
        raise InputError(
            endpoint,
            f"the OTLP endpoint rejected {rejected} log record(s) of {what}: "
            f"{str(partial.get('errorMessage') or '')[:300]}",
        )
