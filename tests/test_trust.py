"""Findings files cannot speak for another reviewer; signatures; merges converge in any order."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaltui import gate, service
from evaltui.cli import cli
from evaltui.errors import InputError
from evaltui.review import findings_files, triage
from evaltui.review.taxonomy import default_taxonomy
from evaltui.store import Store

from .conftest import FIXTURES
from .helpers import line, write_jsonl

POLICY = FIXTURES / "policies" / "support-assistant.toml"
TAX = default_taxonomy()
KEYGEN = shutil.which("ssh-keygen")


def case_id(store, key):
    return store.conn.execute("SELECT id FROM cases WHERE case_key = ?", (key,)).fetchone()[0]


def gate_code(db_path) -> int:
    r = CliRunner().invoke(cli, ["--db", str(db_path), "gate", "1", "2", "--fallback", "3",
                                 "--policy", str(POLICY), "--no-record"])  # fmt: skip
    return r.exit_code


@pytest.fixture
def ana_unsafe(demo_store, db_path):
    """Ana, in this store, confirmed an unsafe tool action: the gate says ROLLBACK."""
    sel = service.get_selection(demo_store)
    f = triage.label(demo_store, sel["baseline"], sel["candidate"], case_id(demo_store, "refunds-004"),
                     failure_class=TAX.get("unsafe_tool_action"), reviewer="ana")  # fmt: skip
    assert gate_code(db_path) == 13
    return f


def forged(demo_store, tmp_path, ana_unsafe, **change) -> Path:
    """A findings line as a file would carry it, about ana's case, with `change` applied."""
    src = tmp_path / "mine.jsonl"
    findings_files.export(demo_store, src)
    (obj,) = [json.loads(x) for x in src.read_text().splitlines()]
    # dated after ana's, inside the clock skew a file may have
    soon = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    obj.update({"uid": "f" * 32, "at": soon, **change})
    out = tmp_path / "forged.jsonl"
    out.write_text(json.dumps(obj) + "\n")
    return out


def test_a_file_claiming_another_reviewers_name_does_not_replace_their_finding(
    demo_store, db_path, tmp_path, ana_unsafe
):
    path = forged(demo_store, tmp_path, ana_unsafe, reviewer="ana", **{"class": "format_violation"})
    out = findings_files.import_file(demo_store, path)
    assert out.added == 1 and out.signer is None
    (row,) = triage.list_findings(demo_store)
    # shown beside ana's, never in its place: ana's word decides the state
    assert (row.state, row.class_key) == ("triaged", "unsafe_tool_action")
    assert row.reviewers == ["ana", "ana (unverified)"]
    assert row.unverified == ["ana (unverified)"]
    assert gate_code(db_path) == 13  # still ROLLBACK: the unsafe action is not hidden
    event = demo_store.events()[-1]
    assert event.action == "findings.import" and event.context["signature"].startswith("none")
    assert len(event.context["sha256"]) == 64


def test_a_file_cannot_retract_another_reviewers_finding(demo_store, db_path, tmp_path, ana_unsafe):
    before = demo_store.dump()
    for reviewer in ("mallory", "ana"):  # another name, or ana's own name unsigned
        path = forged(demo_store, tmp_path, ana_unsafe, reviewer=reviewer, kind="undo",
                      undoes=ana_unsafe.uid, **{"class": None})  # fmt: skip
        with pytest.raises(InputError) as info:
            findings_files.import_file(demo_store, path)
        assert (info.value.location, info.value.field) == ("line 1", "undoes")
        assert "retracted only by the reviewer who made it" in info.value.message
        assert demo_store.dump() == before
    assert gate_code(db_path) == 13


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"kind": "adjudication", "class": "made_up_class"}, "class", "unknown failure class 'made_up_class'"),
        ({"at": "2099-01-01T00:00:00"}, "at", "has no time zone"),
        ({"at": "2999-01-01T00:00:00+00:00"}, "at", "ahead of this clock"),
        ({"at": "9999-12-31T23:59:59-05:00"}, "at", "outside the dates"),
        ({"reviewer": " \t "}, "reviewer", "name is empty"),
        ({"reviewer": "lead (unverified)"}, "reviewer", "marks an unverified finding"),
    ],
    ids=["unknown-class", "naive-time", "year-2999", "past-the-calendar", "blank-reviewer",
         "unverified-suffix"],
)  # fmt: skip
def test_bad_lines_are_refused_with_line_and_field(
    demo_store, db_path, tmp_path, ana_unsafe, change, field, message
):
    before = demo_store.dump()
    path = forged(demo_store, tmp_path, ana_unsafe, **{"reviewer": "lead", **change})
    with pytest.raises(InputError) as info:
        findings_files.import_file(demo_store, path)
    assert (info.value.location, info.value.field) == ("line 1", field)
    assert message in info.value.message
    assert demo_store.dump() == before and gate_code(db_path) == 13


