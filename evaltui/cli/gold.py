"""Hidden gold items: `gold add|withdraw|import|list` (docs/calibration.md, docs/security.md)."""

from __future__ import annotations

from pathlib import Path

import click

from evaltui.cli.app import cli, open_store, store_path
from evaltui.cli.calibrate import CRITERION, EPOCH, result_of
from evaltui.cli.output import echo, make_table, print_rows
from evaltui.errors import InputError
from evaltui.review.calibration import files, gold
from evaltui.review.calibration.judgments import criterion_name, criterion_word
from evaltui.review.calibration.report import check_criterion
from evaltui.store.runs import grader
from evaltui.textsafe import one_line, safe_json, visible


@cli.group("gold")
def gold_group() -> None:
    """Hidden gold items: results with a known answer, set by an adjudicator, mixed
    unmarked into reviewers' judging queues (docs/calibration.md, docs/security.md)."""


@gold_group.command("add")
@click.argument("run")
@click.argument("case")
@click.option("--answer", type=click.Choice(["pass", "fail"]), required=True)
@CRITERION
@EPOCH
@click.option("--note", help="One line: why this is the answer.")
@click.pass_context
def gold_add(
    ctx: click.Context,
    run: str,
    case: str,
    answer: str,
    criterion: str | None,
    epoch: int | None,
    note: str | None,
) -> None:
    """Set RUN's result on CASE as a gold item with ANSWER (adjudicators only)."""

    with open_store(store_path(ctx)) as store:
        ref = result_of(store, run, case, epoch)
        crit = criterion_name(criterion)
        check_criterion(store.conn, [ref.run_id], crit)
        gold.set_answer(store, ref, crit, answer, note=note)  # type: ignore[arg-type]
        total = gold.count(store.conn)
    echo(f"gold item set ({total:,} in force)")


@gold_group.command("withdraw")
@click.argument("run")
@click.argument("case")
@CRITERION
@EPOCH
@click.pass_context
def gold_withdraw(
    ctx: click.Context, run: str, case: str, criterion: str | None, epoch: int | None
) -> None:
    """Withdraw a gold item (adjudicators only); answers already given stay recorded."""

    with open_store(store_path(ctx)) as store:
        ref = result_of(store, run, case, epoch)
        gold.set_answer(store, ref, criterion_name(criterion), None)
        total = gold.count(store.conn)
    echo(f"gold item withdrawn ({total:,} in force)")


@gold_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def gold_import(ctx: click.Context, file: Path) -> None:
    """Gold answers from a CSV or JSON-lines FILE: run, case, epoch, criterion, answer,
    note (adjudicators only; importing the same file again adds nothing)."""

    with open_store(store_path(ctx)) as store:
        added, there = files.import_gold(store, file)
    echo(f"imported {added:,} gold answers ({there:,} already there)")


@gold_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Stable JSON.")
@click.pass_context
def gold_list(ctx: click.Context, as_json: bool) -> None:
    """The gold items in force. Their answers are shown only to an adjudicator (anyone,
    when the store lists none); others see how many there are per criterion."""

    with open_store(store_path(ctx)) as store:
        items = gold.in_force(store.conn)
        try:
            gold.check_adjudicator(store, store.actor)
            shown = True
        except InputError:
            shown = False
        keys = grader.case_keys(store.conn, (g.ref.case_id for g in items))
    if not shown:
        counts: dict[str, int] = {}
        for g in items:
            counts[criterion_word(g.criterion)] = counts.get(criterion_word(g.criterion), 0) + 1
        if as_json:
            echo(safe_json({"answers_shown": False, "by_criterion": counts}))
        else:
            echo(
                f"{len(items):,} gold items in force (answers are shown to adjudicators only): "
                + ", ".join(f"{visible(k, limit=40)} {n}" for k, n in sorted(counts.items()))
            )
        return
    rows = [
        {
            "run": g.ref.run_id,
            "case": "/".join(keys.get(g.ref.case_id, ("", ""))),
            "epoch": g.ref.epoch,
            "criterion": criterion_word(g.criterion),
            "answer": g.answer,
            "set_by": g.set_by,
            "at": g.at,
            "note": g.note,
        }
        for g in items
    ]
    if as_json:
        echo(safe_json({"answers_shown": True, "items": rows}))
        return
    if not rows:
        echo("No gold items: `evaltui gold add RUN CASE --answer pass|fail` sets one.")
        return
    table = make_table(
        ("run", "right"),
        ("case", "left"),
        ("epoch", "right"),
        ("criterion", "left"),
        ("answer", "left"),
        ("set by", "left"),
    )
    print_rows(
        table,
        [
            [
                str(r["run"]),
                one_line(r["case"], 40),
                str(r["epoch"]),
                one_line(r["criterion"], 30),
                str(r["answer"]),
                one_line(r["set_by"], 20),
            ]
            for r in rows
        ],
    )
