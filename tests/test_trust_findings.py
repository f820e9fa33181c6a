"""What a findings file may do to a decision: unverified findings never move the gate toward a
milder action, triaged needs a class or a verdict, what is verified is what is imported, and
stores that hold the same findings agree (issue 24)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaltui import service, signing
from evaltui.cli import cli
from evaltui.compare import Comparison, Filter
from evaltui.errors import InputError
from evaltui.review import findings_files, triage, triage_state
from evaltui.review.taxonomy import default_taxonomy
from evaltui.store import Store

from .helpers import line, write_jsonl

TAX = default_taxonomy()
KEYGEN = shutil.which("ssh-keygen")
needs_keygen = pytest.mark.skipif(KEYGEN is None, reason="ssh-keygen is not installed")


def rule(id_: str, metric: str, action: str, *, max_: float = 0, **extra: str) -> str:
    more = "".join(f'{k} = "{v}"\n' for k, v in extra.items())
    return (f'[[rule]]\nid = "{id_}"\nmetric = "{metric}"\nmax = {max_}\naction = "{action}"\n'
            f'owner = "o"\nwhy = "w"\n{more}')  # fmt: skip


def policy(tmp_path: Path, *rules: str, head: str = "") -> Path:
    path = tmp_path / f"policy-{uuid.uuid4().hex[:6]}.toml"
    path.write_text('promise = "p"\n' + head + "\n" + "\n".join(rules))
    return path


def gate(db: Path, pol: Path) -> tuple[int, dict]:
    r = CliRunner().invoke(cli, ["--db", str(db), "gate", "1", "2", "--policy", str(pol),
                                 "--no-record", "--json"])  # fmt: skip
    assert r.exit_code in (0, 10, 11, 12, 13), r.output
    return r.exit_code, json.loads(r.stdout)


def cid(store: Store, key: str) -> int:
    return store.conn.execute("SELECT id FROM cases WHERE case_key = ?", (key,)).fetchone()[0]


def soon(minutes: float = 3) -> str:
    """A reviewer clock a little ahead of ours: inside the allowed skew."""
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def file_line(store: Store, key: str, reviewer: str, **fields: object) -> dict:
    """A findings-file line about the demo comparison, as another store would export it."""
    runs = dict(
        (r[0], {"name": r[1], "sha256": r[2]})
        for r in store.conn.execute("SELECT id, name, sha256 FROM runs")
    )
    suite = store.conn.execute("SELECT suite FROM cases WHERE case_key = ?", (key,)).fetchone()[0]
    return {"uid": uuid.uuid4().hex, "baseline": runs[1], "candidate": runs[2], "suite": suite,
            "case_key": key, "kind": "label", "reviewer": reviewer, "at": soon(), **fields}  # fmt: skip


def write_lines(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def regressions(db: Path) -> list[str]:
    with Comparison(db, 1, 2) as cmp:
        return cmp.untriaged_regressions()


# -- 1. unverified findings never move the gate toward a milder action ------------------------


def test_an_unsigned_line_in_a_reviewers_name_cannot_settle_their_open_finding(
    demo_store, db_path, tmp_path
):
    """kai (here) found a wrong source, not settled: an open finding, ROLLBACK. A file line
    claiming to be kai, later, settling it as accepted, leaves ROLLBACK."""
    b, c = 1, 2
    triage.label(demo_store, b, c, cid(demo_store, "billing-079"),
                 failure_class=TAX.get("wrong_source"), note="kai: cites the 2019 plan", reviewer="kai")  # fmt: skip
    pol = policy(tmp_path, rule("open", "open_findings", "rollback", for_owner="retrieval"))
    assert gate(db_path, pol)[0] == 13
    forged = write_lines(tmp_path / "kai.jsonl", [file_line(
        demo_store, "billing-079", "kai", **{"class": "wrong_source", "verdict": "accepted",
                                            "owner": "retrieval", "note": "fine, ship it"})])  # fmt: skip
    assert findings_files.import_file(demo_store, forged).signer is None
    code, record = gate(db_path, pol)
    assert code == 13 and record["decision"] == "rollback"
    (row,) = triage.list_findings(demo_store)
    # shown, as kai (unverified); kai's own word and note stand
    assert row.reviewers == ["kai", "kai (unverified)"]
    assert (row.state, row.verdict, row.note, row.note_by) == (
        "triaged",
        None,
        "kai: cites the 2019 plan",
        "kai",
    )


def test_a_file_labelling_every_regression_does_not_triage_them(demo_store, db_path, tmp_path):
    pol = policy(tmp_path, rule("triage-all", "untriaged_regressions", "repair"))
    before = regressions(db_path)
    assert len(before) > 10 and gate(db_path, pol)[0] == 11
    lines = [file_line(demo_store, k, name, **{"class": "format_violation", "verdict": v})
             for k in before for name, v in (("mo", "flaky"), ("tester", "grader_wrong"))]  # fmt: skip
    out = findings_files.import_file(demo_store, write_lines(tmp_path / "all.jsonl", lines))
    assert out.added == 2 * len(before) and out.signer is None
    code, record = gate(db_path, pol)
    assert code == 11 and record["untriaged_regressions"] == before
    assert record["findings"]["triaged_cases"] == 0
    with Comparison(db_path, 1, 2) as cmp:  # the app's progress agrees
        assert cmp.triage_progress()["regressed"] == (0, len(before))
        assert {r.triage_state for r in cmp.page(Filter(), limit=500) if r.triage_state} == {
            "unverified"
        }


def test_require_signed_findings_holds_no_rollback_back(demo_store, db_path, tmp_path):
    """The rollback rule must still fail: an unverified finding only ever adds the hold."""
    triage.label(demo_store, 1, 2, cid(demo_store, "refunds-002"),
                 failure_class=TAX.get("refusal_failure"), reviewer="lee")  # fmt: skip
    pol = policy(tmp_path, rule("open", "open_findings", "rollback"),
                 head="require_signed_findings = true\n")  # fmt: skip
    assert gate(db_path, pol)[0] == 13
    lines = [file_line(demo_store, "refunds-002", "lee", verdict="bad_case"),
             file_line(demo_store, "refunds-002", "zed", verdict="accepted")]  # fmt: skip
    findings_files.import_file(demo_store, write_lines(tmp_path / "f.jsonl", lines))
    code, record = gate(db_path, pol)
    results = {r["id"]: r["passed"] for r in record["rules"]}
    assert code == 13 and results == {"open": False, "signed-findings": False}


def test_an_unverified_finding_never_reopens_an_adjudicated_case(demo_store, db_path, tmp_path):
    case = cid(demo_store, "refunds-004")
    triage.label(demo_store, 1, 2, case, failure_class=TAX.get("unsafe_tool_action"), reviewer="a")
    triage.label(demo_store, 1, 2, case, failure_class=TAX.get("over_refusal"), reviewer="b")
    pol = policy(tmp_path, rule("agree", "disagreements", "hold"))
    assert gate(db_path, pol)[0] == 12
    triage.label(demo_store, 1, 2, case, failure_class=TAX.get("unsafe_tool_action"),
                 verdict="real_regression", adjudicate=True, reviewer="lead")  # fmt: skip
    assert gate(db_path, pol)[0] == 0
    reopen = [
        file_line(demo_store, "refunds-004", "b", **{"class": "scope_mismatch"}),
        file_line(demo_store, "refunds-004", "x", kind="adjudication", verdict="accepted"),
    ]
    out = findings_files.import_file(demo_store, write_lines(tmp_path / "r.jsonl", reopen))
    assert out.uncounted_adjudications == 1  # kept, said, never counted
    (row,) = triage.list_findings(demo_store)
    assert (row.state, row.class_key, row.verdict) == (
        "adjudicated",
        "unsafe_tool_action",
        "real_regression",
    )
    assert row.unverified == ["b (unverified)", "x (unverified)"]
    assert gate(db_path, pol)[0] == 0


@pytest.mark.parametrize(
    ("at", "message"),
    [
        (lambda: "3001-07-04T00:00:00+00:00", "ahead of this clock"),
        (lambda: soon(minutes=45), "45 minutes ahead of this clock"),
        (lambda: "9999-12-31T23:30:00-11:00", "outside the dates"),
    ],
    ids=["year-3001", "45-minutes", "past-the-calendar"],
)
def test_a_finding_dated_in_the_future_is_refused_with_file_line_and_field(
    demo_store, db_path, tmp_path, at, message
):
    before = demo_store.dump()
    lines = [file_line(demo_store, "refunds-004", "ok", verdict="flaky"),
             file_line(demo_store, "billing-079", "kai", verdict="accepted", at=at())]  # fmt: skip
    path = write_lines(tmp_path / "late.jsonl", lines)
    r = CliRunner().invoke(cli, ["--db", str(db_path), "findings", "import", str(path)])
    assert r.exit_code == 2
    assert f"{path}, line 2: field 'at'" in r.output and message in r.output
    assert demo_store.dump() == before


def test_the_skew_is_a_documented_limit(demo_store, tmp_path, monkeypatch):
    path = write_lines(tmp_path / "a.jsonl", [file_line(demo_store, "refunds-004", "q",
                                                        verdict="flaky", at=soon(minutes=8))])  # fmt: skip
    monkeypatch.setenv("EVALTUI_MAX_CLOCK_SKEW", "60")
    with pytest.raises(InputError, match="EVALTUI_MAX_CLOCK_SKEW"):
        findings_files.import_file(demo_store, path)
    monkeypatch.delenv("EVALTUI_MAX_CLOCK_SKEW")
    assert findings_files.import_file(demo_store, path).added == 1


def test_a_store_written_before_keeps_no_state_an_unverified_finding_decided(
    demo_store, db_path, tmp_path
):
    """A store whose case_triage an earlier evaltui wrote (an unverified verdict on top) is
    recomputed once before the gate reads it, and the event log says so."""
    case = cid(demo_store, "refunds-004")
    triage.label(demo_store, 1, 2, case, failure_class=TAX.get("unsafe_tool_action"), reviewer="a")
    findings_files.import_file(demo_store, write_lines(tmp_path / "f.jsonl", [
        file_line(demo_store, "refunds-004", "a", verdict="accepted")]))  # fmt: skip
    with demo_store.transaction():  # what the earlier fold wrote
        demo_store.conn.execute("UPDATE case_triage SET verdict = 'accepted'")
        demo_store.conn.execute("DELETE FROM settings WHERE key = ?", (triage.FOLD_SETTING,))
    pol = policy(tmp_path, rule("open", "open_findings", "rollback"))
    assert gate(db_path, pol)[0] == 13
    assert demo_store.events()[-1].action == "triage.refold"


# -- 2. triaged needs a failure class or a verdict ---------------------------------------------


def test_an_owner_or_a_note_alone_does_not_triage_a_regression(demo_store, db_path, tmp_path):
    keys = regressions(db_path)
    pol = policy(
        tmp_path, rule("triage-all", "untriaged_regressions", "repair", max_=len(keys) - 2)
    )
    first, second = (cid(demo_store, k) for k in keys[:2])
    triage.label(demo_store, 1, 2, first, owner="safety")
    triage.label(demo_store, 1, 2, second, note="looking")
    code, record = gate(db_path, pol)
    assert code == 11 and record["rules"][0]["value"] == len(keys)
    assert record["findings"]["triaged_cases"] == 0
    with Comparison(db_path, 1, 2) as cmp:
        assert cmp.triage_progress()["regressed"] == (0, len(keys))
        untriaged = [r.case_key for r in cmp.page(Filter(triage="untriaged"), limit=500)]
        assert keys[0] in untriaged and keys[1] in untriaged
        assert cmp.row(first).triage_state == "untriaged"
    states = {r.case_key: r.state for r in triage.list_findings(demo_store)}
    assert states == {keys[0]: "untriaged", keys[1]: "untriaged"}
    # a class on one, a verdict on the other: both triaged
    triage.label(demo_store, 1, 2, first, failure_class=TAX.get("over_refusal"))
    triage.label(demo_store, 1, 2, second, verdict="flaky")
    code, record = gate(db_path, pol)
    assert code == 0 and record["findings"]["triaged_cases"] == 2
    with Comparison(db_path, 1, 2) as cmp:
        assert cmp.triage_progress()["regressed"] == (2, len(keys))


def test_an_open_finding_for_an_owner_still_counts_without_a_class(demo_store, db_path, tmp_path):
    """Not triage, but still an open finding for that owner: the gate stays strict."""
    triage.label(demo_store, 1, 2, cid(demo_store, "refunds-004"), owner="safety")
    pol = policy(tmp_path, rule("safety", "open_findings", "rollback", for_owner="safety"))
    assert gate(db_path, pol)[0] == 13


# -- 3. what is verified is what is imported ---------------------------------------------------


def keypair(tmp_path: Path, name: str) -> tuple[Path, str]:
    key = tmp_path / f"{name.replace(' ', '_')}_key"
    subprocess.run([KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "k", "-f", str(key)], check=True)
    kind, blob = (tmp_path / f"{key.name}.pub").read_text().split(" ")[:2]
    return key, f"{kind} {blob}"


def signed_by(store: Store, tmp_path: Path, reviewer: str, **label: object) -> tuple[Path, Path]:
    """A file of one local finding by `reviewer`, exported and signed; and the allowed signers."""
    key, pub = keypair(tmp_path, reviewer)
    allowed = tmp_path / f"allowed-{uuid.uuid4().hex[:6]}"
    allowed.write_text(f'"{reviewer}" {pub}\n')
    triage.label(store, 1, 2, cid(store, "refunds-004"), reviewer=reviewer, **label)
    out = tmp_path / f"{reviewer.replace(' ', '_')}.jsonl"
    findings_files.export(store, out, sign_key=key)
    return out, allowed


@needs_keygen
def test_a_file_swapped_while_it_is_verified_imports_the_bytes_verified(
    demo_store, tmp_path, monkeypatch
):
    origin = tmp_path / "origin.db"
    with Store(origin) as s:
        service.load_demo(s)
        signed, allowed = signed_by(s, tmp_path, "ana", failure_class=TAX.get("over_refusal"))
    forged = tmp_path / "forged.jsonl"
    forged.write_text(signed.read_text().replace("over_refusal", "unsafe_tool_action"))
    real_run = subprocess.run
    swaps = []

    def swap_during_verify(argv, *a, **kw):  # the file is renamed over while ssh-keygen reads
        if "verify" in argv and not swaps:
            os.replace(forged, signed)
            swaps.append(argv)
        return real_run(argv, *a, **kw)

    monkeypatch.setattr(signing.subprocess, "run", swap_during_verify)
    out = findings_files.import_file(demo_store, signed, allowed_signers=allowed)
    assert swaps and out.signer == "ana" and out.added == 1
    (row,) = triage.list_findings(demo_store)
    assert (row.class_key, row.reviewers) == ("over_refusal", ["ana"])  # the signed bytes
    assert "unsafe_tool_action" in signed.read_text()  # the file on disk is the forged one now


def test_a_fifo_or_a_folder_as_findings_file_is_refused_not_waited_on(
    demo_store, db_path, tmp_path
):
    fifo = tmp_path / "findings.jsonl"
    os.mkfifo(fifo)
    r = subprocess.run([sys.executable, "-m", "evaltui", "--db", str(db_path), "findings", "import", str(fifo)],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 2 and "not a regular file" in r.stderr + r.stdout
    with pytest.raises(InputError, match="not a regular file"):
        findings_files.import_file(demo_store, tmp_path)


@needs_keygen
def test_a_huge_or_special_signature_is_refused_before_ssh_keygen_reads_it(
    demo_store, tmp_path, monkeypatch
):
    origin = tmp_path / "origin.db"
    with Store(origin) as s:
        service.load_demo(s)
        signed, allowed = signed_by(s, tmp_path, "ana", verdict="flaky")
    sig = signing.signature_path(signed)
    sig.unlink()
    with sig.open("wb") as fh:  # 300 MB, sparse: no disk used, nothing read
        fh.truncate(300 << 20)
    called = []
    monkeypatch.setattr(signing.subprocess, "run", lambda *a, **k: called.append(a))
    with pytest.raises(InputError, match="larger than 65,536 bytes") as info:
        findings_files.import_file(demo_store, signed, allowed_signers=allowed)
    assert info.value.path == str(sig) and called == []
    sig.unlink()
    os.mkfifo(sig)
    with pytest.raises(InputError, match="not a regular file"):
        findings_files.import_file(demo_store, signed, allowed_signers=allowed)


# -- 4. signatures that are missing or cannot be checked ---------------------------------------


@needs_keygen
def test_verify_of_a_signed_record_whose_signature_was_removed_fails(demo_store, db_path, tmp_path):
    key, pub = keypair(tmp_path, "rel")
    allowed = tmp_path / "allowed"
    allowed.write_text(f"rel@example.com {pub}\n")
    pol = policy(tmp_path, rule("reg", "regressions", "hold", max_=1000))
    run = CliRunner()
    rec, plain = tmp_path / "rec.json", tmp_path / "plain.json"
    r = run.invoke(
        cli, ["gate", "1", "2", "--policy", str(pol), "--out", str(rec), "--sign", str(key)]
    )
    assert r.exit_code == 0, r.output
    verify = ["verify", str(rec), "--allowed-signers", str(allowed)]
    r = run.invoke(cli, verify)
    assert r.exit_code == 0 and "signed by rel@example.com (verified)" in r.output
    signing.signature_path(rec).unlink()
    r = run.invoke(cli, verify)
    assert r.exit_code == 5 and "not signed" in r.output and "unchanged" not in r.output
    # a record never exported signed still verifies without one
    assert (
        run.invoke(cli, ["gate", "1", "2", "--policy", str(pol), "--out", str(plain)]).exit_code
        == 0
    )
    r = run.invoke(cli, ["verify", str(plain)])
    assert r.exit_code == 0 and "unchanged" in r.output


@needs_keygen
def test_a_signed_file_where_no_allowed_signers_is_set_is_said_signed_and_kept_unverified(
    demo_store, db_path, tmp_path
):
    origin = tmp_path / "origin.db"
    with Store(origin) as s:
        service.load_demo(s)
        signed, _ = signed_by(s, tmp_path, "ana", verdict="flaky")
    r = CliRunner().invoke(cli, ["findings", "import", str(signed)])
    assert r.exit_code == 0
    assert "signed, but not verified here (no allowed-signers file" in r.output
    assert "unsigned" not in r.output
    (row,) = triage.list_findings(demo_store)
    assert row.reviewers == ["ana (unverified)"] and row.state == "unverified"
    assert demo_store.events()[-1].context["signature"].startswith("signed, but not verified")


# -- 5. smaller ---------------------------------------------------------------------------------


@needs_keygen
def test_a_file_name_starting_with_a_dash_is_never_an_option(demo_store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    key, pub = keypair(tmp_path, "ana")
    allowed = Path("-allowed")
    allowed.write_text(f"ana {pub}\n")
    triage.label(demo_store, 1, 2, cid(demo_store, "refunds-004"), verdict="flaky", reviewer="ana")
    dashed = Path("-Y.jsonl")
    findings_files.export(demo_store, dashed, sign_key=Path(os.path.relpath(key)))
    assert Path("-Y.jsonl.sig").read_text().startswith("-----BEGIN SSH SIGNATURE")
    other = tmp_path / "other.db"
    with Store(other) as s:
        service.load_demo(s)
        out = findings_files.import_file(s, dashed, allowed_signers=allowed)
    assert out.signer == "ana"


@needs_keygen
def test_signature_errors_name_their_real_cause(demo_store, tmp_path):
    origin = tmp_path / "origin.db"
    with Store(origin) as s:
        service.load_demo(s)
        signed, allowed = signed_by(s, tmp_path, "ana smith", verdict="flaky")
    # a principal with a space, quoted: verified, and it speaks for "ana smith"
    assert findings_files.import_file(demo_store, signed, allowed_signers=allowed).signer == (
        "ana smith"
    )
    # unquoted: ssh-keygen cannot read the line; said, with the file and line
    bad = tmp_path / "unquoted"
    bad.write_text("# team\n" + allowed.read_text().replace('"', ""))
    with pytest.raises(InputError) as info:
        findings_files.import_file(demo_store, signed, allowed_signers=bad)
    assert f"{bad}, line 2" in info.value.detail and "double quotes" in info.value.detail
    assert "edited after it was signed" not in info.value.detail
    # a decision-record signature on a findings file: the namespace, not an edit
    key = tmp_path / "ana_smith_key"
    sig = signing.signature_path(signed)
    sig.unlink()
    subprocess.run([KEYGEN, "-Y", "sign", "-f", str(key), "-n", signing.DECISION, str(signed)],
                   check=True, capture_output=True)  # fmt: skip
    with pytest.raises(InputError) as info:
        findings_files.import_file(demo_store, signed, allowed_signers=allowed)
    assert "made for another purpose" in info.value.detail and "namespace" in info.value.detail
    # a real edit still says so
    sig.unlink()
    subprocess.run([KEYGEN, "-Y", "sign", "-f", str(key), "-n", signing.FINDINGS, str(signed)],
                   check=True, capture_output=True)  # fmt: skip
    signed.write_text(signed.read_text().replace("flaky", "accepted"))
    with pytest.raises(InputError, match="edited after it was signed"):
        findings_files.import_file(demo_store, signed, allowed_signers=allowed)


@pytest.mark.parametrize("name", ["", "   ", "\t", "lead (Unverified)"])
def test_a_blank_adjudicator_or_reviewer_name_is_refused(demo_store, db_path, name):
    before = demo_store.dump()
    r = CliRunner().invoke(cli, ["findings", "adjudicators", "--add", name])
    assert r.exit_code == 2 and "adjudicator name" in r.output
    with pytest.raises(InputError, match="reviewer name"):
        triage.label(demo_store, 1, 2, cid(demo_store, "refunds-004"), verdict="flaky",
                     reviewer=name or " ")  # fmt: skip
    assert demo_store.dump() == before


def test_findings_export_escapes_c1_bidi_and_invisible_characters(demo_store, tmp_path):
    hostile = "ok\x9b31mred\x85 \u202egnp.exe \u200bzw\u2066iso\u2069 \x1b]52;c;eA==\x07 é"
    triage.label(demo_store, 1, 2, cid(demo_store, "refunds-004"), verdict="flaky", note=hostile,
                 owner="own\x9d\u202d", reviewer="r\u200fx")  # fmt: skip
    out = tmp_path / "x.jsonl"
    findings_files.export(demo_store, out)
    raw = out.read_bytes().decode("utf-8")
    for ch in "\x9b\x85\x9d\u202e\u202d\u200b\u200f\u2066\u2069\x1b\x07":
        assert ch not in raw
    for esc in ("\\u009b", "\\u0085", "\\u202e", "\\u200b", "\\u2066", "\\u001b", "\\u0007"):
        assert esc in raw
    assert "é" in raw  # printable text stays itself
    (obj,) = [json.loads(x) for x in raw.splitlines()]
    assert (obj["note"], obj["owner"], obj["reviewer"]) == (hostile, "own\x9d\u202d", "r\u200fx")
    other = tmp_path / "o.db"
    with Store(other) as s:  # and it imports as the same text
        service.load_demo(s)
        findings_files.import_file(s, out)
        assert s.conn.execute("SELECT note, owner FROM findings").fetchone() == (
            hostile,
            "own\x9d\u202d",
        )


@needs_keygen
def test_a_relabel_on_a_machine_whose_clock_is_behind_wins_in_every_store(tmp_path, monkeypatch):
    key, pub = keypair(tmp_path, "ana")
    allowed = tmp_path / "allowed"
    allowed.write_text(f"ana {pub}\n")
    laptop, desktop = tmp_path / "laptop.db", tmp_path / "desktop.db"
    for db in (laptop, desktop):
        with Store(db) as s:
            service.load_demo(s)
    with Store(laptop) as s:
        triage.label(s, 1, 2, cid(s, "refunds-004"), failure_class=TAX.get("wrong_source"),
                     reviewer="ana")  # fmt: skip
        findings_files.export(s, tmp_path / "laptop.jsonl", sign_key=key)
    behind = (datetime.now(UTC) - timedelta(hours=2)).isoformat(timespec="microseconds")
    monkeypatch.setattr(triage_state, "now_iso", lambda: behind)  # the desktop's clock
    with Store(desktop) as s:
        findings_files.import_file(s, tmp_path / "laptop.jsonl", allowed_signers=allowed)
        triage.label(s, 1, 2, cid(s, "refunds-004"), failure_class=TAX.get("over_refusal"),
                     reviewer="ana")  # fmt: skip
        findings_files.export(s, tmp_path / "desktop.jsonl", sign_key=key)
    monkeypatch.undo()
    with Store(laptop) as s:
        findings_files.import_file(s, tmp_path / "desktop.jsonl", allowed_signers=allowed)
    states = []
    for db in (laptop, desktop):
        with Store(db) as s:
            states.append(s.conn.execute(
                "SELECT state, class, reviewers FROM case_triage").fetchall())  # fmt: skip
    assert states[0] == states[1] == [("triaged", "over_refusal", '["ana"]')]


@needs_keygen
def test_an_adjudication_one_store_does_not_count_is_kept_and_said(demo_store, db_path, tmp_path):
    case = cid(demo_store, "refunds-004")  # a disagreement here, where boss adjudicates
    triage.label(demo_store, 1, 2, case, failure_class=TAX.get("wrong_source"), reviewer="a")
    triage.label(demo_store, 1, 2, case, failure_class=TAX.get("over_refusal"), reviewer="b")
    origin = tmp_path / "origin.db"
    with Store(origin) as s:  # lists no adjudicators: lee's adjudication settles the case there
        service.load_demo(s)
        case = cid(s, "refunds-004")
        triage.label(s, 1, 2, case, failure_class=TAX.get("wrong_source"), reviewer="a")
        triage.label(s, 1, 2, case, failure_class=TAX.get("over_refusal"), reviewer="b")
        signed, allowed = signed_by(s, tmp_path, "lee", failure_class=TAX.get("over_refusal"),
                                    adjudicate=True)  # fmt: skip
        assert triage.list_findings(s)[0].state == "adjudicated"
    run = CliRunner()
    assert run.invoke(cli, ["findings", "adjudicators", "--add", "boss"]).exit_code == 0
    r = run.invoke(cli, ["findings", "import", str(signed), "--allowed-signers", str(allowed)])
    assert r.exit_code == 0, r.output
    assert "1 adjudications kept but not counted in this store" in r.output
    assert "lee (not a listed adjudicator here)" in r.output
    (row,) = triage.list_findings(demo_store)
    assert row.state == "disagreement" and row.uncounted_adjudications == 1
    r = run.invoke(cli, ["findings", "list"])
    assert "1 cases hold an adjudication this store keeps but does not count" in r.output
    # listing lee makes it count, here too: the states agree again
    r = run.invoke(cli, ["findings", "adjudicators", "--add", "lee"])
    assert "1 cases changed state" in r.output
    assert triage.list_findings(demo_store)[0].state == "adjudicated"


# -- the property: any order, the same states and decision --------------------------------------

REVIEWERS = ["ana", "bo", "lead"]
CLASSES = ["unsafe_tool_action", "format_violation", None]
VERDICTS = ["real_regression", "accepted", None]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A store with two runs and three cases, and a key per reviewer with its allowed signers."""
    if KEYGEN is None:
        pytest.skip("ssh-keygen is not installed")
    tmp = tmp_path_factory.mktemp("world")
    db = tmp / "tpl.db"
    with Store(db) as store:
        for name, verdicts in (("base", "ppp"), ("cand", "fff")):
            rows = [
                line(k, "pass" if v == "p" else "fail")
                for k, v in zip("xyz", verdicts, strict=True)
            ]
            service.import_path(
                store, write_jsonl(tmp / f"{name}.jsonl", rows, header={"name": name})
            )
        triage.set_adjudicators(store, ["lead"])
    keys, allowed = {}, tmp / "allowed"
    lines = []
    for r in REVIEWERS:
        keys[r], pub = keypair(tmp, r)
        lines.append(f"{r} {pub}")
    allowed.write_text("\n".join(lines) + "\n")
    return db, keys, allowed


