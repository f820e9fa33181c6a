"""Strict numbers: non-finite values and integers SQLite cannot hold are refused at import with
file, line and field; every JSON evaltui prints is strict and inert on a terminal."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from evaltui.cli import cli
from evaltui.store import Store
from evaltui.textsafe import safe_json

from .helpers import line


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ('"score": NaN', "score", "nan is not a finite number"),
        ('"score": Infinity', "score", "inf is not a finite number"),
        ('"latency_ms": 1e999', "latency_ms", "inf is not a finite number"),
        ('"cost": -Infinity', "cost", None),
        ('"epoch": 9223372036854775808', "epoch", None),
        ('"criteria": {"judge": {"score": NaN}}', "criteria.judge.score", "not a finite number"),
    ],
    ids=["nan", "infinity", "overflow-float", "minus-infinity", "epoch-2^63", "criterion-nan"],
)  # fmt: skip
def test_non_finite_numbers_are_refused_with_file_line_and_field(
    db_path, tmp_path, raw, field, message
):
    path = tmp_path / "bad.jsonl"
    good = json.dumps(line("a"))
    bad = json.dumps(line("b"))[:-1] + ", " + raw + "}"
    path.write_text(good + "\n" + bad + "\n")
    Store(db_path).close()
    with Store(db_path) as store:
        before = store.dump()
    r = CliRunner().invoke(cli, ["--db", str(db_path), "import", str(path)])
    assert r.exit_code == 2, r.output
    (out,) = r.output.strip().splitlines()
    assert out.startswith(f"Error: {path}, line 2: field '") and field in out, out
    if message:
        assert message in out
    with Store(db_path) as store:
        assert store.dump() == before


def test_json_output_is_strict_and_inert():
    text = safe_json({"k": "a\x9b31mb\u202eevil\u2028x\x1b[0m", "n": 1.5})
    assert (
        "\x9b" not in text and "\u202e" not in text and "\u2028" not in text and "\x1b" not in text
    )
    assert json.loads(text) == {
        "k": "a\x9b31mb\u202eevil\u2028x\x1b[0m",
        "n": 1.5,
    }  # exact once parsed
    with pytest.raises(ValueError):
        safe_json({"x": float("nan")})


def test_runs_json_escapes_c1_and_bidi_from_a_run_name(db_path, tmp_path):
    src = tmp_path / "r.jsonl"
    src.write_text(
        json.dumps({"run": {"name": "evil\x9b\u202ename"}}) + "\n" + json.dumps(line("a")) + "\n"
    )
    run = CliRunner()
    assert run.invoke(cli, ["--db", str(db_path), "import", str(src)]).exit_code == 0
    r = run.invoke(cli, ["--db", str(db_path), "runs", "--json"])
    assert "\x9b" not in r.output and "\u202e" not in r.output
    assert json.loads(r.output)[0]["name"] == "evil\x9b\u202ename"
