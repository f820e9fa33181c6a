"""Corrupted and truncated real files of every format: a clear error naming the file, or a
clean import; never a traceback, never a half-written store.

Default size fits `make test`; `EVALTUI_LONG=1` runs 1,000 cases per format (docs/security.md).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaltui import service
from evaltui.errors import InputError
from evaltui.store import Store

from .conftest import FIXTURES

LONG = bool(os.environ.get("EVALTUI_LONG"))
EXAMPLES = 1000 if LONG else 25

FILES = {
    "native": FIXTURES / "demo" / "production.jsonl",
    "inspect-eval": next((FIXTURES / "inspect_ai" / "baseline").glob("*.eval")),
    "inspect-json": next((FIXTURES / "inspect_ai" / "epochs3-json").glob("*.json")),
    "promptfoo-json": FIXTURES / "promptfoo" / "candidate.json",
    "promptfoo-jsonl": FIXTURES / "promptfoo" / "candidate.jsonl",
    "promptfoo-csv": FIXTURES / "promptfoo" / "candidate.csv",
    "openai-evals": FIXTURES / "openai_evals" / "fixture-match_baseline.jsonl",
    "lm-eval": next(
        (FIXTURES / "lm_eval" / "fixture-lm" / "fixture-org__baseline-7b").glob(
            "samples_fixture_gen_*.jsonl"
        )
    ),
}
# Only the first part of big files is mutated (a corruption anywhere is tested by the offsets).
MAX_BYTES = 400_000


@st.composite
def corruption(draw, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "splice"]))
    n = len(data)
    at = draw(st.integers(0, max(0, n - 1)))
    if kind == "truncate":
        return data[:at]
    if kind == "flip":
        count = draw(st.integers(1, 8))
        out = bytearray(data)
        for i in range(count):
            pos = (at + i * draw(st.integers(1, 997))) % max(1, n)
            out[pos] = draw(st.integers(0, 255))
        return bytes(out)
    if kind == "insert":
        junk = draw(
            st.binary(min_size=1, max_size=40)
            | st.sampled_from([b"\x00", b'"', b"{", b"}", b"\n", b",", b"\xff\xfe"])
        )
        return data[:at] + junk + data[at:]
    if kind == "delete":
        return data[:at] + data[at + draw(st.integers(1, 200)) :]
    # splice: a chunk of the file moved elsewhere
    end = min(n, at + draw(st.integers(1, 500)))
    chunk = data[at:end]
    rest = data[:at] + data[end:]
    to = draw(st.integers(0, len(rest)))
    return rest[:to] + chunk + rest[to:]


def _check(tmp_path: Path, name: str, data: bytes, template: Path, seen: dict[str, int]) -> None:
    src = FILES[name]
    path = tmp_path / f"mutant{src.suffix}"
    path.write_bytes(data)
    db = tmp_path / "s.db"
    shutil.copyfile(template, db)  # a store that already holds runs
    with Store(db) as store:
        before = store.dump()
        try:
            outs = service.import_path(store, path, force=True)
        except InputError as exc:
            text = str(exc)
            assert str(path) in text, text  # the file is named
            assert store.dump() == before  # nothing of it was written
            seen["refused"] += 1
            if exc.location:
                seen["located"] += 1
            return
        # A mutation can leave a valid file (a truncation at a line end, a changed letter):
        # then every run in it is whole.
        for out in outs:
            n = store.conn.execute(
                "SELECT COUNT(*) FROM results WHERE run_id = ?", (out.run_id,)
            ).fetchone()[0]
            assert n == out.results > 0
        seen["imported"] += 1


@pytest.mark.parametrize("name", sorted(FILES))
def test_corrupted_files_fail_cleanly(name, tmp_path_factory):
    data = FILES[name].read_bytes()
    if len(data) > MAX_BYTES and FILES[name].suffix in (".jsonl", ".csv"):
        data = data[
            : data.rfind(b"\n", 0, MAX_BYTES) + 1
        ]  # whole lines: the unmutated file is valid
    seen = {"refused": 0, "imported": 0, "located": 0}
    template = tmp_path_factory.mktemp("template") / "template.db"
    with Store(template) as store:
        service.load_demo(store)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large])  # fmt: skip
    @given(mutant=corruption(data))
    def run(mutant: bytes) -> None:
        tmp = tmp_path_factory.mktemp(name)
        try:
            _check(tmp, name, mutant, template, seen)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    run()
    assert seen["refused"] + seen["imported"] >= min(EXAMPLES, 10)
    print(f"{name}: {seen}")