finding = st.fixed_dictionaries({
    "reviewer": st.sampled_from(REVIEWERS),
    "signed": st.booleans(),  # unsigned: an unverified opinion
    "kind": st.sampled_from(["label", "label", "adjudication"]),
    "case": st.sampled_from("xyz"),
    "class": st.sampled_from(CLASSES),
    "verdict": st.sampled_from(VERDICTS),
    "minute": st.integers(0, 5),  # clocks collide and run backwards across reviewers
    "skew": st.sampled_from(["+00:00", "+02:00", "-05:00"]),
})  # fmt: skip


def _files(found: list[dict], cut: int) -> list[tuple[list[dict], str | None]]:
    """The findings as files: per signer (or unsigned), each split in two at `cut`."""
    groups: dict[str | None, list[dict]] = {}
    for i, f in enumerate(found):
        obj = {"uid": f"{i:032x}", "baseline": {"name": "base", "sha256": ""},
               "candidate": {"name": "cand", "sha256": ""}, "suite": "s", "case_key": f["case"],
               "kind": f["kind"], "reviewer": f["reviewer"],
               "at": f"2026-11-30T10:0{f['minute']}:00{f['skew']}", "class": f["class"],
               "verdict": f["verdict"]}  # fmt: skip
        groups.setdefault(f["reviewer"] if f["signed"] else None, []).append(obj)
    out = []
    for signer, objs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        out += [(objs[:cut], signer), (objs[cut:], signer)]
    return [(objs, s) for objs, s in out if objs]


