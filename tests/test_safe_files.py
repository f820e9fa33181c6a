"""Safe files: exports never follow a planted link and never leave half a file; small inputs
people write are regular files of bounded size; write failures say which."""

from __future__ import annotations

import errno
import os

import pytest
from click.testing import CliRunner

from evaltui import files
from evaltui.cli import cli
from evaltui.errors import InputError
from evaltui.gate import load_policy

from .conftest import FIXTURES

POLICY = FIXTURES / "policies" / "support-assistant.toml"


def test_an_export_never_follows_a_planted_symlink(demo_store, db_path, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "d.json"
    for planted in (tmp_path / "d.json.tmp", tmp_path / "f.jsonl.tmp"):
        planted.symlink_to(victim)  # where the old writer put its temp file
    run = CliRunner()
    r = run.invoke(
        cli, ["--db", str(db_path), "gate", "1", "2", "--policy", str(POLICY), "--out", str(out)]
    )
    assert r.exit_code == 12 and out.read_text().startswith("{")
    r = run.invoke(cli, ["--db", str(db_path), "findings", "export", str(tmp_path / "f.jsonl")])
    assert r.exit_code == 0
    assert victim.read_text() == "precious"
    assert oct(out.stat().st_mode & 0o777) == oct(0o644)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


@pytest.mark.parametrize("kind", ["fifo", "device", "directory", "too-large"])
def test_a_policy_that_is_not_a_small_regular_file_is_refused(tmp_path, kind):
    if kind == "fifo":
        path = tmp_path / "policy.toml"
        os.mkfifo(path)
        message = "not a regular file"
    elif kind == "device":
        path, message = tmp_path / "zero", "not a regular file"
        path.symlink_to("/dev/zero")
    elif kind == "directory":
        path, message = tmp_path, "not a regular file"
    else:
        path, message = tmp_path / "big.toml", "larger than"
        path.write_text('promise = "p"\n' + "# padding\n" * 600_000)
    with pytest.raises(InputError) as info:
        load_policy(path)  # returns at once: never blocks on a pipe or reads /dev/zero
    assert message in info.value.message and str(path) in str(info.value)


def test_write_failures_say_which_and_leave_nothing(tmp_path, monkeypatch):
    target = tmp_path / "d.md"

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(InputError, match="the disk is full"):
        files.write_atomic(target, "x")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    with pytest.raises(InputError, match="does not exist"):
        files.write_atomic(tmp_path / "missing" / "d.md", "x")
    files.write_atomic(target, "ok")
    assert target.read_text() == "ok"
