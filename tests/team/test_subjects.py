"""Every kind's subject parses back to its parts, and only from its canonical form: one
parser (events.subject_parts) serves cases, status changes, decisions and gold."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evaltui.team import decisions, statuses
from evaltui.team.events import case_subject, comparison_subject, string_parts, subject_parts
from evaltui.team.fold import parse_case_subject

text = st.text(max_size=40)


@given(text, text, text, text)
def test_a_case_subject_parses_back_to_its_four_strings(a, b, suite, key):
    assert parse_case_subject(case_subject(a, b, suite, key)) == [a, b, suite, key]


@given(text, text)
def test_status_and_comparison_subjects_parse_back(x, y):
    assert statuses.parse_subject(statuses.subject(x, y)) == (x, y)
    assert decisions.parse_subject(comparison_subject(x, y)) == (x, y)


@pytest.mark.parametrize(
    "subject",
    [
        'case:["a", "b", "s", "k"]',  # spaces: not as canonical_json writes it
        'case:["a","b","s"]',  # three parts
        'case:["a","b","s",1]',  # a number where a string goes
        'comparison:["a","b"]x',  # trailing text
        'comparison:{"a":"b"}',  # not a list
        'casestatus:["s",NaN]',  # JSON's NaN: not canonical
        'comparison:["\\u0061","b"]',  # an escape canonical_json does not write
        "case:not json",
        'gold:["a","b"]',  # another kind's prefix
    ],
)
def test_anything_but_the_canonical_form_is_not_a_subject(subject):
    assert parse_case_subject(subject) is None
    assert statuses.parse_subject(subject) is None
    assert decisions.parse_subject(subject) is None


def test_subject_parts_reads_any_json_list_under_its_prefix():
    assert subject_parts('gold:["r","s","k",0,""]', "gold") == ["r", "s", "k", 0, ""]
    assert subject_parts('gold:["r","s","k",0,""]', "case") is None
    assert string_parts('x:["a",["b"]]', "x", 2) is None
