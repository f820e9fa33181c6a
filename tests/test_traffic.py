"""Traffic weights files (#28): the format, normalisation, refusals naming file, line and
field, did-you-mean against the runs' segment values, hostile names kept as data."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from evaltui.errors import InputError
from evaltui.estimate.traffic import KnownValues, read_traffic
from evaltui.estimate.weighted import SegmentCounts, Settings, estimate_rate

CSV_CELLS = """\
# Weights for the December release
# period: 2026-11-01/2026-11-30
# source: gateway request logs, router v3
topic,risk,count
billing,high,1200
billing,low,38800
account access,low,30000
refunds,low,20000
policy,low,10000
"""

JSON_SHARES = """\
{
  "period": "2026-11-01/2026-11-30",
  "source": "product analytics export",
  "segments": [
    {"topic": "billing", "share": 40},
    {"topic": "account access", "share": 30},
    {"topic": "refunds",
     "share": 20},
    {"topic": "policy", "share": 10}
  ]
}
"""


def write(tmp_path: Path, text: str | bytes, name: str = "traffic.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_csv_cells_of_two_attributes_with_counts(tmp_path):
    path = write(tmp_path, CSV_CELLS)
    t = read_traffic(path)
    assert (t.format, t.kind, t.attributes, t.header_line) == ("csv", "count", ("topic", "risk"), 4)
    assert (
        str(t.period) == "2026-11-01/2026-11-30" and t.source == "gateway request logs, router v3"
    )
    assert t.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() and t.size == len(CSV_CELLS)
    assert t.total == 100_000 and not t.normalised and t.note is None
    assert [(c.values, c.amount, c.line) for c in t.cells[:2]] == [
        (("billing", "high"), 1200, 5),
        (("billing", "low"), 38800, 6),
    ]
    assert t.cells[0].share == pytest.approx(0.012)
    cells = t.weights()
    assert cells.from_counts and len(cells.segments) == 5
    by_topic = t.weights(["topic"])  # summed over risk
    assert [(s.key, s.count) for s in by_topic.segments] == [
        (("billing",), 40000), (("account access",), 30000), (("refunds",), 20000),
        (("policy",), 10000),
    ]  # fmt: skip
    with pytest.raises(InputError, match="this file weights by 'topic', 'risk'"):
        t.weights(["locale"])


def test_json_shares_not_summing_to_one_are_normalised_and_said_so(tmp_path):
    t = read_traffic(write(tmp_path, JSON_SHARES, "traffic.json"))
    assert (t.format, t.kind, t.total, t.normalised) == ("json", "share", 100, True)
    assert t.note == "the shares sum to 100, not 1: each was divided by 100"
    assert [c.line for c in t.cells] == [5, 6, 7, 9]  # each segment where it starts
    assert [c.share for c in t.cells] == pytest.approx([0.4, 0.3, 0.2, 0.1])
    weights = t.weights()
    assert not weights.from_counts  # shares: no uncertainty of their own
    segs = [SegmentCounts(("billing",), 20, 18), SegmentCounts(("refunds",), 10, 5)]
    assert not estimate_rate(segs, weights, Settings(draws=200)).weights_uncertain
    exact = JSON_SHARES
    for pct in (40, 30, 20, 10):
        exact = exact.replace(f'"share": {pct}', f'"share": {pct / 100}')
    t = read_traffic(write(tmp_path, exact, "exact.json"))
    assert not t.normalised and t.total == pytest.approx(1)


HEAD = "# period: 2026-11-01/2026-11-30\n# source: logs\n"


@pytest.mark.parametrize(
    ("text", "line", "field", "why"),
    [
        (HEAD + "topic,count\nbilling,12\nrefunds,-3\n", 5, "count", "-3 is negative"),
        (HEAD + "topic,count\nbilling,12.5\n", 4, "count", "not a whole number of requests"),
        (HEAD + "topic,share\nbilling,nan\n", 4, "share", "not a number like 0.25"),
        (HEAD + "topic,share\nbilling,inf\n", 4, "share", "not a number like 0.25"),
        (HEAD + "topic,share\nbilling,1e999\n", 4, "share", "not a finite number"),
        (HEAD + "topic,share\nbilling,40%\n", 4, "share", "not a number like 0.25"),
        (HEAD + "topic,share\nbilling,\n", 4, "share", "not a number like 0.25"),
        (HEAD + "topic,risk,count\n,high,3\n", 4, "topic", "empty: every row names"),
        (HEAD + "topic,count\nbilling,3\n\nbilling,4\n", 6, "topic", "the same segment as line 4"),
        (HEAD + "topic,count\nbilling,3,4\n", 4, None, "3 fields; the header has 2"),
        (HEAD + "topic,count,share\nbilling,3,0.1\n", 3, None, "both 'count' and 'share'"),
        (HEAD + "topic,requests\nbilling,3\n", 3, None, "neither 'count' nor 'share'"),
        (HEAD + "count\n3\n", 3, None, "no segment attribute"),
        (HEAD + "topic$,count\nbilling,3\n", 3, "topic$", "not a usable attribute name"),
        (HEAD + "topic,topic,count\na,b,3\n", 3, "topic", "given twice"),
        (HEAD + 'topic,count\n"billing,3\n', 4, None, "not valid CSV"),
        (HEAD + "topic,count\nbilling,0\nrefunds,0\n", 4, "count", "every count is 0"),
        ("# source: logs\ntopic,count\nbilling,3\n", None, "period", "which dates"),
        ("# period: November\n# source: x\ntopic,count\nb,3\n", 1, "period", "not START/END"),
        (
            "# period: 2026-11-30/2026-11-01\n# source: x\ntopic,count\nb,3\n",
            1,
            "period",
            "ends before",
        ),
        (
            "# period: 2026-02-30/2026-03-01\n# source: x\ntopic,count\nb,3\n",
            1,
            "period",
            "not START/END",
        ),
        ("# period: 2026-11-01/2026-11-30\ntopic,count\nb,3\n", None, "source", "where the counts"),
        (
            "# period: 2026-11-01/2026-11-30\n# period: 2026-11-01/2026-11-30\n",
            2,
            "period",
            "given twice",
        ),
        (HEAD + "topic,count\n", None, None, "no segment rows"),
    ],
)
def test_a_bad_csv_row_is_refused_naming_file_line_and_field(tmp_path, text, line, field, why):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as err:
        read_traffic(path)
    e = err.value
    assert e.path == str(path) and e.exit_code == 2
    assert e.location == (f"line {line}" if line else None)
    assert e.field == field and why in e.detail, str(e)
    assert "\n" not in str(e)  # one line


J = '{\n"period": "2026-11-01/2026-11-30",\n"source": "x",\n"segments": [\n'


@pytest.mark.parametrize(
    ("text", "line", "field", "why"),
    [
        (J + '{"topic": "a", "count": 3},\n{"topic": "b"}\n]}', 6, "count", "missing"),
        (
            J + '{"topic": "a", "count": 3},\n{"topic": "b", "risk": "high", "count": 1}\n]}',
            6,
            "risk",
            "not in the first",
        ),
        (J + '{"topic": "a", "count": true}\n]}', 5, "count", "not a number"),
        (J + '{"topic": "a", "count": 3.0}\n]}', 5, "count", "a count is a whole number"),
        (J + '{"topic": "a", "share": NaN}\n]}', 5, None, "NaN is not a number JSON allows"),
        (J + '{"topic": null, "count": 3}\n]}', 5, "topic", "not a segment value"),
        (J + '{"topic": "a", "count": 3, "count": 4}\n]}', 5, None, "given twice in one object"),
        (J + '["a", 3]\n]}', 5, "segments", "each segment is an object"),
        (J + '{"topic": "a", "count": 3}\n]}\n{}', 7, None, "text after the object"),
        (J + '{"topic": "a", "count": 3}\n,]}', 6, None, "not valid JSON"),
        ('{\n"perod": "2026-11-01/2026-11-30"}', 2, "perod", "did you mean 'period'?"),
        ('{\n"period": 2026}', 2, "period", "a string"),
        ('{"period": "2026-11-01/2026-11-30", "source": "x"}', None, "segments", "no segments"),
        (J + "]}", None, "segments", "the list is empty"),
        (
            J + '{"topic": ' + "[" * 100_000 + "]" * 100_000 + ', "count": 3}]}',
            5,
            None,
            "nested too deeply",
        ),
    ],
)
def test_a_bad_json_segment_is_refused_naming_file_line_and_field(tmp_path, text, line, field, why):
    path = write(tmp_path, text, "traffic.json")
    with pytest.raises(InputError) as err:
        read_traffic(path)
    e = err.value
    assert e.location == (f"line {line}" if line else None), str(e)
    assert e.field == field and why in e.detail, str(e)


def test_files_that_are_not_small_regular_text_are_refused(tmp_path, monkeypatch):
    folder = tmp_path / "dir"
    folder.mkdir()
    with pytest.raises(InputError, match="not a regular file"):
        read_traffic(folder)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        read_traffic(fifo)  # refused before it is opened: nothing blocks
    with pytest.raises(InputError, match="the file is empty"):
        read_traffic(write(tmp_path, "  \n"))
    with pytest.raises(InputError, match="NUL"):
        read_traffic(write(tmp_path, b"topic,count\x00\n"))
    with pytest.raises(InputError, match="not UTF-8") as err:
        read_traffic(write(tmp_path, HEAD.encode() + b"topic,count\n\xff,3\n"))
    assert err.value.location == "line 4"
    monkeypatch.setenv("EVALTUI_MAX_TRAFFIC_BYTES", "64")
    with pytest.raises(InputError, match="larger than 64 bytes"):
        read_traffic(write(tmp_path, CSV_CELLS))
    monkeypatch.delenv("EVALTUI_MAX_TRAFFIC_BYTES")
    monkeypatch.setenv("EVALTUI_MAX_TRAFFIC_CELLS", "2")
    with pytest.raises(InputError, match="EVALTUI_MAX_TRAFFIC_CELLS") as err:
        read_traffic(write(tmp_path, CSV_CELLS))
    assert err.value.location == "line 7"


def test_names_the_runs_do_not_have_get_a_did_you_mean(tmp_path):
    t = read_traffic(write(tmp_path, JSON_SHARES, "traffic.json"))
    runs = [KnownValues("topic", ("billing", "Account access", "refund", "shipping"))]
    check = t.check_names(runs)
    assert [(u.line, u.value, u.suggestions) for u in check.unknown] == [
        (6, "account access", ("Account access",)),  # case first
        (7, "refunds", ("refund",)),
        (9, "policy", ()),
    ]
    assert check.unknown[1].message() == (
        "topic='refunds': no eval case has this value; did you mean 'refund'?"
    )
    assert check.unweighted == (
        ("topic", "Account access"),
        ("topic", "refund"),
        ("topic", "shipping"),
    )
    (attr,) = t.check_names([KnownValues("topics", ("billing",))]).unknown
    assert (
        attr.value is None
        and attr.line == 5
        and attr.message()
        == ("attribute 'topic' is not a segment attribute of these runs; did you mean 'topics'?")
    )


HOSTILE = "a\x1b]52;c;cHduZWQ=\x07b\x9b31m\u202ec[bold]d[/]\u2028e\x1ef\x0cg"


def test_hostile_segment_names_stay_literal_data(tmp_path):
    text = HEAD + f'topic,count\n"{HOSTILE}",3\nbilling,4\n'
    t = read_traffic(write(tmp_path, text))
    assert t.cells[0].values == (HOSTILE,)  # kept exactly: it is data
    assert [c.line for c in t.cells] == [4, 5]  # U+2028, \x1e, \x0c end no line
    (u, _) = t.check_names([KnownValues("topic", ("billing", HOSTILE + "x"))]).unknown[:1] * 2
    assert u.value == HOSTILE
    dup = HEAD + f'topic,count\n"{HOSTILE}",3\n"{HOSTILE}",4\n'
    with pytest.raises(InputError) as err:
        read_traffic(write(tmp_path, dup))
    # messages quote data with repr: escapes, bidi and controls appear escaped, never raw
    for message in (str(err.value), u.message()):
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]", message), repr(message)
    bad_share = HEAD + f"topic,share\nbilling,{HOSTILE}\n"
    with pytest.raises(InputError) as err:
        read_traffic(write(tmp_path, bad_share))
    assert "\\x1b" in str(err.value) and "\x1b" not in str(err.value)