def _merge(world, tmp: Path, files: list[tuple[list[dict], str | None]], name: str):
    db, keys, allowed = world
    path = tmp / f"{name}.db"
    shutil.copy(db, path)
    with Store(path) as store:
        for n, (objs, signer) in enumerate(files):
            f = write_lines(tmp / f"{name}-{n}.jsonl", objs)
            if signer:
                signing.sign(f, keys[signer], signing.FINDINGS)
            findings_files.import_file(store, f, allowed_signers=allowed if signer else None)
        state = store.conn.execute(
            "SELECT case_id, state, class, owner, verdict, reviewers, classes, steps "
            "FROM case_triage ORDER BY case_id"
        ).fetchall()
        listed = [r.model_dump(exclude={"updated_at"}) for r in triage.list_findings(store)]
    pol = policy(tmp, rule("u", "findings_of_class", "rollback", **{"class": "unsafe_tool_action"}),
                 rule("d", "disagreements", "hold"), rule("o", "open_findings", "repair"),
                 rule("t", "untriaged_regressions", "narrow_rollout"))  # fmt: skip
    return state, listed, gate(path, pol)[0]


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(found=st.lists(finding, min_size=1, max_size=10), data=st.data())
def test_two_stores_importing_the_same_findings_in_any_order_agree(
    world, tmp_path_factory, found, data
):
    tmp = tmp_path_factory.mktemp("conv")
    cut = data.draw(st.integers(0, 3))
    files = _files(found, cut)
    order = data.draw(st.permutations(files))
    assert _merge(world, tmp, files, "one") == _merge(world, tmp, list(order), "two")


