"""OTLP protobuf vs OTLP/JSON lines (#31): the time and peak memory of `evaltui import` of a
100,000-span trace file as the Collector's file exporter writes `format: proto` (length-
delimited ExportTraceServiceRequest messages), against the same messages as OTLP/JSON lines.
Goal: protobuf within 1.5x of the JSON lines, peak memory under 300 MB each.

    BENCH_ONLY=otlp_proto make bench        (BENCH_OTLP_SPANS=10000 for a quicker look)

The content is the GenAI fixture's protobuf (fixtures/agents/protobuf/baseline.otlp.pb,
written by the OpenTelemetry SDK's own encoder), its traces repeated with new trace ids and
case names until the file holds the spans asked for; the JSON lines are the same messages
through protobuf's JSON printer (ids as hex, as OTLP/JSON spells them). Each import runs in
its own process, whose peak RSS (and its reader process's) is its own.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "fixtures" / "agents" / "protobuf" / "baseline.otlp.pb"
LIMIT_MB = 300
GOAL = 1.5


def _messages(path: Path) -> list[bytes]:
    data, out = path.read_bytes(), []
    while data:
        size = struct.unpack(">I", data[:4])[0]
        out.append(data[4 : 4 + size])
        data = data[4 + size :]
    return out


def _hex_ids(obj: Any) -> Any:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str):
                obj[k] = base64.b64decode(v).hex()
            else:
                _hex_ids(v)
    elif isinstance(obj, list):
        for v in obj:
            _hex_ids(v)
    return obj


def generate(proto: Path, lines: Path, spans: int) -> int:
    """Both files, the same messages; returns the spans written."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    sources = []
    for data in _messages(SOURCE):
        req = ExportTraceServiceRequest()
        req.ParseFromString(data)
        sources.append(req)
    written = copy = 0
    with proto.open("wb") as pb, lines.open("w") as js:
        while written < spans:
            copy += 1
            for src in sources:
                req = ExportTraceServiceRequest()
                req.CopyFrom(src)
                trace_id = (
                    copy.to_bytes(8, "big")
                    + src.resource_spans[0].scope_spans[0].spans[0].trace_id[8:]
                )
                for rs in req.resource_spans:
                    for ss in rs.scope_spans:
                        for span in ss.spans:
                            span.trace_id = trace_id
                            if not span.parent_span_id:
                                for kv in span.attributes:
                                    if kv.key == "test.case.name":
                                        kv.value.string_value += f"-{copy}"
                            written += 1
                body = req.SerializeToString()
                pb.write(struct.pack(">I", len(body)) + body)
                obj = _hex_ids(MessageToDict(req, use_integers_for_enums=True))
                js.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n")
                if written >= spans:
                    break
    return written


def child(src: str, db: str) -> None:
    """Import one file into a new store; print seconds and peak RSS (own and reader's)."""
    from evaltui import service
    from evaltui.store import Store

    t0 = time.perf_counter()
    with Store(Path(db)) as store:
        [out] = service.import_path(store, Path(src))
    seconds = time.perf_counter() - t0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "results": out.results, "peak_rss_mb": max(own, kids)}))


def run_child(src: Path, db: Path) -> dict[str, Any]:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, __file__, "--child", str(src), str(db)],
                          capture_output=True, text=True, env=env, check=False)  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"otlp_proto import of {src.name} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def bench_otlp_proto(workdir: Path, figures: dict[str, Any]) -> None:
    n = int(os.environ.get("BENCH_OTLP_SPANS", "100000"))
    work = workdir / "otlp_proto"
    work.mkdir(parents=True, exist_ok=True)
    proto, lines = work / f"spans-{n}.otlp.pb", work / f"spans-{n}.otlp.jsonl"
    if not (proto.exists() and lines.exists()):
        generate(proto, lines, n)
    mb = (proto.stat().st_size / 1e6, lines.stat().st_size / 1e6)
    print(f"otlp_proto: {n:,} spans; protobuf {mb[0]:.0f} MB, OTLP/JSON lines {mb[1]:.0f} MB")
    js = run_child(lines, work / "json.db")
    pb = run_child(proto, work / "proto.db")
    ratio = pb["seconds"] / js["seconds"]
    for label, out in (("OTLP/JSON lines", js), ("OTLP protobuf", pb)):
        print(f"  {label}: {out['seconds']:.1f} s, {out['results']:,} cases, peak "
              f"{out['peak_rss_mb']:.0f} MB ({'OK' if out['peak_rss_mb'] < LIMIT_MB else 'OVER'} "
              f"< {LIMIT_MB} MB)")  # fmt: skip
    print(f"  protobuf / JSON lines: {ratio:.2f}x (goal <= {GOAL}x: "
          f"{'OK' if ratio <= GOAL else 'MISSED'})")  # fmt: skip
    figures["otlp_proto"] = {"spans": n, "proto_mb": mb[0], "json_mb": mb[1], "json": js,
                             "proto": pb, "ratio": ratio}  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        bench_otlp_proto(ROOT / "bench" / "out", {})
