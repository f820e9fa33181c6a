"""Signed judgment files (#27): `calibrate export --sign KEY` writes FILE.sig (namespace
evaltui-judgments) over the signer's own judgments; `calibrate import` verifies it against
the allowed signers and refuses, in one line naming the file and field, a file edited after
signing, one it cannot verify, or a row naming anyone but the signer; the store unchanged."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaltui import service, signing
from evaltui.cli import cli
from evaltui.review.calibration import judgments
from evaltui.store import Store

KEYGEN = shutil.which("ssh-keygen")
pytestmark = pytest.mark.skipif(KEYGEN is None, reason="ssh-keygen is not installed")
CAND = "cand-2026-11-20"


def run(db: Path, *args: str, reviewer: str = "tester"):
    return CliRunner().invoke(
        cli, ["--db", str(db), "--reviewer", reviewer, *args], catch_exceptions=False
    )


def keypair(tmp_path: Path, name: str) -> tuple[Path, str]:
    key = tmp_path / f"{name}_key"
    subprocess.run([KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", "k", "-f", str(key)], check=True)
    kind, blob = (tmp_path / f"{key.name}.pub").read_text().split(" ")[:2]
    return key, f"{kind} {blob}"


@pytest.fixture
def two_stores(demo_store, db_path, tmp_path):
    """Ana's store (the demo with two of her judgments and one of Bo's) and a fresh one."""
    for case, verdict in (("billing-001", "fail"), ("billing-002", "pass")):
        res = run(db_path, "calibrate", "label", CAND, case, "--criterion", "grounded",
                  "--epoch", "0", "--verdict", verdict, reviewer="ana")  # fmt: skip
        assert res.exit_code == 0, res.output
    run(db_path, "calibrate", "label", CAND, "billing-003", "--criterion", "grounded",
        "--epoch", "0", "--verdict", "pass", reviewer="bo")  # fmt: skip
    other = tmp_path / "other.db"
    with Store(other) as store:
        service.load_demo(store)
    key, pub = keypair(tmp_path, "ana")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"ana {pub}\n")
    return db_path, other, key, allowed


def counts(db: Path) -> dict:
    with Store(db) as store:
        return judgments.judged_counts(store.conn)


def test_a_signed_file_holds_the_signers_judgments_and_imports_verified(two_stores, tmp_path):
    db, other, key, allowed = two_stores
    out = tmp_path / "ana.jsonl"
    res = run(db, "calibrate", "export", str(out), "--sign", str(key), reviewer="ana")
    assert res.exit_code == 0 and "exported 2 judgments" in res.output and ".sig" in res.output
    assert signing.signature_path(out).exists()
    assert {json.loads(x)["reviewer"] for x in out.read_text().splitlines()} == {"ana"}
    res = run(other, "calibrate", "import", str(out), "--allowed-signers", str(allowed), "--json")
    assert json.loads(res.output) == {"added": 2, "already_there": 0, "signer": "ana"}
    assert counts(other) == {(2, "grounded"): 2}
    with Store(other) as store:
        (event,) = [e for e in store.events(None) if e.action == "judgment.import"]
    assert event.after == {"judgments": 2, "already_there": 0, "signer": "ana"}
    again = run(other, "calibrate", "import", str(out), "--allowed-signers", str(allowed))
    assert "imported 0 judgments (2 already there), signed by ana (verified)" in again.output


def test_a_tampered_signed_file_is_refused_naming_the_file_and_field(two_stores, tmp_path):
    db, other, key, allowed = two_stores
    out = tmp_path / "ana.jsonl"
    run(db, "calibrate", "export", str(out), "--sign", str(key), reviewer="ana")
    out.write_text(out.read_text().replace('"verdict": "fail"', '"verdict": "pass"'))
    res = run(other, "calibrate", "import", str(out), "--allowed-signers", str(allowed))
    assert res.exit_code == 2
    (line,) = res.output.splitlines()
    assert line.startswith("Error: ") and str(out) in line and "signature" in line
    assert "does not match the file (edited after it was signed?)" in line
    assert counts(other) == {}
    # signed, but nothing here to verify it against: refused too, never imported unchecked
    res = run(other, "calibrate", "import", str(out))
    assert res.exit_code == 2 and "no allowed-signers file" in res.output and str(out) in res.output
    assert counts(other) == {}
    # --allowed-signers asks for a signature: an unsigned file is refused
    signing.signature_path(out).unlink()
    res = run(other, "calibrate", "import", str(out), "--allowed-signers", str(allowed))
    assert res.exit_code == 2 and "no signature ana.jsonl.sig next to it" in res.output
    assert counts(other) == {}


def test_a_signed_file_speaks_only_for_its_signer(two_stores, tmp_path):
    db, other, key, allowed = two_stores
    everyone = tmp_path / "all.jsonl"
    assert run(db, "calibrate", "export", str(everyone)).exit_code == 0  # ana's and bo's
    signing.sign(everyone, key, signing.JUDGMENTS)  # ana signs Bo's judgment too
    res = run(other, "calibrate", "import", str(everyone), "--allowed-signers", str(allowed))
    assert res.exit_code == 2
    assert "line 3: field 'reviewer': bo did not sign this file (ana did)" in res.output
    assert counts(other) == {}
