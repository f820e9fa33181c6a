"""A path given for a file the CLI reads that is not a regular file (a folder, a FIFO, nothing
there) is one line, `Error: ...`, naming the file (and the option), exit 2; nothing is read
from it (a FIFO never blocks) and the store is unchanged."""

from __future__ import annotations

import hashlib
import os

import pytest
from click.testing import CliRunner

from evaltui.cli import cli

from .conftest import FIXTURES

POLICY = str(FIXTURES / "policies" / "support-assistant.toml")

# (what the command reads, the command line with {} where the path goes, the option named)
READERS = [
    ("policy", ["gate", "1", "2", "--policy", "{}"], "--policy"),
    ("key file", ["gate", "1", "2", "--policy", POLICY, "--out", "o.json", "--sign", "{}"],
     "--sign"),
    ("decision record", ["verify", "{}"], None),
    ("policy", ["verify", POLICY, "--policy", "{}"], "--policy"),
    ("findings file", ["findings", "import", "{}"], None),
    ("policy", ["findings", "import", POLICY, "--policy", "{}"], "--policy"),
    ("allowed-signers file", ["findings", "signers", "{}"], None),
    ("taxonomy", ["taxonomy", "import", "{}"], None),
    ("taxonomy", ["--taxonomy", "{}", "runs"], "--taxonomy"),
    ("markers file", ["stale", "--markers", "{}"], "--markers"),
]  # fmt: skip


@pytest.fixture
def not_files(tmp_path):
    folder = tmp_path / "a-folder"
    folder.mkdir()
    fifo = tmp_path / "a-fifo"
    os.mkfifo(fifo)  # a reader that opened it would wait for a writer forever
    return {
        "folder": (folder, "is not a regular file: it is a folder"),
        "fifo": (fifo, "is not a regular file: it is a named pipe (FIFO)"),
        "missing": (tmp_path / "not-there.toml", "no such"),
    }


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("kind", ["folder", "fifo", "missing"])
@pytest.mark.parametrize(("what", "args", "option"), READERS, ids=lambda v: None)
def test_an_input_that_is_not_a_file_is_one_line_and_exit_2(
    demo_store, db_path, not_files, kind, what, args, option
):
    path, said = not_files[kind]
    before = digest(db_path)
    line = [a.replace("{}", str(path)) for a in args]
    r = CliRunner().invoke(cli, ["--db", str(db_path), *line])
    assert r.exit_code == 2, r.output
    assert r.output.count("\n") == 1 and r.output.startswith(f"Error: {path}: "), r.output
    assert what in r.output and said in r.output
    assert (f"field '{option}'" in r.output) if option else ("field" not in r.output)
    assert "Usage:" not in r.output
    assert digest(db_path) == before


def test_import_reads_a_folder_of_results_and_refuses_a_fifo(demo_store, db_path, not_files):
    """`import` takes folders (each results file in it): an empty one says so, in one line."""
    before = digest(db_path)
    for kind, said in (
        ("folder", "no supported results found in this folder"),
        ("fifo", "the results file is not a regular file: it is a named pipe"),
    ):
        path = not_files[kind][0]
        r = CliRunner().invoke(cli, ["--db", str(db_path), "import", str(path)])
        assert r.exit_code == 2, r.output
        assert r.output == f"Error: {path}: {said}" + r.output.split(said, 1)[1]
        assert r.output.count("\n") == 1
    assert digest(db_path) == before


def test_a_regular_file_and_a_link_to_one_are_read(demo_store, db_path, tmp_path):
    link = tmp_path / "policy-link.toml"
    link.symlink_to(POLICY)
    for policy in (POLICY, str(link)):
        r = CliRunner().invoke(cli, ["--db", str(db_path), "gate", "1", "2", "--policy", policy])
        assert r.exit_code == 12, r.output  # HOLD: the policy was read and applied
