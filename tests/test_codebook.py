"""Proposed failure classes from reviewers' notes (evaltui/codebook, issue #29): the
proposals recover known failure modes, are the same for the same notes in any order,
leave noise unclustered, and carry no live character from a hostile note."""

from __future__ import annotations

import json
import re
import runpy
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaltui.errors import InputError
from evaltui.review.codebook import Note, Proposals, propose
from evaltui.review.taxonomy import DEFAULT_CLASSES, KEY_RE, FailureClass

from .conftest import FIXTURES

NOTES = FIXTURES / "codebook" / "notes.jsonl"
MODES = ("stale_refund_window", "wrong_language", "refund_without_confirmation")
UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def fixture_rows() -> list[dict]:
    return [json.loads(line) for line in NOTES.read_text().splitlines()]


def as_notes(rows: list[dict]) -> list[Note]:
    return [Note(**{k: v for k, v in r.items() if k != "mode"}) for r in rows]


def note(i: int, text: str, **kw) -> Note:
    return Note(id=kw.pop("id", f"n{i:04d}"), text=text, case_key=kw.pop("case_key", f"s/c{i}"),
                at=T0 + timedelta(minutes=i), **kw)  # fmt: skip


def score(result: Proposals, truth: dict[str, str | None]) -> dict:
    """Purity (notes in a proposal whose majority mode is theirs) and, per mode, the
    coverage of the proposal it is the majority of that holds most of it."""
    clustered = majority = 0
    majors: dict[str, list[int]] = {}
    for p in result.proposals:
        counts = Counter(truth[i] for i in p.note_ids)
        mode, k = counts.most_common(1)[0]
        clustered += p.size
        majority += k
        majors.setdefault(mode, []).append(k)
    totals = Counter(m for m in truth.values() if m in MODES)
    coverage = {m: max(majors.get(m, [0])) / totals[m] for m in MODES}
    return {"purity": majority / clustered, "coverage": coverage, "majors": majors}


def main_proposals(result: Proposals, truth: dict[str, str | None]) -> dict:
    """Each mode's largest proposal (the proposals come largest first)."""
    out: dict = {}
    for p in result.proposals:
        out.setdefault(Counter(truth[i] for i in p.note_ids).most_common(1)[0][0], p)
    return out


# -- the fixture ---------------------------------------------------------------------------


def test_the_fixture_is_what_its_generator_writes(tmp_path):
    gen = runpy.run_path(str(FIXTURES / "codebook" / "generate_notes.py"))
    out = tmp_path / "notes.jsonl"
    gen["write"](out, gen["generate"]())
    assert out.read_bytes() == NOTES.read_bytes()
    rows = fixture_rows()
    assert Counter(r["mode"] for r in rows) == {
        "refund_without_confirmation": 65, "stale_refund_window": 50, "wrong_language": 46,
        "noise": 39, None: 9,
    }  # fmt: skip


def test_the_proposals_recover_the_three_modes(capsys):
    rows = fixture_rows()
    truth = {r["id"]: r["mode"] for r in rows}
    result = propose(as_notes(rows), DEFAULT_CLASSES)
    figures = score(result, truth)
    with capsys.disabled():
        print(f"\ncodebook fixture: {result.notes} unclassified notes, "
              f"{len(result.proposals)} proposals, {len(result.unclustered)} unclustered; "
              f"purity {figures['purity']:.3f}; coverage "
              + ", ".join(f"{m} {c:.2f}" for m, c in figures["coverage"].items()))  # fmt: skip
        for p in result.proposals:
            near = f"{p.nearest.key} {p.nearest.similarity:.2f}" if p.nearest else "-"
            print(f"  {p.size:3} {p.key:36} {'NEW' if p.new else 'near'} {near}  {p.terms}")
    assert figures["purity"] >= 0.8
    for mode in MODES:
        assert len(figures["majors"][mode]) >= 1  # each mode is the majority of a proposal
        assert figures["coverage"][mode] >= 0.8  # and one proposal holds most of it
    # the noise is left out, never forced into a mode
    assert Counter(truth[i] for i in result.unclustered)["noise"] >= 0.9 * len(result.unclustered)
    assert result.classified == 9 and result.notes == 200
    by_mode = main_proposals(result, truth)
    # the refunds issued unasked are near the class the team already gives such notes;
    # the stale refund window and the wrong language are new
    assert by_mode["refund_without_confirmation"].nearest.key == "unsafe_tool_action"
    assert not by_mode["refund_without_confirmation"].new
    assert by_mode["stale_refund_window"].new and by_mode["wrong_language"].new
    assert "english" in by_mode["wrong_language"].terms
    assert "policy" in by_mode["stale_refund_window"].terms