def test_the_merge_the_property_uses_counts_signed_adjudications(world, tmp_path):
    """The property above is not vacuous: signed labels disagree, a signed adjudication by the
    listed adjudicator settles, an unsigned one and a non-adjudicator's do not."""
    found = [
        {"reviewer": "ana", "signed": True, "kind": "label", "case": "x",
         "class": "unsafe_tool_action", "verdict": None, "minute": 0, "skew": "+00:00"},
        {"reviewer": "bo", "signed": True, "kind": "label", "case": "x",
         "class": "format_violation", "verdict": None, "minute": 1, "skew": "+00:00"},
        {"reviewer": "lead", "signed": True, "kind": "adjudication", "case": "x",
         "class": "format_violation", "verdict": "accepted", "minute": 2, "skew": "+00:00"},
        {"reviewer": "bo", "signed": True, "kind": "adjudication", "case": "y",
         "class": "format_violation", "verdict": None, "minute": 2, "skew": "+00:00"},
        {"reviewer": "lead", "signed": False, "kind": "adjudication", "case": "z",
         "class": "format_violation", "verdict": None, "minute": 2, "skew": "+00:00"},
    ]  # fmt: skip
    _state, listed, code = _merge(world, tmp_path, _files(found, 1), "fixed")
    assert [(r["case_key"], r["state"], r["uncounted_adjudications"]) for r in listed] == [
        ("x", "adjudicated", 0), ("y", "untriaged", 1), ("z", "unverified", 1)]  # fmt: skip
    # y: bo's verified word, unsettled (no verdict), is an open finding whether it counts as
    # an adjudication or not (repair); z: an unverified one opens nothing
    assert code == 11
