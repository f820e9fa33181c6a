"""The three-way path and the first divergence in the real process, at 160 columns (#31)."""

from __future__ import annotations

import re

import pytest

from evaltui import service

from .test_divergence import INSPECT, REACT
from .test_tmux import EVALTUI, TMUX, Terminal

pytestmark = pytest.mark.tmux


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed")
def test_d_jumps_to_the_first_divergence_with_the_fallback_beside(store, db_path):
    runs = [service.import_path(store, f)[0].run_id for f in [*INSPECT, REACT]]
    for mark, run in zip(("baseline", "candidate", "fallback"), runs, strict=True):
        service.mark_run(store, mark, run)
    store.close()
    env = {"EVALTUI_DB": str(db_path), "EVALTUI_REVIEWER": "tmux", "TERM": "xterm-256color"}
    term = Terminal(str(EVALTUI), env, width=160, height=50)
    try:
        term.wait_for("support_agent")
        term.keys("Enter")
        term.wait_for("privacy-01   REGRESSED", timeout=60)  # the first case
        term.keys("j")
        term.wait_for("refund-02   REGRESSED", timeout=60)
        term.keys("j")
        term.wait_for("refund-04   REGRESSED", timeout=60)
        term.keys("d")
        screen = term.wait_for("candidate: first divergence at call 2: tool removed", timeout=30)
        assert "fallback: no divergence" in screen
        (line,) = [x for x in screen.splitlines() if ">-" in x]
        # one line per call, cut to its column: the baseline's and the fallback's search
        assert line.count("search_policy(") == 2 and "…" in line, line
        assert re.search(r"│ +baseline +candidate +fallback", screen)  # the column heads
        refund = next(x for x in screen.splitlines() if "issue_refund(" in x)
        assert refund.count("issue_refund(") == 1  # the candidate's alone, on its own row
        print(screen)
        term.keys("?")  # the help (tests/test_divergence.py finds the key in it)
        term.wait_for("Keys: compare", timeout=30)
        term.keys("Escape")
        term.wait_for("Keys: compare", gone=True)
        term.keys("q")
        term.wait_for("EXITED=0")
    finally:
        term.close()