def test_each_proposal_is_described():
    rows = fixture_rows()
    by_id = {r["id"]: r for r in rows}
    result = propose(as_notes(rows), DEFAULT_CLASSES)
    keys = [p.key for p in result.proposals]
    assert len(set(keys)) == len(keys)
    assert not set(keys) & {c.key for c in DEFAULT_CLASSES}
    sizes = [p.size for p in result.proposals]
    assert sizes == sorted(sizes, reverse=True)
    for p in result.proposals:
        assert KEY_RE.match(p.key) and len(p.key) <= 40
        assert p.size == len(p.note_ids) >= result.settings.min_size
        assert list(p.note_ids) == sorted(p.note_ids)
        assert p.cases == tuple(sorted({by_id[i]["case_key"] for i in p.note_ids}))
        assert 1 <= len(p.terms) <= 5 and p.name
        reps = p.representatives
        assert len(reps) == 3 and {r.note_id for r in reps} <= set(p.note_ids)
        assert [r.similarity for r in reps] == sorted((r.similarity for r in reps), reverse=True)
        assert p.first_note == min(p.note_ids, key=lambda i: (by_id[i]["at"], i))
    clustered = {i for p in result.proposals for i in p.note_ids}
    open_ids = {r["id"] for r in rows if r["class_key"] is None}
    assert clustered | set(result.unclustered) == open_ids
    assert not clustered & set(result.unclustered)


def test_the_saturation_figure_counts_new_proposals_per_20_notes():
    rows = fixture_rows()
    truth = {r["id"]: r["mode"] for r in rows}
    result = propose(as_notes(rows), DEFAULT_CLASSES)
    sat = result.saturation
    assert sat.window == 20 and len(sat.windows) == 10
    assert [(w.start, w.end) for w in sat.windows] == [(i * 20 + 1, i * 20 + 20) for i in range(10)]
    assert sum(w.new for w in sat.windows) == sat.windows[-1].total == len(result.proposals)
    assert sorted(k for w in sat.windows for k in w.new_keys) == sorted(
        p.key for p in result.proposals
    )
    where = {k: w.start for w in sat.windows for k in w.new_keys}
    by_mode = main_proposals(result, truth)
    # the modes come in over time (the generator: A first, B after 50 notes, C after 100)
    assert where[by_mode["stale_refund_window"].key] == 1
    assert where[by_mode["refund_without_confirmation"].key] == 101
    assert sat.quiet_windows == 4 and sat.last_new_at == 101
    print("saturation:", [w.new for w in sat.windows])


def test_saturation_in_small_windows():
    notes = [note(i, t) for i, t in enumerate(
        ["refund window stale", "refund window stale again", "refund window stale 30 days",
         "english reply german question", "english reply german user", "english reply german"]
    )]  # fmt: skip
    result = propose(notes, [], min_size=3, window=2)
    assert [(w.start, w.end, w.new) for w in result.saturation.windows] == [
        (1, 2, 1),
        (3, 4, 1),
        (5, 6, 0),
    ]
    assert result.saturation.last_new_at == 4 and result.saturation.quiet_windows == 1
    assert all(p.nearest is None and p.new for p in result.proposals)


# -- determinism ---------------------------------------------------------------------------

_SUBSET = as_notes(fixture_rows()[::3])
_EXPECTED = propose(_SUBSET, DEFAULT_CLASSES).model_dump()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.permutations(_SUBSET))
def test_the_same_notes_in_any_order_give_the_same_proposals(shuffled):
    assert propose(shuffled, DEFAULT_CLASSES).model_dump() == _EXPECTED


def test_in_sampled_rounds_too(monkeypatch):
    """More notes than a sample holds: rounds of samples chosen by a seeded hash of the
    ids, then the exact merge; still the same in any order, and the modes still found."""
    import evaltui.review.codebook.cluster as clustering

    monkeypatch.setattr(clustering, "SAMPLE_SIZE", 60)
    rows = fixture_rows()
    truth = {r["id"]: r["mode"] for r in rows}
    notes = as_notes(rows)
    first = propose(notes, DEFAULT_CLASSES)
    assert first.settings.rounds > 1 and first.settings.sample_size == 60
    assert propose(list(reversed(notes)), DEFAULT_CLASSES) == first
    figures = score(first, truth)
    print(f"sampled rounds ({first.settings.rounds}): purity {figures['purity']:.3f}, "
          f"coverage {figures['coverage']}")  # fmt: skip
    assert figures["purity"] >= 0.8
    assert all(figures["majors"].get(m) for m in MODES)
    other_seed = propose(notes, DEFAULT_CLASSES, seed=7)
    assert other_seed.settings.seed == 7