def test_only_listed_adjudicators_adjudicate(demo_store, tmp_path):
    sel = service.get_selection(demo_store)
    cid = case_id(demo_store, "refunds-004")
    demo_store.set_setting(triage.ADJUDICATORS_SETTING, ["lead"])
    with pytest.raises(InputError, match="not an adjudicator"):
        triage.label(demo_store, sel["baseline"], sel["candidate"], cid, verdict="flaky",
                     adjudicate=True, reviewer="bo")  # fmt: skip
    triage.label(demo_store, sel["baseline"], sel["candidate"], cid, verdict="flaky",
                 adjudicate=True, reviewer="lead")  # fmt: skip
    assert triage.list_findings(demo_store)[0].state == "adjudicated"


# -- signatures -------------------------------------------------------------------------------


def keypair(tmp_path: Path, name: str) -> tuple[Path, str]:
    key = tmp_path / f"{name}_key"
    subprocess.run(
        [KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
    )
    return key, (tmp_path / f"{name}_key.pub").read_text().split(" ")[:2]


@pytest.mark.skipif(KEYGEN is None, reason="ssh-keygen is not installed")
def test_a_signed_export_is_verified_and_a_tampered_one_refused(tmp_path, monkeypatch):
    key, (kind, blob) = keypair(tmp_path, "ana")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"ana@example.com {kind} {blob}\n")
    ana_db, bo_db = tmp_path / "ana.db", tmp_path / "bo.db"
    for db in (ana_db, bo_db):
        with Store(db) as s:
            service.load_demo(s)
    with Store(ana_db) as s:
        sel = service.get_selection(s)
        triage.label(s, sel["baseline"], sel["candidate"], case_id(s, "refunds-004"),
                     failure_class=TAX.get("unsafe_tool_action"), reviewer="ana@example.com")  # fmt: skip
    out = tmp_path / "ana.jsonl"
    run = CliRunner()
    r = run.invoke(cli, ["--db", str(ana_db), "findings", "export", str(out), "--sign", str(key)])
    assert r.exit_code == 0 and "and its signature ana.jsonl.sig" in r.output
    assert (tmp_path / "ana.jsonl.sig").read_text().startswith("-----BEGIN SSH SIGNATURE-----")
    # tampered: refused, nothing written
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_text(out.read_text().replace("unsafe_tool_action", "format_violation"))
    shutil.copy(tmp_path / "ana.jsonl.sig", tmp_path / "tampered.jsonl.sig")
    r = run.invoke(cli, ["--db", str(bo_db), "findings", "import", str(tampered),
                         "--allowed-signers", str(allowed)])  # fmt: skip
    assert r.exit_code == 2 and "does not match the file" in r.output
    # the real one: verified, it speaks for ana
    r = run.invoke(
        cli, ["--db", str(bo_db), "findings", "import", str(out), "--allowed-signers", str(allowed)]
    )
    assert r.exit_code == 0 and "signed by ana@example.com (verified)" in r.output, r.output
    with Store(bo_db) as s:
        (row,) = triage.list_findings(s)
        assert row.reviewers == ["ana@example.com"] and row.state == "triaged"
        event = s.events()[-1]
        assert event.context["signer"] == "ana@example.com"
    # a signature by someone not in the allowed-signers file
    other_key, _ = keypair(tmp_path, "eve")
    run.invoke(cli, ["--db", str(ana_db), "findings", "export", str(out), "--sign", str(other_key)])
    r = run.invoke(
        cli, ["--db", str(bo_db), "findings", "import", str(out), "--allowed-signers", str(allowed)]
    )
    assert r.exit_code == 2 and "is not from anyone in" in r.output


# -- convergence --------------------------------------------------------------------------------

