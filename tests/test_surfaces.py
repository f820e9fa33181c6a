"""The untrusted-text door on surfaces the first pass missed: notifications, prompts pre-filled
with data, the import progress bar, taxonomy export, CLI tables fed by a crafted store."""

from __future__ import annotations

import io
import json

from click.testing import CliRunner
from rich.console import Console

from evaltui import service
from evaltui.cli import cli
from evaltui.cli.runs import _progress_hook
from evaltui.importers import ParsedRun
from evaltui.models import Run
from evaltui.review import taxonomy, triage
from evaltui.review.taxonomy import FailureClass, Taxonomy
from evaltui.store import Store
from evaltui.tui.app import EvaltuiApp
from evaltui.tui.screens.prompts import TextPrompt

from .helpers import line, write_jsonl
from .tui.test_compare_screen import open_compare, settle

EVIL = "k\x1b]0;PWNED\x07\x1b]52;c;SGk=\x07\x9b31m\u202e[/][link=javascript:alert(1)]x"
RAW = ("\x1b", "\x07", "\x9b", "\u202e")


def inert(text: str) -> bool:
    return not any(c in text for c in RAW)


def test_a_taxonomy_export_is_inert_and_imports_again(tmp_path):
    tax = Taxonomy([FailureClass(key="evil", name=EVIL, owner=EVIL, description=EVIL + "\nline 2")])
    text = taxonomy.to_toml(tax)
    assert inert(text) and "\x7f" not in text
    path = tmp_path / "t.toml"
    path.write_text(text)
    (back,) = taxonomy.parse_toml(path).classes
    assert (back.name, back.owner, back.description) == (EVIL, EVIL, EVIL + "\nline 2")


def test_the_progress_bar_shows_markup_in_a_run_name_as_text():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    bar, hook = _progress_hook(console, True)
    run = Run(
        name="[/]evil[link=javascript:alert(1)]x\x1b]0;T\x07", format="native", source_path="x"
    )
    with bar:  # an unbalanced [/] used to crash the import on a terminal
        on_batch = hook(ParsedRun(run, iter(())))
        on_batch(1)
    shown = out.getvalue()
    assert "[/]evil[link=javascript:alert(1)]x" in shown  # literally, as text
    assert "\x1b]8;" not in shown and "\x1b]0;T" not in shown  # no hyperlink, no title


def test_cli_tables_are_inert_even_from_a_crafted_store(db_path, tmp_path):
    src = write_jsonl(tmp_path / "r.jsonl", [line("a")], header={"name": "r"})
    with Store(db_path) as store:
        service.import_path(store, src)
        store.conn.execute("UPDATE runs SET system = ?, format = ?", (EVIL, EVIL))
        store.conn.execute("DROP TRIGGER events_no_update")  # someone crafted this store
        store.conn.execute(
            "UPDATE events SET action = ?, entity = ?, actor = ?", (EVIL, EVIL, EVIL)
        )
        store.conn.execute(  # and put the trigger back (a store missing it is refused)
            "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
            "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
        )
    run = CliRunner()
    for args in (["runs"], ["log"]):
        r = run.invoke(cli, ["--db", str(db_path), *args], env={"COLUMNS": "200"})
        assert r.exit_code == 0 and inert(r.output), (args, r.output)


async def test_notifications_and_prefilled_prompts_are_inert(db_path, tmp_path):
    rows = lambda v: [line(EVIL, v), line("plain", v)]  # noqa: E731
    with Store(db_path) as store:
        b = service.import_path(
            store, write_jsonl(tmp_path / "b.jsonl", rows("pass"), header={"name": "b"})
        )
        c = service.import_path(
            store, write_jsonl(tmp_path / "c.jsonl", rows("fail"), header={"name": "c"})
        )
        service.mark_run(store, "baseline", b[0].run_id)
        service.mark_run(store, "candidate", c[0].run_id)
        cid = store.conn.execute("SELECT id FROM cases WHERE case_key = ?", (EVIL,)).fetchone()[0]
        triage.label(store, b[0].run_id, c[0].run_id, cid, owner=EVIL, note=EVIL)
    app = EvaltuiApp(db_path)
    async with app.run_test(size=(160, 50)) as pilot:
        screen = await open_compare(app, pilot)
        assert screen.current.case_key == EVIL
        await pilot.press("w")  # the owner prompt, pre-filled with the owner
        await settle(app, pilot)
        assert isinstance(app.screen, TextPrompt) and inert(app.screen.value) and app.screen.value
        assert inert(app.screen.title_text)
        await pilot.press("escape", "e")  # the note prompt
        await settle(app, pilot)
        assert isinstance(app.screen, TextPrompt) and inert(app.screen.value)
        await pilot.press("escape")
        await pilot.press("a")  # accepted: "<case key>: accepted (saved)"
        await settle(app, pilot)
        messages = [str(n.message) for n in app._notifications]
        messages.append(str(app.screen.query_one("#status").content))  # the status line
        assert all(inert(m) for m in messages), messages
        assert messages[-1].endswith("accepted (saved)")
    assert json.dumps(messages)  # they are plain text


def test_junit_stays_well_formed_with_xml_invalid_characters(store, tmp_path):
    import xml.etree.ElementTree as ET

    from evaltui import exporters, gate

    ids = []
    for name in ("b", "c"):
        rows = [line("a", "pass" if name == "b" else "fail")]
        ids.append(
            service.import_path(
                store, write_jsonl(tmp_path / f"{name}.jsonl", rows, header={"name": name})
            )[0].run_id
        )
    policy = tmp_path / "p.toml"
    policy.write_text('promise = "p"\n[[rule]]\nid = "r\\uFFFF"\nmetric = "regressions"\nmax = 0\n'
                      'action = "hold"\nowner = "o\\uFFFE"\nwhy = "w\\uFFFF"\n')  # fmt: skip
    rec = gate.evaluate(store, gate.load_policy(policy), *ids, decided_at="t", decided_by="x")
    xml = exporters.to_junit(rec)
    assert "\uffff" not in xml and "\ufffe" not in xml
    assert ET.fromstring(xml).find(".//failure") is not None


def test_markdown_leaves_no_mention_link_email_or_entity_live():
    from evaltui.exporters.markdown import md

    assert md("ping @release-team now") == "`ping @release-team now`"
    assert md("see https://evil.example/x and www.evil.example") == (
        "`see https://evil.example/x and www.evil.example`"
    )
    assert md("mail ceo@example.com") == "`mail ceo@example.com`"
    assert (
        md("a `tick` | pipe @x") == "``a `tick` \\| pipe @x``"
    )  # fenced past the data's backticks
    assert (
        md("&#64;user &amp; <b>") == "\\&\\#64;user \\&amp; \\<b\\>"
    )  # entities and HTML stay text
    assert md("plain text (v2)") == "plain text \\(v2\\)"  # unchanged otherwise
