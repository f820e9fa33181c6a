"""store/runs.py's resolvers: one per question (a run by its file, a case by its key)."""

from __future__ import annotations

import pytest

from evaltui.errors import InputError, NotFoundError
from evaltui.models import Case, Record, Result, Run
from evaltui.store import runs


def records(keys: list[tuple[str, str]], line: str = "line"):
    for i, (suite, key) in enumerate(keys):
        yield Record.from_models(
            Case(suite=suite, case_key=key, input=f"in {key}"),
            Result(suite=suite, case_key=key, verdict="pass", output="o"),
            location=f"{line} {i + 1}",
        )


@pytest.fixture
def two_files(store):
    keys = [("s", "refund-01"), ("s", "refund-02"), ("t", "refund-02"), ("t", "other")]
    a1 = runs.import_run(store, Run(name="a", sha256="f1", source_part="p1"), records(keys))
    a2 = runs.import_run(store, Run(name="a", sha256="f1", source_part="p2"), records(keys[:1]))
    b = runs.import_run(store, Run(name="b", sha256="f2"), records(keys[:2], "row"))
    return a1, a2, b


def test_a_run_by_its_file_part_id_or_name(store, two_files):
    a1, a2, b = two_files
    assert runs.run_by_sha256(store, "f1") == runs.RunRef(a1, "a")  # the first of the file
    assert runs.run_by_sha256(store, "f1", "p2") == (a2, "a")
    assert runs.run_by_sha256(store, "f1", "p3") is None and runs.run_by_sha256(store, "f3") is None
    assert runs.run_by_name(store, "a") == a2  # the newest of a name
    assert (runs.resolve_run(store, "a"), runs.resolve_run(store, str(b))) == (a2, b)
    with pytest.raises(NotFoundError, match="No run 'c'"):
        runs.resolve_run(store, "c")
    assert runs.unique_run_name(store, "a") == "a #2" and runs.unique_run_name(store, "c") == "c"
    assert runs.run_exists(store, b) and not runs.run_exists(store, b + 1)
    with pytest.raises(runs.AlreadyImported, match=f"run {a2} "):
        runs.import_run(store, Run(name="x", sha256="f1", source_part="p2"), [], unique=True)
    assert runs.result_count(store, a1) == 4 and runs.run_names(store)[b] == "b"


def test_a_case_by_suite_and_key_a_unique_key_or_its_id(store, two_files):
    a1, _, b = two_files
    one = runs.case_by_key(store, "s", "refund-01")
    assert one is not None and runs.case_by_key(store, "s", "nope") is None
    assert runs.resolve_case(store, "refund-01") == one
    assert runs.resolve_case(store, f"#{one}") == one
    assert runs.resolve_case(store, "t/refund-02") == runs.case_by_key(store, "t", "refund-02")
    with pytest.raises(InputError, match="in several suites"):
        runs.resolve_case(store, "refund-02")
    with pytest.raises(NotFoundError, match="did you mean 's/refund-01' or 's/refund-02'"):
        runs.resolve_case(store, "s/refund-0")
    assert runs.case_key_of(store, one) == "refund-01" and runs.case_key_of(store, 999) is None
    assert runs.case_names(store, [one, 999]) == {one: "s/refund-01"}
    assert (runs.source_line(store, a1, one), runs.source_line(store, b, one)) == (
        "line 1",
        "row 1",
    )
