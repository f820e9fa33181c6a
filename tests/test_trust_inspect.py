"""Inspect logs read as Inspect means them (issue 24, third round).

Every log under fixtures/inspect_ai/round3 was written by Inspect itself
(fixtures/inspect_ai/how-produced/round3.py); each test checks evaltui's reading against
the figures Inspect wrote in the same log. Archives made here in a temp dir are hostile
inputs (a zip of zstd members), not imitations of a tool.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaltui import service
from evaltui.cli import cli
from evaltui.compare import Comparison
from evaltui.errors import InputError
from evaltui.importers.inspect_ai import _read_member
from evaltui.importers.inspect_nan import NAN, ConstantReader
from evaltui.models import Record
from evaltui.store import Store
from evaltui.store.runs import list_runs

from .conftest import FIXTURES

ROUND3 = FIXTURES / "inspect_ai" / "round3"


def member(path: Path, name: str) -> dict:
    with zipfile.ZipFile(path) as zf:
        return json.loads(bytes(_read_member(path, zf, zf.getinfo(name))))


def run_of(store, run_id: int):
    return next(r for r in list_runs(store) if r.id == run_id)


def nan_logs() -> tuple[Path, Path]:
    (eval_log,) = sorted((ROUND3 / "nan").glob("*.eval"))
    return eval_log, eval_log.with_suffix(".json")


# -- NaN scores: no valid grade is unscored, and the figures are Inspect's ------------------


@pytest.mark.parametrize("form", ["eval", "json"])
def test_nan_scores_are_unscored_and_the_figures_are_inspects(tmp_path, form):
    eval_log, json_log = nan_logs()
    results = member(eval_log, "header.json")["results"]
    assert b"NaN" in json_log.read_bytes()  # the bare token Inspect writes in .json
    with Store(tmp_path / "s.db") as store:
        (out,) = service.import_path(store, eval_log if form == "eval" else json_log)
        run = run_of(store, out.run_id)
        for score in results["scores"]:  # every scorer, as Inspect counted it
            crit = run.criteria[score["scorer"]]
            assert crit["unscored"] == score["unscored_samples"] > 0
            assert crit["passed"] + crit["failed"] == score["scored_samples"]
            accuracy = score["metrics"]["accuracy"]["value"]
            assert crit["passed"] / score["scored_samples"] == pytest.approx(accuracy)
        head = next(s for s in results["scores"] if s["scorer"] == results["headline"]["scorer"])
        assert run.unscored == head["unscored_samples"] and run.errored == 0
        assert run.pass_rate == pytest.approx(head["metrics"]["accuracy"]["value"])
        (why,) = {r[0] for r in store.conn.execute(
            "SELECT explanation FROM results WHERE verdict = 'unscored'")}  # fmt: skip
        assert why.startswith("Grade not found in model output")


def test_the_json_twin_of_a_nan_log_is_the_same_run(store):
    eval_log, json_log = nan_logs()
    (first,) = service.import_path(store, eval_log)
    (again,) = service.import_path(store, json_log)
    assert again.skipped and again.run_id == first.run_id and "same run" in again.why


def _hostile_json(tmp_path: Path, old: bytes, new: bytes) -> Path:
    _, json_log = nan_logs()
    data = json_log.read_bytes()
    assert old in data
    bad = tmp_path / "bad.json"
    bad.write_bytes(data.replace(old, new, 1))
    return bad


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (b'"total_time": ', b'"total_time": NaN, "x": ', "total_time"),
        (b'"value": "C"', b'"value": Infinity', "scores."),
        (b'"difficulty": 1', b'"difficulty": NaN', "metadata.difficulty"),
    ],
    ids=["nan-time", "infinite-score", "nan-metadata"],
)
def test_a_constant_where_inspect_defines_none_is_refused(tmp_path, old, new, field):
    bad = _hostile_json(tmp_path, old, new)
    with Store(tmp_path / "s.db") as store, pytest.raises(InputError) as err:
        service.import_path(store, bad)
    assert field in (err.value.field or "") and "samples[" in (err.value.location or "")
    assert "not a number evaltui reads here" in err.value.detail


def test_nan_inside_strings_is_text_whatever_the_chunks():
    doc = (b'{"a": NaN, "s": "x NaN \\" -Infinity \\\\", "l": [Infinity, -Infinity, NaN],'
           b' "t": "NaN\\\\"}')  # fmt: skip

    class Drip:  # a reader that hands out k bytes at a time
        def __init__(self, k: int) -> None:
            self.raw, self.k = io.BytesIO(doc), k

        def read(self, n: int = -1) -> bytes:
            return self.raw.read(self.k)

    for k in range(1, 24):
        reader, out = ConstantReader(Drip(k)), b""
        while chunk := reader.read(1 << 16):
            out += chunk
        value = json.loads(out)
        assert value["a"] == NAN and value["l"][2] == NAN, k
        assert value["s"] == 'x NaN " -Infinity \\' and value["t"] == "NaN\\", k


# -- limits: a flag beside the tool's verdict, never a regression by itself -----------------


def limits_pair() -> tuple[Path, Path]:
    logs = sorted((ROUND3 / "limits").glob("*.eval"))
    by_limit = {
        bool(member(p, "header.json")["eval"]["config"].get("message_limit")): p for p in logs
    }
    return by_limit[False], by_limit[True]


def test_a_limit_keeps_the_verdict_and_is_its_own_change(store, db_path):
    base, cand = limits_pair()
    limited = {n.split("/")[1].rsplit("_epoch", 1)[0] for n in zipfile.ZipFile(cand).namelist()
               if n.startswith("samples/") and member(cand, n).get("limit")}  # fmt: skip
    assert limited
    ids = []
    for path in (base, cand):
        (out,) = service.import_path(store, path)
        run = run_of(store, out.run_id)
        accuracy = member(path, "header.json")["results"]["scores"][0]["metrics"]["accuracy"]
        assert run.pass_rate == pytest.approx(accuracy["value"])  # Inspect's own figure
        assert run.passed + run.failed + run.errored + run.unscored == run.results
        ids.append(out.run_id)
    assert run_of(store, ids[1]).limit == len(limited) and run_of(store, ids[0]).limit == 0
    with Comparison(db_path, *ids) as cmp:
        counts = cmp.counts()
        assert counts["regressed"] == counts["improved"] == 0  # the same verdicts
        assert counts["limit_hit"] == len(limited)
        summary = cmp.summary().dump()
        assert set(summary["changed"]["limit_hit"]) == limited
        assert set(summary["limit_hits"]["candidate"]) == limited
        assert summary["limit_hits"]["baseline"] == []
        from evaltui.compare.measures import measure

        value, evidence = measure(cmp, "limit_hits", "all", alpha=0.05)
        assert value == len(limited) and set(evidence["cases"]) == limited
        row = next(r for r in cmp.page(summary_filter(), limit=100) if r.case_key in limited)
        assert row.change == "limit_hit" and row.candidate_limits == 1
        detail = cmp.detail(row.case_id)
        assert detail.candidate[0].limit == "message limit (4)"
        assert detail.candidate[0].verdict in ("pass", "fail")  # the tool's verdict
    out = CliRunner().invoke(cli, ["--db", str(db_path), "runs", "--json"])
    assert [r["limit"] for r in json.loads(out.output)] == [0, len(limited)]


def summary_filter():
    from evaltui.compare.filter import Filter
    from evaltui.compare.kinds import CHANGES

    return Filter(changes=frozenset(CHANGES))


def test_a_limit_with_no_verdict_still_counts_with_errors(store, db_path):
    """A native `limit` result (stopped, no verdict) keeps its meaning: a flag, and not a pass."""
    from .helpers import line, write_jsonl

    path = write_jsonl(db_path.parent / "n.jsonl", [
        line("a", "pass"), line("b", "limit", error="token limit (30) hit"),
    ])  # fmt: skip
    (out,) = service.import_path(store, path)
    run = run_of(store, out.run_id)
    assert run.limit == 1 and run.pass_rate == 0.5
    assert store.conn.execute(
        "SELECT limit_hit FROM results WHERE verdict = 'limit'"
    ).fetchone() == ("token limit (30) hit",)


# -- a re-scored log is another run, related to the original ---------------------------------


def test_a_rescored_log_is_imported_as_a_new_run_that_says_so(db_path):
    (original,) = sorted((ROUND3 / "rescored").glob("2*.eval"))
    (rescored,) = sorted((ROUND3 / "rescored").glob("rescored-*.eval"))
    ids = [member(p, "header.json")["eval"]["eval_id"] for p in (original, rescored)]
    assert ids[0] == ids[1]  # inspect score keeps the ids
    runner = CliRunner()
    first = runner.invoke(cli, ["--db", str(db_path), "import", str(original)])
    assert first.exit_code == 0, first.output
    second = runner.invoke(cli, ["--db", str(db_path), "import", str(rescored)])
    assert second.exit_code == 0, second.output
    assert "as run 2" in second.output and "re-scored from run 1" in second.output
    again = runner.invoke(cli, ["--db", str(db_path), "import", str(rescored)])
    assert "skipped" in again.output and "as run 3" not in again.output
    with Store(db_path) as store:
        meta = json.loads(
            store.conn.execute("SELECT metadata FROM runs WHERE id = 2").fetchone()[0]
        )
        assert meta["rescored_from"] == 1
        assert set(run_of(store, 2).criteria) == {"includes"}


# -- a crashed log: what it is and what to do ---------------------------------------------------


def test_an_unfinished_log_is_named_and_what_to_do_said(db_path):
    (crashed,) = sorted((ROUND3 / "crashed").glob("*.eval"))
    assert "header.json" not in zipfile.ZipFile(crashed).namelist()
    out = CliRunner().invoke(cli, ["--db", str(db_path), "import", str(crashed)])
    assert out.exit_code == 2
    text = " ".join(out.output.split())
    assert "binary" not in text
    assert "header.json: an unfinished Inspect log" in text and "status 'started'" in text
    assert "6 of 40 samples" in text and "inspect log recover" in text
    assert not db_path.exists()  # nothing went in: no store was made (#24)


# -- several declared reducers: which is used, and how to pick another ---------------------------


def test_several_declared_reducers_are_named_and_can_be_picked(db_path):
    (log,) = sorted((FIXTURES / "inspect_ai" / "epochs3-json").glob("*.json"))
    declared = json.loads(log.read_text())["eval"]["config"]["epochs_reducer"]
    assert declared == ["mean", "max"]
    runner = CliRunner()
    out = runner.invoke(cli, ["--db", str(db_path), "import", str(log)])
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "declare reducers mean, max" in text and "uses mean, the first" in text
    assert "declared:max" in text
    runner.invoke(cli, ["--db", str(db_path), "import", str(log), "--force", "--name", "again"])
    for choice, label in (
        ("declared", "worst"),
        ("declared:max", "best"),
        ("declared:mean", "worst"),
    ):
        res = runner.invoke(
            cli, ["--db", str(db_path), "compare", "1", "2", "--reducer", choice, "--json"]
        )
        assert res.exit_code == 0, res.output
        assert json.loads(res.output)["reducer"] == label
    bad = runner.invoke(
        cli, ["--db", str(db_path), "compare", "1", "2", "--reducer", "declared:median"]
    )
    assert bad.exit_code == 2 and "mean, max" in bad.output
    with Comparison(db_path, 1, 2, reducer="declared") as cmp:
        assert "declared:max" in (cmp.summary().dump()["reducer_note"] or "")


# -- memory: the archive's total is bounded, and rows go to the store as they are read -----------


def _bomb_archive(path: Path, members: int, each: int) -> None:
    """A zip of zstd members (a hostile input): a real header, then `members` samples
    whose output is `each` bytes of one letter, marked as Zstandard (zip method 93) with
    their real sizes and CRCs in both zip headers."""
    import struct
    import zlib

    import zstandard

    (real,) = sorted((ROUND3 / "limits").glob("*ZaiyoycuKFsGrWt5dXHzpS.eval"))
    sample = member(real, "samples/geo-001_epoch_1.json")
    sizes: dict[str, tuple[int, int]] = {}  # name -> (crc, size)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("header.json", json.dumps(member(real, "header.json")))
        for i in range(members):
            sample["id"], sample["output"]["completion"] = f"s{i}", "x" * each
            raw = json.dumps(sample).encode()
            name = f"samples/s{i}_epoch_1.json"
            sizes[name] = (zlib.crc32(raw), len(raw))
            zf.writestr(
                name, zstandard.ZstdCompressor().compress(raw), compress_type=zipfile.ZIP_STORED
            )
    data = bytearray(path.read_bytes())
    for sig, method_at, crc_at, name_len_at, name_at in (
        (b"PK\x03\x04", 8, 14, 26, 30), (b"PK\x01\x02", 10, 16, 28, 46)
    ):  # fmt: skip
        at = data.find(sig)
        while at >= 0:
            (name_len,) = struct.unpack_from("<H", data, at + name_len_at)
            name = bytes(data[at + name_at : at + name_at + name_len]).decode()
            if name in sizes:
                crc, size = sizes[name]
                (packed,) = struct.unpack_from("<I", data, at + crc_at + 4)
                struct.pack_into("<H", data, at + method_at, 93)
                struct.pack_into("<III", data, at + crc_at, crc, packed, size)
            at = data.find(sig, at + 4)
    path.write_bytes(bytes(data))


def test_an_archive_expanding_far_past_its_size_is_refused_before_reading(tmp_path, monkeypatch):
    bomb = tmp_path / "bomb.eval"
    _bomb_archive(bomb, members=6, each=50 << 20)  # 300 MB declared by a file of a few KB
    assert bomb.stat().st_size < 1 << 20
    with Store(tmp_path / "s.db") as store:
        before = store.dump()
        with pytest.raises(InputError) as err:
            service.import_path(store, bomb)
        assert "EVALTUI_MAX_ARCHIVE_RATIO" in err.value.detail
        assert store.dump() == before
        monkeypatch.setenv("EVALTUI_MAX_ARCHIVE_RATIO", "100000000")
        monkeypatch.setenv("EVALTUI_MAX_ARCHIVE_BYTES", str(200 << 20))
        with pytest.raises(InputError) as err:
            service.import_path(store, bomb)
        assert "EVALTUI_MAX_ARCHIVE_BYTES" in err.value.detail
        assert store.dump() == before


def test_huge_outputs_go_to_the_store_a_few_at_a_time():
    from evaltui.store.rows import BATCH_BYTES, Tally, build_rows

    big = "y" * (BATCH_BYTES // 3)
    records = (Record(suite="s", case_key=f"k{i}", verdict="pass", output=big) for i in range(9))
    sizes = [len(results) for _, results, _ in build_rows(records, 1, Tally())]
    assert sum(sizes) == 9 and max(sizes) <= 4


# -- the grader's identity: a model-graded scorer's model, as the log names it ---------------


@pytest.mark.parametrize("form", ["eval", "json"])
def test_a_model_graded_scorers_model_is_the_graders_identity(tmp_path, form):
    from evaltui.review.calibration.report import grader_identity
    from evaltui.store.runs.grader import VERDICT, run_identity

    eval_log, json_log = nan_logs()
    scorers = member(eval_log, "header.json")["eval"]["scorers"]
    assert scorers[0]["options"]["model"]["model"] == "mockllm/grader"  # as read by hand
    assert [m["model"] for m in scorers[1]["options"]["model"]] == [
        "mockllm/grader", "mockllm/grader2"]  # fmt: skip
    with Store(tmp_path / "s.db") as store:
        (out,) = service.import_path(store, eval_log if form == "eval" else json_log)
        assert run_identity(store.conn, out.run_id)[3]["grader_models"] == {
            "model_graded_qa": "mockllm/grader",
            "model_graded_fact": "mockllm/grader,mockllm/grader2",
        }
        fact = grader_identity(store.conn, out.run_id, "model_graded_fact")
        verdict = grader_identity(store.conn, out.run_id, VERDICT)
    assert fact.startswith("model_graded_fact (inspect); task task; inspect_version 0.3.")
    assert fact.endswith("; grader model mockllm/grader,mockllm/grader2")
    assert verdict.endswith(
        "; grader models model_graded_fact: mockllm/grader,mockllm/grader2, "
        "model_graded_qa: mockllm/grader"
    )