# -- untrusted text ------------------------------------------------------------------------

HOSTILE = [
    "\x1b]52;c;cGF3bmVk\x07refund\u202ewindow stale [bold red]policy[/] \x9b31m",
    "refund\u200b window \x1b[2J stale policy <script>x</script>",
    "[link=https://evil.example]refund window[/link] stale policy \u2066x\u2069",
    "refund window stale policy \x00\x08\x7f\u061c\ufeff",
]


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def test_hostile_notes_come_out_inert():
    notes = [note(i, t, case_key=f"s/\x1b[31mcase-{i}\u202e") for i, t in enumerate(HOSTILE)]
    hostile_class = FailureClass(key="stale_policy", name="Stale \x1b]0;pwn\x07\u202epolicy",
                                 description="refund window stale policy")  # fmt: skip
    result = propose(notes, [hostile_class], min_size=3)
    assert len(result.proposals) == 1
    p = result.proposals[0]
    assert KEY_RE.match(p.key) and p.key != "stale_policy"
    dump = result.model_dump(mode="json")
    derived = {**dump["proposals"][0]}
    cases = derived.pop("cases")
    assert cases == [n.case_key for n in notes]  # identifiers stay exact, for look-ups
    for rep in derived["representatives"]:
        assert rep.pop("case_key") in cases
    for text in _strings(derived):
        assert not UNSAFE.search(text), repr(text)
    assert "[link=https://evil.example]" in " ".join(r.text for r in p.representatives)  # literal
    assert p.nearest is not None and "␛" in p.nearest.name and "\x1b" not in p.nearest.name
    assert all(re.fullmatch(r"[\w ]+", t) for t in p.terms)


def test_keys_are_identifiers_whatever_the_words():
    texts = ["2024 30 ünïcode ßtraße", "2024 30 ünïcode ßtraße!", "2024 30 ünïcode ßtraße?"]
    result = propose([note(i, t) for i, t in enumerate(texts)], [], min_size=3)
    (p,) = result.proposals
    assert KEY_RE.match(p.key) and p.key.startswith("unicode")
    taken = propose([note(i, t) for i, t in enumerate(["wrong source"] * 3)], DEFAULT_CLASSES)
    assert taken.proposals[0].key == "wrong_source_2"


# -- edges and refusals ----------------------------------------------------------------------


def test_nothing_to_propose():
    empty = propose([], DEFAULT_CLASSES)
    assert empty.proposals == () and empty.notes == 0 and empty.saturation.windows == ()
    coded = propose([note(1, "x y", class_key="wrong_source")], DEFAULT_CLASSES)
    assert coded.notes == 0 and coded.classified == 1
    blank = propose([note(i, t) for i, t in enumerate(["!!!", "...", "the of and", "", "ok"])], [])
    assert blank.proposals == () and len(blank.featureless) == 5
    assert blank.unclustered == blank.featureless


def test_a_group_held_by_characters_alone_is_not_proposed():
    """Notes that share character n-grams but not one word cannot be named: unclustered."""
    texts = ["timing", "timed", "timer", "timings", "timely"]
    result = propose([note(i, t) for i, t in enumerate(texts)], [], min_size=3, threshold=0.99)
    assert result.proposals == () and len(result.unclustered) == 5


def test_refusals(monkeypatch):
    two = [note(1, "a b"), note(2, "c d", id="n0001")]
    with pytest.raises(InputError, match="two notes have the id 'n0001'"):
        propose(two, [])
    with pytest.raises(InputError, match="at least 2 notes"):
        propose([], [], min_size=1)
    with pytest.raises(InputError, match="between 0 and 1"):
        propose([], [], threshold=1.5)
    monkeypatch.setenv("EVALTUI_CODEBOOK_MAX_NOTES", "3")
    with pytest.raises(
        InputError, match=r"4 notes; proposals read at most 3 \(EVALTUI_CODEBOOK_MAX_NOTES\)"
    ):
        propose([note(i, "x") for i in range(4)], [])
    monkeypatch.setenv("EVALTUI_CODEBOOK_MAX_NOTES", "many")
    with pytest.raises(InputError, match="not a positive whole number"):
        propose([], [])


def test_without_the_extra_one_line_names_it():
    code = (
        "import sys\n"
        "sys.modules['numpy'] = None\n"
        "sys.modules['scipy'] = None\n"
        "from evaltui.review.codebook import propose, CodebookUnavailable\n"
        "try:\n"
        "    propose([], [])\n"
        "except CodebookUnavailable as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (
        "proposing classes needs numpy and scipy: pip install 'evaltui[codebook]'"
    )
