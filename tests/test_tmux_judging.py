"""A judging pass in the real app, in a real terminal (tmux): `evaltui calibrate judge`
opens the judging screen blind, each key saves, the queue ends, the app quits (#27)."""

from __future__ import annotations

import pytest

from evaltui.review.calibration import judgments, samples
from evaltui.store import Store

from .test_tmux import EVALTUI, TMUX, Terminal, terminal_env  # noqa: F401  (a fixture)

pytestmark = pytest.mark.tmux


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_a_judging_pass_in_the_real_app(terminal_env, db_path):  # noqa: F811
    with Store(db_path) as store:
        kept = samples.draw(store, 2, "grounded", n=3, seed=21)
    term = Terminal(f"{EVALTUI} calibrate judge {kept.id}", terminal_env)
    try:
        screen = term.wait_for("judging sample 1 · grounded · tmux-tester")
        assert "1/3" in screen and "the grader said" not in screen and "Traceback" not in screen
        assert "p Pass" in screen and "f Fail" in screen  # the footer, from the bindings
        term.wait_for("Output")  # the result is on screen: a key before it has nothing to judge
        term.keys("p")
        term.wait_for("Saved: you said pass")
        term.wait_for("2/3")
        term.keys("f")
        term.wait_for("Saved: you said fail")
        term.wait_for("3/3")
        term.keys("s")
        term.wait_for("Queue done")
        term.keys("q")
        term.wait_for("EXITED=0")
    finally:
        term.close()
    with Store(db_path) as store:
        state = judgments.in_force(store.conn, [2], "grounded")
        said = {ref: j.verdict for (ref, who), j in state.items() if who == "tmux-tester"}
    assert [said[ref] for ref in kept.items] == ["pass", "fail", "unsure"]
