"""The owner and note prompts show the visible form and save the original wherever the
reviewer left it: real keys, checked in the store and against a gate rule (issue 24)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from evaltui import service
from evaltui.cli import cli
from evaltui.review import triage
from evaltui.store import Store
from evaltui.tui.app import EvaltuiApp
from evaltui.tui.screens.prompts import TRIAGED_HINT, TextPrompt
from evaltui.tui.widgets.safe import Input

from .test_compare_screen import expected_order, open_compare, settle

NOTE = "first line\nsecond line\u202e"
OWNER = "ops\x07team"


def mine(db_path) -> tuple[str | None, str | None]:
    with Store(db_path) as store:
        rows = [f for f in triage.history(store, 1, 2, row_id(store)) if f.reviewer == "tester"]
        return rows[-1].owner, rows[-1].note


def row_id(store) -> int:
    return store.conn.execute("SELECT case_id FROM findings ORDER BY id LIMIT 1").fetchone()[0]


async def test_saving_an_untouched_owner_or_an_extended_note_keeps_the_original(
    demo_store, db_path, tmp_path
):
    order, _ = expected_order(db_path, demo_store)
    sel = service.get_selection(demo_store)
    case = demo_store.conn.execute(
        "SELECT id FROM cases WHERE case_key = ?", (order[0],)
    ).fetchone()
    triage.label(demo_store, sel["baseline"], sel["candidate"], case[0], owner=OWNER, note=NOTE)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        assert screen.current.case_key == order[0]
        await pilot.press("w")
        await settle(app, pilot)
        assert isinstance(app.screen, TextPrompt)
        shown = app.screen.query_one(Input).value
        assert shown == "ops\u2407team"  # the visible form, never the raw BEL
        assert TRIAGED_HINT in "".join(str(s.content) for s in app.screen.query("Static"))
        await pilot.press("enter")  # saved unchanged
        await settle(app, pilot)
        assert mine(db_path) == (OWNER, NOTE)
        await pilot.press("e")
        await settle(app, pilot)
        assert app.screen.query_one(Input).value == "first line\u240asecond line<U+202E>"
        await pilot.press("end", *" ok", "enter")  # appended to: the rest is as it was
        await settle(app, pilot)
        assert mine(db_path) == (OWNER, NOTE + " ok")
        await pilot.press("e")
        await settle(app, pilot)
        # the reviewer deletes the visible newline and types a space: that character changes
        await pilot.press("home", *["right"] * 10, "delete", "space", "enter")
        await settle(app, pilot)
        assert mine(db_path) == (OWNER, "first line second line\u202e ok")
    # a rule for that owner still matches: the owner was never rewritten
    policy = tmp_path / "p.toml"
    policy.write_text(
        'promise = "p"\n[[rule]]\nid = "ops"\nmetric = "open_findings"\nfor_owner = "ops\\u0007team"\n'
        'max = 0\naction = "rollback"\nowner = "o"\nwhy = "w"\n'
    )
    r = CliRunner().invoke(
        cli, ["gate", "1", "2", "--policy", str(policy), "--no-record", "--json"]
    )
    assert r.exit_code == 13 and json.loads(r.stdout)["rules"][0]["value"] == 1.0
