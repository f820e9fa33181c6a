"""Two real `evaltui` apps in two real terminals (tmux), on two stores of one team: a
label pressed in one shows in the other within 2 seconds, with who and when."""

from __future__ import annotations

import os
import time

import pytest

from ..test_tmux import EVALTUI, TMUX, Terminal
from .conftest import Team
from .stores import make_locals

pytestmark = [pytest.mark.tmux, pytest.mark.skipif(TMUX is None, reason="tmux is not installed")]


def test_a_label_in_one_app_shows_in_the_other_within_two_seconds(team: Team, tmp_path):
    team.init()
    locals_ = make_locals(team, tmp_path, [("ana", "reviewer"), ("bo", "reviewer")], n=12)
    terms = []
    try:
        for local in locals_:
            env = {"EVALTUI_DB": str(local.db), "EVALTUI_REVIEWER": local.name,
                   "TERM": "xterm-256color", "HOME": os.environ["HOME"]}  # fmt: skip
            terms.append(Terminal(str(EVALTUI), env))
        for term in terms:
            term.wait_for("team p · connected · pending 0")
            term.keys("Enter")
            term.wait_for("evaltui · compare")
            term.wait_for("k0000")
        ana, bo = terms
        ana.keys("1")  # class 1 on the first case, then the next untriaged one
        ana.wait_for("(saved)")
        saved = time.monotonic()
        screen = bo.wait_for("ana labelled k0000 at ", timeout=30)
        shown = time.monotonic() - saved
        assert shown < 2.0, f"{shown:.2f} s"
        assert "Unsupported claim" in screen or "unsupported_claim" in screen
        bo.keys("2")
        bo.wait_for("(saved)")
        saved = time.monotonic()
        ana.wait_for("bo labelled k0000 at ", timeout=30)
        back = time.monotonic() - saved
        assert back < 2.0, f"{back:.2f} s"
        print(f"\nshown in the other app after {shown:.2f} s and {back:.2f} s")
        for term in terms:
            term.keys("q")
            term.wait_for("EXITED=0")
    finally:
        for term in terms:
            term.close()
    assert team.count() == 2
