import pytest
from pydantic import ValidationError

from evaltui.models import Case, Criterion, Result, Run


def test_result_keeps_criteria_apart():
    res = Result(
        suite="s",
        case_key="k",
        verdict="fail",
        criteria={
            "correctness": Criterion(verdict="pass", score=1.0),
            "format": Criterion(verdict="fail"),
        },
    )
    assert res.criteria["correctness"].verdict == "pass"
    assert res.criteria["format"].verdict == "fail"
    assert res.epoch == 0


@pytest.mark.parametrize(
    "field,value",
    [("verdict", "maybe"), ("epoch", -1), ("latency_ms", -5), ("cost", -0.1), ("case_key", "")],
)
def test_result_rejects_bad_values(field, value):
    data = {"suite": "s", "case_key": "k", "verdict": "pass", field: value}
    with pytest.raises(ValidationError) as info:
        Result(**data)
    assert info.value.errors()[0]["loc"][0] == field


def test_run_role_and_case_status_are_closed_sets():
    with pytest.raises(ValidationError):
        Run(name="r", role="staging")
    with pytest.raises(ValidationError):
        Case(suite="s", case_key="k", status="deleted")
    assert Run(name="r").role == "none"
    assert Case(suite="s", case_key="k").status == "active"
