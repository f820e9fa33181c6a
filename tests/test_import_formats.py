"""The eval tools' own files (fixtures/<tool>/, copied from ../shared/formats).

Counts are checked against each tool's own summary in the same file; every
derived file (reordered, re-compressed, corrupted) is made from a real file here.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from evaltui import service
from evaltui.errors import InputError
from evaltui.importers import detect
from evaltui.importers.base import ImportOptions
from evaltui.store.runs import list_runs

from .conftest import FIXTURES

INSPECT = FIXTURES / "inspect_ai"
INSPECT_BASE_EVAL = next((INSPECT / "baseline").glob("*.eval"))
INSPECT_BASE_JSON = next((INSPECT / "baseline").glob("*.json"))
INSPECT_CAND_EVAL = next((INSPECT / "candidate").glob("*.eval"))
INSPECT_CAND_JSON = next((INSPECT / "candidate").glob("*.json"))
INSPECT_EPOCHS = next((INSPECT / "epochs3-json").glob("*.json"))
PF = FIXTURES / "promptfoo"
OAI = FIXTURES / "openai_evals"
LM = FIXTURES / "lm_eval" / "fixture-lm"
LM_BASE = LM / "fixture-org__baseline-7b"
LM_CAND = LM / "fixture-org__candidate-7b"


def run_row(store, run_id):
    return next(r for r in list_runs(store) if r.id == run_id)


def outcomes(store, run_id, suite="%"):
    """{case_key: [verdict per epoch]} for a run."""
    rows = store.conn.execute(
        "SELECT c.case_key, r.epoch, r.verdict FROM results r JOIN cases c ON c.id = r.case_id "
        "WHERE r.run_id = ? AND c.suite LIKE ? ORDER BY c.case_key, r.epoch",
        (run_id, suite),
    ).fetchall()
    out: dict[str, list[str]] = {}
    for key, _epoch, verdict in rows:
        out.setdefault(key, []).append(verdict)
    return out


def flips(store, base_id, cand_id, suite="%"):
    base, cand = outcomes(store, base_id, suite), outcomes(store, cand_id, suite)
    assert set(base) == set(cand), "baseline and candidate align on every case"
    regressed = sorted(k for k in base if base[k] == ["pass"] and cand[k] != ["pass"])
    improved = sorted(k for k in base if base[k] != ["pass"] and cand[k] == ["pass"])
    return regressed, improved


def import_one(store, path, **kw):
    (out,) = service.import_path(store, path, **kw)
    return out.run_id


# -- detection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        (INSPECT_BASE_EVAL, "inspect"),
        (INSPECT_BASE_JSON, "inspect"),
        (INSPECT_EPOCHS, "inspect"),
        (PF / "baseline.json", "promptfoo"),
        (PF / "baseline.jsonl", "promptfoo"),
        (PF / "baseline.csv", "promptfoo"),
        (OAI / "fixture-match_baseline.jsonl", "openai-evals"),
        (LM, "lm-eval"),
        (LM_BASE, "lm-eval"),
        (next(LM_BASE.glob("samples_fixture_mc_*.jsonl")), "lm-eval"),
        (FIXTURES / "demo" / "production.jsonl", "native"),
    ],
)
def test_detects_each_format_by_content(path, fmt):
    assert detect(path).name == fmt


def test_unknown_file_lists_supported_formats(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("just some notes\n")
    with pytest.raises(InputError) as info:
        detect(path)
    for name in ("inspect", "promptfoo", "openai-evals", "lm-eval", "native"):
        assert name in info.value.message


# -- Inspect AI ------------------------------------------------------------------------------


def test_inspect_counts_match_the_logs_own_results(store):
    for path in (INSPECT_BASE_EVAL, INSPECT_BASE_JSON, INSPECT_CAND_EVAL, INSPECT_CAND_JSON):
        log = json.loads(path.read_text()) if path.suffix == ".json" else None
        if log is None:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
            assert "header.json" in names
            log = json.loads((path.with_suffix(".json")).read_text())
        run_id = import_one(store, path, force=True)
        row = run_row(store, run_id)
        match = next(s for s in log["results"]["scores"] if s["name"] == "match")
        total = log["results"]["total_samples"]
        assert row.results == total == 40
        assert row.passed == round(match["metrics"]["accuracy"]["value"] * total)
        # every scorer is a criterion; a dict-valued scorer's keys are `scorer/key`
        for score in log["results"]["scores"]:
            name = (
                score["scorer"]
                if score["name"] == score["scorer"]
                else f"{score['scorer']}/{score['name']}"
            )
            crit = row.criteria.get(name)
            assert crit is not None, name
            if "accuracy" in score["metrics"]:
                assert crit["passed"] == round(score["metrics"]["accuracy"]["value"] * total)
            # every result is counted: a float scorer's values pass at 1.0 or fail
            assert crit["passed"] + crit["failed"] + crit["errored"] == total, (name, crit)
    assert {r.format for r in list_runs(store)} == {"inspect"}


def test_inspect_eval_and_json_twins_hold_the_same_results(store):
    a = import_one(store, INSPECT_BASE_EVAL)
    b = import_one(store, INSPECT_BASE_JSON)
    q = (
        "SELECT c.case_key, r.epoch, r.verdict, r.score, r.output, r.criteria, r.latency_ms "
        "FROM results r JOIN cases c ON c.id = r.case_id WHERE run_id = ? ORDER BY 1, 2"
    )
    assert store.conn.execute(q, (a,)).fetchall() == store.conn.execute(q, (b,)).fetchall()


def test_inspect_pair_flips_match_the_tools_figures(store):
    base = import_one(store, INSPECT_BASE_EVAL)
    cand = import_one(store, INSPECT_CAND_EVAL)
    regressed, improved = flips(store, base, cand)
    assert regressed == ["math-009", "safe-009"]
    assert improved == sorted(
        ["math-003", "math-007", "math-010", "safe-002", "safe-003", "safe-008",
         "sent-007", "sent-008", "sent-010"]
    )  # fmt: skip


def test_inspect_run_fields_and_sample_mapping(store):
    run_id = import_one(store, INSPECT_BASE_EVAL, options=ImportOptions(role="production"))
    run = store.conn.execute(
        "SELECT name, system, role, format, created_at, metadata, suites FROM runs WHERE id = ?",
        (run_id,),
    ).fetchone()
    assert run[1] == "mockllm/baseline" and run[2] == "production" and run[3] == "inspect"
    assert run[4].startswith("2026-11-23T11:16:42")
    meta = json.loads(run[5])
    assert meta["tags"] == ["baseline"] and meta["metadata"]["suite"] == "fixture-qa"
    assert json.loads(run[6]) == ["qa"]
    case = store.conn.execute(
        "SELECT input, expected, attributes FROM cases WHERE case_key = 'geo-001'"
    ).fetchone()
    assert case[0].startswith("What is the capital of France")
    assert case[1] == "Paris"
    assert json.loads(case[2]) == {
        "segment": "geography",
        "risk": "low",
        "task": "capital",
        "difficulty": 1,
    }
    crit = json.loads(
        store.conn.execute(
            "SELECT criteria FROM results r JOIN cases c ON c.id = r.case_id "
            "WHERE c.case_key = 'geo-001'"
        ).fetchone()[0]
    )
    assert set(crit) == {"match", "includes", "brevity", "format_checks/single_line",
                         "format_checks/starts_with_target"}  # fmt: skip
    assert crit["match"]["verdict"] == "pass" and crit["brevity"]["score"] == 1.0


def test_inspect_epochs_become_samples_of_one_case(store):
    run_id = import_one(store, INSPECT_EPOCHS)
    row = run_row(store, run_id)
    log = json.loads(INSPECT_EPOCHS.read_text())
    mean = next(
        s for s in log["results"]["scores"] if s["name"] == "match" and s["reducer"] == "mean"
    )
    assert (row.cases, row.results) == (8, 24)
    assert row.passed / row.results == pytest.approx(mean["metrics"]["accuracy"]["value"])
    by_case = outcomes(store, run_id)
    assert sorted(by_case, key=int) == [str(i) for i in range(1, 9)]  # integer ids
    assert all(len(v) == 3 for v in by_case.values())


def test_inspect_pass_criterion_option(store):
    run_id = import_one(
        store, INSPECT_BASE_JSON, options=ImportOptions(pass_criterion="single_line")
    )
    log = json.loads(INSPECT_BASE_JSON.read_text())
    single = next(s for s in log["results"]["scores"] if s["name"] == "single_line")
    assert run_row(store, run_id).passed == round(single["metrics"]["accuracy"]["value"] * 40)
    with pytest.raises(InputError, match="no scorer named 'nope'"):
        import_one(
            store, INSPECT_BASE_JSON, options=ImportOptions(pass_criterion="nope"), force=True
        )


def rezip(src: Path, dst: Path, compression: int, drop: str | None = None, edit=None) -> Path:
    """The same .eval archive with other compression (older Inspect wrote deflate)."""
    from evaltui.importers.inspect_ai import _member_json, _open_zip

    zin = _open_zip(src)
    with zipfile.ZipFile(dst, "w", compression=compression) as zout:
        for info in zin.infolist():
            if info.filename == drop:
                continue
            data = json.dumps(_member_json(src, zin, info.filename)).encode()
            if edit and info.filename in edit:
                data = edit[info.filename](data)
            zout.writestr(info.filename, data)
    zin.close()
    return dst


def test_inspect_reads_deflate_archives_of_older_releases(store, tmp_path):
    old = rezip(INSPECT_BASE_EVAL, tmp_path / "old.eval", zipfile.ZIP_DEFLATED)
    with zipfile.ZipFile(old) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}
    with zipfile.ZipFile(INSPECT_BASE_EVAL) as zf:
        assert {i.compress_type for i in zf.infolist()} == {93}  # Zstandard
    a = import_one(store, INSPECT_BASE_EVAL)
    b = import_one(store, old)
    assert outcomes(store, a) == outcomes(store, b)


def _sample_edit(data: bytes) -> bytes:
    obj = json.loads(data)
    obj["epoch"] = "first"
    return json.dumps(obj).encode()


def _inspect_bad(tmp_path: Path, kind: str) -> tuple[Path, str | None, str | None]:
    """A corrupted copy of a real log; returns (path, expected location, expected field)."""
    member = "samples/geo-001_epoch_1.json"
    if kind == "truncated":
        p = tmp_path / "t.eval"
        p.write_bytes(INSPECT_BASE_EVAL.read_bytes()[:5000])
        return p, None, None
    if kind == "missing-header":
        return (
            rezip(INSPECT_BASE_EVAL, tmp_path / "m.eval", zipfile.ZIP_DEFLATED, drop="header.json"),
            "header.json",
            None,
        )
    if kind == "bad-json-member":
        return (
            rezip(
                INSPECT_BASE_EVAL,
                tmp_path / "j.eval",
                zipfile.ZIP_DEFLATED,
                edit={member: lambda d: d[:-10]},
            ),
            member,
            None,
        )
    if kind == "wrong-type":
        return (
            rezip(
                INSPECT_BASE_EVAL,
                tmp_path / "w.eval",
                zipfile.ZIP_DEFLATED,
                edit={member: _sample_edit},
            ),
            member,
            "epoch",
        )
    if kind == "corrupt-zstd":
        raw = bytearray(INSPECT_BASE_EVAL.read_bytes())
        with zipfile.ZipFile(INSPECT_BASE_EVAL) as zf:
            info = zf.getinfo(member)
        raw[info.header_offset + 100 : info.header_offset + 140] = b"\x00" * 40
        p = tmp_path / "z.eval"
        p.write_bytes(bytes(raw))
        return p, member, None
    if kind == "json-wrong-type":
        log = json.loads(INSPECT_BASE_JSON.read_text())
        log["samples"][3]["id"] = {"not": "an id"}
        p = tmp_path / "w.json"
        p.write_text(json.dumps(log))
        return p, "samples[3]", "id"
    if kind == "json-truncated":
        p = tmp_path / "t.json"
        p.write_text(INSPECT_BASE_JSON.read_text()[:3000])
        return p, None, None
    if kind == "empty":
        p = tmp_path / "e.eval"
        p.write_bytes(b"")
        return p, None, None
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    ["truncated", "missing-header", "bad-json-member", "wrong-type", "corrupt-zstd",
     "json-wrong-type", "json-truncated", "empty"],
)  # fmt: skip
def test_inspect_bad_input_is_named_and_changes_nothing(store, tmp_path, kind):
    import_one(store, INSPECT_CAND_JSON)
    before = store.dump()
    path, location, field = _inspect_bad(tmp_path, kind)
    with pytest.raises(InputError) as info:
        service.import_path(store, path, fmt="inspect" if kind != "empty" else None)
    err = info.value
    assert str(path) in str(err)
    if location:
        assert err.location == location
    if field:
        assert err.field == field
    assert store.dump() == before


# -- promptfoo -----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["json", "jsonl", "csv"])
def test_promptfoo_counts_match_the_tools_stats(store, suffix):
    stats = {
        side: json.loads((PF / f"{side}.json").read_text())["results"]["stats"]
        for side in ("baseline", "candidate")
    }
    ids = {}
    for side in ("baseline", "candidate"):
        ids[side] = import_one(store, PF / f"{side}.{suffix}")
        row = run_row(store, ids[side])
        assert (row.passed, row.failed, row.errored) == (
            stats[side]["successes"], stats[side]["failures"], stats[side]["errors"]
        )  # fmt: skip
        assert row.name == f"{side} · short"
    regressed, improved = flips(store, ids["baseline"], ids["candidate"])
    assert regressed == ["json-004"]
    assert improved == sorted(
        ["cap-001", "cap-003", "json-002", "safe-001", "safe-005", "sent-001", "sent-002"]
    )


def test_promptfoo_json_fields(store):
    run_id = import_one(store, PF / "candidate.json")
    r = store.conn.execute(
        "SELECT r.verdict, r.error, r.latency_ms, r.cost, c.attributes FROM results r "
        "JOIN cases c ON c.id = r.case_id WHERE r.run_id = ? AND c.case_key = 'json-004'",
        (run_id,),
    ).fetchone()
    assert r[0] == "error" and "503" in r[1] and r[2] == 37
    assert json.loads(r[4]) == {"suite": "fixture", "segment": "extraction", "risk": "medium"}
    crit = json.loads(
        store.conn.execute(
            "SELECT criteria FROM results r JOIN cases c ON c.id = r.case_id "
            "WHERE r.run_id = ? AND c.case_key = 'cap-001'",
            (run_id,),
        ).fetchone()[0]
    )
    assert crit["correctness"]["verdict"] == "pass" and crit["brevity"]["verdict"] == "pass"


def test_promptfoo_case_keys_survive_reordering(store, tmp_path):
    log = json.loads((PF / "baseline.json").read_text())
    log["results"]["results"].reverse()
    for i, row in enumerate(reversed(log["results"]["results"])):
        row["testIdx"] = 19 - i  # the tests themselves in another order
    p = tmp_path / "reordered.json"
    p.write_text(json.dumps(log))
    a = import_one(store, PF / "baseline.json")
    b = import_one(store, p)
    assert outcomes(store, a) == outcomes(store, b)


def test_promptfoo_repeat_becomes_samples(store, tmp_path):
    """--repeat 2 output: testIdx = i*2 + r; both rows of a test are samples of one case."""
    log = json.loads((PF / "baseline.json").read_text())
    rows = []
    for row in log["results"]["results"]:
        for r in range(2):
            copy = json.loads(json.dumps(row))
            copy["testIdx"] = row["testIdx"] * 2 + r
            rows.append(copy)
    log["results"]["results"] = rows
    p = tmp_path / "repeat.json"
    p.write_text(json.dumps(log))
    run_id = import_one(store, p)
    row = run_row(store, run_id)
    assert (row.cases, row.results) == (20, 40)
    assert all(len(v) == 2 for v in outcomes(store, run_id).values())


def test_promptfoo_columns_become_runs(store, tmp_path):
    base = json.loads((PF / "baseline.json").read_text())
    cand = json.loads((PF / "candidate.json").read_text())
    base["results"]["results"] += cand["results"]["results"]  # two provider columns, one file
    p = tmp_path / "two-columns.json"
    p.write_text(json.dumps(base))
    outs = service.import_path(store, p)
    assert sorted(o.name for o in outs) == ["baseline · short", "candidate · short"]
    again = service.import_path(store, p)
    assert all(o.skipped for o in again)


def test_promptfoo_same_description_different_vars_get_distinct_keys():
    from evaltui.importers.promptfoo_keys import case_keys

    keys = case_keys([("greeting", {"name": "a"}), ("greeting", {"name": "b"}), (None, {"x": 1})])
    assert keys[0].startswith("greeting #") and keys[1].startswith("greeting #")
    assert keys[0] != keys[1] and keys[2].startswith("vars #")
    # the same vars from JSON (typed) and CSV (text) hash alike
    assert case_keys([(None, {"age": 52})]) == case_keys([(None, {"age": "52"})])


@pytest.mark.parametrize(
    ("name", "mutate", "location", "field"),
    [
        ("success-wrong-type", lambda o: o["results"]["results"][2].update(success="maybe"), "results.results[2]", "success"),
        ("no-testIdx", lambda o: o["results"]["results"][5].pop("testIdx"), "results.results[5]", "testIdx"),
        ("results-not-list", lambda o: o["results"].update(results={}), "top level", "results.results"),
    ],
)  # fmt: skip
def test_promptfoo_bad_json_is_named(store, tmp_path, name, mutate, location, field):
    log = json.loads((PF / "baseline.json").read_text())
    mutate(log)
    p = tmp_path / f"{name}.json"
    p.write_text(json.dumps(log))
    before = store.dump()
    with pytest.raises(InputError) as info:
        service.import_path(store, p, fmt="promptfoo")
    assert (info.value.location, info.value.field) == (location, field)
    assert store.dump() == before


def test_promptfoo_bad_jsonl_and_csv_are_named(store, tmp_path):
    lines = (PF / "baseline.jsonl").read_text().splitlines()
    lines[3] = lines[3][:50]
    p = tmp_path / "bad.jsonl"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        service.import_path(store, p, fmt="promptfoo")
    assert info.value.location == "line 4" and "malformed JSON" in info.value.message
    text = (PF / "baseline.csv").read_text().replace(",FAIL,", ",MAYBE,", 1)
    c = tmp_path / "bad.csv"
    c.write_text(text)
    with pytest.raises(InputError) as info:
        service.import_path(store, c)
    assert info.value.field == "Status" and info.value.location.startswith("record ")
    assert list_runs(store) == []


# -- OpenAI Evals ----------------------------------------------------------------------------


def test_openai_evals_counts_match_final_report_and_flips(store):
    ids = {}
    for side in ("baseline", "candidate"):
        path = OAI / f"fixture-match_{side}.jsonl"
        report = next(
            json.loads(line)["final_report"] for line in path.read_text().splitlines()
            if line.startswith('{"final_report"')
        )  # fmt: skip
        ids[side] = import_one(store, path)
        row = run_row(store, ids[side])
        assert row.results == 40
        assert row.passed == round(report["accuracy"] * 40)
    regressed, improved = flips(store, ids["baseline"], ids["candidate"])
    suffix = lambda keys: sorted(int(k.rsplit(".", 1)[1]) for k in keys)  # noqa: E731
    assert suffix(regressed) == [6, 15, 16, 19, 25, 27, 37]
    assert suffix(improved) == [0, 8, 11, 12, 13, 20, 22, 23, 30, 33, 34, 35]
    case = store.conn.execute(
        "SELECT input, expected FROM cases WHERE case_key = 'fixture-match.dev.34'"
    ).fetchone()
    assert case[0].startswith("system: You are a concise assistant")
    assert case[1] == "SAFE"


def test_openai_evals_without_sampling_events_still_imports(store, tmp_path):
    src = OAI / "fixture-match_baseline.jsonl"
    kept = [line for line in src.read_text().splitlines() if '"type": "sampling"' not in line]
    p = tmp_path / "dummy.jsonl"
    p.write_text("\n".join(kept) + "\n")
    row = run_row(store, import_one(store, p))
    assert (row.results, row.passed) == (40, 12)


def test_openai_evals_events_in_any_order(store, tmp_path):
    src = OAI / "fixture-match_baseline.jsonl"
    lines = src.read_text().splitlines()
    p = tmp_path / "shuffled.jsonl"
    p.write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")
    a, b = import_one(store, src), import_one(store, p)
    assert outcomes(store, a) == outcomes(store, b)


@pytest.mark.parametrize(
    ("edit", "location", "field"),
    [
        (lambda ls: ls.__setitem__(5, ls[5][:40]), "line 6", None),
        (
            lambda ls: ls.__setitem__(0, '{"spec": {"completion_fns": []}}'),
            "line 1",
            "spec.eval_name",
        ),
    ],
)
def test_openai_evals_bad_lines_are_named(store, tmp_path, edit, location, field):
    lines = (OAI / "fixture-match_baseline.jsonl").read_text().splitlines()
    edit(lines)
    p = tmp_path / "bad.jsonl"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        service.import_path(store, p, fmt="openai-evals")
    assert (info.value.location, info.value.field) == (location, field)
    assert list_runs(store) == []


def test_openai_evals_correct_of_wrong_type_is_named(store, tmp_path):
    lines = (OAI / "fixture-match_baseline.jsonl").read_text().splitlines()
    i = next(i for i, line in enumerate(lines) if '"type": "match"' in line)
    lines[i] = (
        lines[i]
        .replace('"correct": false', '"correct": "no"')
        .replace('"correct": true', '"correct": "yes"')
    )
    p = tmp_path / "bad.jsonl"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        service.import_path(store, p)
    assert info.value.location == f"line {i + 1}" and info.value.field == "data.correct"


# -- lm-evaluation-harness -----------------------------------------------------------------


def test_lm_eval_counts_match_results_json(store):
    outs = service.import_path(store, LM)
    assert len(outs) == 2
    by_model = {run_row(store, o.run_id).system.split()[0]: o.run_id for o in outs}
    for folder in (LM_BASE, LM_CAND):
        results = json.loads(next(folder.glob("results_*.json")).read_text())
        run = run_row(store, by_model[results["model_name"]])
        assert sorted(run.suites) == ["fixture_gen", "fixture_mc"]
        for task, key, crit in [
            ("fixture_mc", "acc,none", "acc"),
            ("fixture_mc", "acc_norm,none", "acc_norm"),
            ("fixture_gen", "exact_match,strict-match", "exact_match,strict-match"),
            ("fixture_gen", "exact_match,flexible-extract", "exact_match,flexible-extract"),
        ]:
            n = results["results"][task]["sample_len"]
            assert run.criteria[crit]["passed"] == round(results["results"][task][key] * n)
    base, cand = by_model["fixture-org/baseline-7b"], by_model["fixture-org/candidate-7b"]
    regressed, _ = flips(store, base, cand, suite="fixture_mc")
    assert regressed == ["math-009", "safe-009"]
    flips(store, base, cand, suite="fixture_gen")  # aligned on every case


def test_lm_eval_single_samples_file_and_pass_criterion(store):
    gen = next(LM_BASE.glob("samples_fixture_gen_*.jsonl"))
    run_id = import_one(
        store, gen, options=ImportOptions(pass_criterion="exact_match,flexible-extract")
    )
    row = run_row(store, run_id)
    assert row.suites == ["fixture_gen"] and row.system.startswith("fixture-org/baseline-7b")
    assert (row.cases, row.results, row.passed) == (40, 40, 23)
    case = store.conn.execute(
        "SELECT input, expected, attributes FROM cases WHERE suite = 'fixture_gen' AND case_key = 'geo-001'"
    ).fetchone()
    assert case[0].startswith("Question: What is the capital of France")
    assert case[1] == "Paris" and json.loads(case[2])["risk"] == "low"


def test_lm_eval_multiple_choice_output_names_the_choice(store):
    import_one(store, next(LM_BASE.glob("samples_fixture_mc_*.jsonl")))
    out, expected = store.conn.execute(
        "SELECT r.output, c.expected FROM results r JOIN cases c ON c.id = r.case_id WHERE c.case_key = 'geo-001'"
    ).fetchone()
    assert out.startswith("Paris (choice 2") and expected == "Paris (choice 2)"


def test_lm_eval_repeats_become_samples(store, tmp_path):
    src = next(LM_BASE.glob("samples_fixture_gen_*.jsonl"))
    folder = tmp_path / "m"
    folder.mkdir()
    out = folder / src.name
    with out.open("w") as fh:
        for raw in src.read_text().splitlines():
            obj = json.loads(raw)
            obj["resps"] = [[" Paris", " Lyon", " Paris"]]  # repeats: 3 in one line
            fh.write(json.dumps(obj) + "\n")
    run_id = import_one(store, out)
    row = run_row(store, run_id)
    assert (row.cases, row.results) == (40, 120)


def test_lm_eval_bad_lines_are_named(store, tmp_path):
    src = next(LM_BASE.glob("samples_fixture_mc_*.jsonl"))
    folder = tmp_path / "bad"
    shutil.copytree(LM_BASE, folder)
    target = folder / src.name
    lines = target.read_text().splitlines()
    obj = json.loads(lines[7])
    del obj["acc"]
    lines[7] = json.dumps(obj)
    target.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        service.import_path(store, folder)
    assert (info.value.location, info.value.field) == ("line 8", "acc")
    obj["doc_id"] = "eight"
    lines[7] = json.dumps(obj)
    target.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        service.import_path(store, folder)
    assert (info.value.location, info.value.field) == ("line 8", "doc_id")
    assert list_runs(store) == []


def test_empty_files_of_each_text_format_are_named(store, tmp_path):
    for fmt in ("promptfoo", "openai-evals", "lm-eval", "inspect"):
        p = tmp_path / f"empty-{fmt}.jsonl"
        p.write_bytes(b"")
        with pytest.raises(InputError) as info:
            service.import_path(store, p, fmt=fmt)
        assert str(p) in str(info.value)
    assert list_runs(store) == []