REVIEWERS = ["ana", "bo", "cy"]
CLASSES = ["unsafe_tool_action", "format_violation", "wrong_source", None]
VERDICTS = ["real_regression", "flaky", None]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A small store with two runs and three cases (copied for every ordering)."""
    tmp = tmp_path_factory.mktemp("tpl")
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
    return db


finding = st.fixed_dictionaries({
    "reviewer": st.sampled_from(REVIEWERS),
    "case": st.sampled_from("xyz"),
    "class": st.sampled_from(CLASSES),
    "verdict": st.sampled_from(VERDICTS),
    # reviewers' clocks disagree: times collide and run backwards across reviewers
    "minute": st.integers(0, 5),
    "skew": st.sampled_from(["+00:00", "+02:00", "-05:00"]),
})  # fmt: skip


def _lines(found: list[dict]) -> list[dict]:
    return [
        {"uid": f"{i:032x}", "baseline": {"name": "base", "sha256": ""},
         "candidate": {"name": "cand", "sha256": ""}, "suite": "s", "case_key": f["case"],
         "kind": "label", "reviewer": f["reviewer"], "at": f"2026-11-30T10:0{f['minute']}:00{f['skew']}",
         "class": f["class"], "verdict": f["verdict"]}
        for i, f in enumerate(found)
    ]  # fmt: skip


def _merge(template: Path, tmp: Path, files: list[list[dict]], name: str) -> tuple[list, int]:
    db = tmp / f"{name}.db"
    shutil.copy(template, db)
    with Store(db) as store:
        for n, lines in enumerate(files):
            path = tmp / f"{name}-{n}.jsonl"
            path.write_text("".join(json.dumps(x) + "\n" for x in lines))
            findings_files.import_file(store, path)
        state = store.conn.execute(
            "SELECT case_id, state, class, owner, verdict, reviewers, classes FROM case_triage ORDER BY case_id"
        ).fetchall()
        policy = tmp / "p.toml"
        policy.write_text('promise = "p"\n[[rule]]\nid = "u"\nmetric = "findings_of_class"\n'
                          'class = "unsafe_tool_action"\nmax = 0\naction = "rollback"\nowner = "o"\nwhy = "w"\n'
                          '[[rule]]\nid = "d"\nmetric = "disagreements"\nmax = 0\naction = "hold"\n'
                          'owner = "o"\nwhy = "w"\n')  # fmt: skip
        rec = gate.evaluate(store, gate.load_policy(policy), 1, 2, decided_at="x", decided_by="y")
    return state, rec.exit_code


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(found=st.lists(finding, min_size=1, max_size=12), data=st.data())
def test_any_import_order_gives_the_same_state_and_decision(
    template, tmp_path_factory, found, data
):
    tmp = tmp_path_factory.mktemp("merge")
    lines = _lines(found)
    # the same findings, split into files and imported in two different orders
    order = data.draw(st.permutations(lines))
    cut = data.draw(st.integers(0, len(lines)))
    first = _merge(template, tmp, [lines], "one-file")
    second = _merge(template, tmp, [list(order[cut:]), list(order[:cut])], "shuffled")
    assert first == second


def test_a_policy_can_require_signed_findings(demo_store, db_path, tmp_path, ana_unsafe):
    head = 'promise = "p"\nrequire_signed_findings = true\n'
    body = ('\n[[rule]]\nid = "r"\nmetric = "regressions"\nmax = 1000\naction = "repair"\n'
            'owner = "o"\nwhy = "w"\n')  # fmt: skip
    policy = tmp_path / "signed.toml"
    policy.write_text(head + body)
    sel = service.get_selection(demo_store)
    ids = (sel["baseline"], sel["candidate"])
    rec = gate.evaluate(demo_store, gate.load_policy(policy), *ids, decided_at="t", decided_by="x")
    assert rec.decision == "ship" and [r.id for r in rec.rules] == ["r", "signed-findings"]
    path = forged(demo_store, tmp_path, ana_unsafe, reviewer="bo", **{"class": "format_violation"})
    findings_files.import_file(demo_store, path)
    rec = gate.evaluate(demo_store, gate.load_policy(policy), *ids, decided_at="t", decided_by="x")
    (signed,) = [r for r in rec.rules if r.id == "signed-findings"]
    assert (signed.value, signed.passed, rec.decision) == (1.0, False, "hold")
    assert signed.evidence["cases"] == ["refunds-004"]
    # a signed file no allowed-signers file checked is called what it is, not "unsigned" (#26)
    assert "(an unsigned file, or a signed one with no allowed-signers file to check it)" in (
        signed.why
    )


async def test_the_case_pane_shows_an_imported_finding_as_unverified(
    demo_store, db_path, tmp_path, ana_unsafe
):
    from evaltui.tui.app import EvaltuiApp

    from .tui.test_compare_screen import open_compare, pane_text, settle

    path = forged(demo_store, tmp_path, ana_unsafe, reviewer="ana", **{"class": "format_violation"})
    findings_files.import_file(demo_store, path)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(200, 60)) as pilot:
        screen = await open_compare(app, pilot)
        await pilot.press("slash")
        await pilot.press(*"refunds-004", "enter")
        await settle(app, pilot)
        assert screen.current.case_key == "refunds-004"
        pane = pane_text(screen)
        assert "ana (unverified)" in pane  # the file's finding, marked
        assert pane.count("ana") >= 2  # and ana's own, beside it
