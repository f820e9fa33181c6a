"""Measuring the judges: calibration samples, blind judgments, the calibration report, gold.

`calibrate sample|samples|judge|label|import|export|report` (docs/calibration.md, docs/cli.md);
the gold commands are cli/gold.py. Each writes at once (one transaction) and records an
event; bad input is one line naming the file, line and field, exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from evaltui import service, signing
from evaltui.cli.app import InputFile, cli, open_app, open_store, reviewer, store_path
from evaltui.cli.output import echo, make_table, print_rows
from evaltui.files import write_atomic
from evaltui.review.calibration import files, judgments, samples
from evaltui.review.calibration.export import report_json, sample_json
from evaltui.review.calibration.judgments import criterion_name, criterion_word
from evaltui.review.calibration.report import check_criterion, report
from evaltui.review.calibration.text import report_lines
from evaltui.store import Store, runs
from evaltui.store.runs import grader
from evaltui.textsafe import one_line, safe_json, visible

CRITERION = click.option(
    "--criterion",
    help="A criterion the run scores; default (or `verdict`): the result's own verdict.",
)
EPOCH = click.option(
    "--epoch", type=click.IntRange(min=0), help="The sample, when the case has several."
)


def _run_or_mark(store: Store, ref: str | None, mark: str) -> int:
    """RUN, or the run marked `mark` (the app's marks, `evaltui runs`)."""

    if ref is not None:
        return runs.resolve_run(store, ref)
    run = service.get_selection(store).get(mark)
    if run is None:
        raise click.UsageError(f"give RUN: no run is marked {mark} (mark one in the app)")
    return run


def result_of(store: Store, run: str, case: str, epoch: int | None) -> Any:

    run_id = runs.resolve_run(store, run)
    return grader.resolve_result(store.conn, run_id, runs.resolve_case(store, case), epoch)


@cli.group("calibrate")
def calibrate_group() -> None:
    """Measure the grader against blind human judgments (docs/calibration.md)."""


@calibrate_group.command("sample")
@click.argument("run", required=False)
@CRITERION
@click.option(
    "--n", "n", type=click.IntRange(min=1), default=60, show_default=True, help="Results to draw."
)
@click.option("--seed", type=int, default=0, show_default=True, help="The draw's seed.")
@click.option("--by", "dimension", help="Stratify by this segment dimension (and verdict).")
@click.option(
    "--per-segment",
    is_flag=True,
    help="The same number from each segment of --by (per-segment figures).",
)
@click.option(
    "--gold-rate",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.0,
    show_default=True,
    help="Share of a reviewer's queue that is hidden gold items.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the items as a labels file (CSV) to fill elsewhere.",
)
@click.option("--json", "as_json", is_flag=True, help="The sample as JSON.")
@click.pass_context
def sample_cmd(
    ctx: click.Context,
    run: str | None,
    criterion: str | None,
    n: int,
    seed: int,
    dimension: str | None,
    per_segment: bool,
    gold_rate: float,
    out: Path | None,
    as_json: bool,
) -> None:
    """Draw a seeded, stratified sample of RUN's results to judge blind (default: the
    candidate). Passes and fails alike: calibrating on changed or failing cases only
    measures the grader where it is worst. Kept in the store as a judging queue.

    \b
    Example:
      evaltui calibrate sample cand-2026-11-20 --criterion grounded --n 60 --seed 7
    """

    with open_store(store_path(ctx)) as store:
        run_id = _run_or_mark(store, run, "candidate")
        crit = criterion_name(criterion)
        check_criterion(store.conn, [run_id], crit)
        if out is not None and out.exists():
            raise click.UsageError(f"{out} exists: give a new file for --out")
        kept = samples.draw(
            store,
            run_id,
            crit,
            n=n,
            seed=seed,
            dimension=dimension,
            per_segment=per_segment,
            gold_rate=gold_rate,
        )
        if out is not None:
            write_atomic(out, files.sample_csv(files.sample_rows(store, kept)))
    data = sample_json(kept)
    if as_json:
        echo(safe_json(data))
        return
    echo(
        f"sample {kept.id}: {len(kept.items):,} of {data['frame_size']:,} results of run "
        f"{run_id} on {visible(data['criterion'], limit=80)}, seed {seed} "
        f"(frame {str(data['frame_sha256'])[:12]}); judge them: evaltui calibrate judge {kept.id}"
    )
    if not data["self_weighting"]:
        echo(
            "note: segments were drawn at different fractions; their pooled TPR and TNR "
            "weight each segment by its draw, not its size (docs/calibration.md)"
        )


@calibrate_group.command("samples")
@click.argument("run", required=False)
@click.option("--json", "as_json", is_flag=True, help="Stable JSON.")
@click.pass_context
def samples_cmd(ctx: click.Context, run: str | None, as_json: bool) -> None:
    """The calibration samples kept (of RUN, when given) and how many of each you judged."""

    me = reviewer(ctx)
    with open_store(store_path(ctx)) as store:
        run_id = runs.resolve_run(store, run) if run else None
        kept = samples.samples(store.conn, run_id)
        mine = [
            len(judgments.judged(store.conn, me, s.items, s.criterion, "calibration")) for s in kept
        ]
    rows = [{**sample_json(s), "judged_by_you": k} for s, k in zip(kept, mine, strict=True)]
    if as_json:
        echo(safe_json(rows))
        return
    if not rows:
        echo("No calibration samples yet: `evaltui calibrate sample RUN` draws one.")
        return
    table = make_table(
        ("sample", "right"),
        ("run", "right"),
        ("criterion", "left"),
        ("seed", "right"),
        ("drawn", "right"),
        ("judged by you", "right"),
        ("made by", "left"),
        ("at", "left"),
    )
    print_rows(
        table,
        [
            [
                str(r["id"]),
                str(r["run"]),
                one_line(r["criterion"], 30),
                str(r["seed"]),
                f"{r['drawn']:,}",
                f"{r['judged_by_you']:,}",
                one_line(r["made_by"], 20),
                r["at"][:19],
            ]
            for r in rows
        ],
    )


@calibrate_group.command("judge")
@click.argument("sample")
@click.pass_context
def judge_cmd(ctx: click.Context, sample: str) -> None:
    """Open the app's judging screen on SAMPLE: each result blind (the grader's verdict
    hidden until you answer): p pass, f fail, s unsure, e note, u undo."""

    path = store_path(ctx)
    with open_store(path) as store:
        kept = samples.get_sample(store.conn, sample)
    open_app(path, ctx.obj.get("taxonomy"), judge=kept.id)


@calibrate_group.command("label")
@click.argument("run")
@click.argument("case")
@CRITERION
@EPOCH
@click.option("--verdict", type=click.Choice(["pass", "fail", "unsure"]), help="Your judgment.")
@click.option("--note", help="One line: why.")
@click.option("--undo", is_flag=True, help="Undo your judgment in force on this result.")
@click.option("--json", "as_json", is_flag=True, help="The judgment as JSON.")
@click.pass_context
def label_cmd(
    ctx: click.Context,
    run: str,
    case: str,
    criterion: str | None,
    epoch: int | None,
    verdict: str | None,
    note: str | None,
    undo: bool,
    as_json: bool,
) -> None:
    """Record your judgment of RUN's result on CASE (the judging screen's keys, scripted).

    The judgment counts in the grader's calibration like one made on the screen."""

    if undo == (verdict is not None):
        raise click.UsageError("give --verdict, or --undo")
    with open_store(store_path(ctx)) as store:
        ref = result_of(store, run, case, epoch)
        crit = criterion_name(criterion)
        check_criterion(store.conn, [ref.run_id], crit)
        if undo:
            done = judgments.undo(store, ref, crit)
        else:
            done = judgments.record(store, ref, crit, verdict, note=note)  # type: ignore[arg-type]
    data = (
        None
        if done is None
        else {
            "uid": done.uid,
            "run": ref.run_id,
            "case": case,
            "epoch": ref.epoch,
            "criterion": criterion_word(crit),
            "kind": done.kind,
            "verdict": done.verdict,
            "reviewer": done.reviewer,
            "at": done.at,
        }
    )
    if as_json:
        echo(safe_json(data))
    elif data is None:
        echo("nothing to undo: you have no judgment on this result")
    else:
        echo(
            f"saved: {visible(case, limit=200)} {data['criterion']} = {data['verdict'] or '-'} "
            f"({data['kind']}, {visible(data['reviewer'], limit=80)})"
        )


@calibrate_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--allowed-signers",
    type=InputFile("allowed-signers file"),
    help="Verify FILE.sig against this allowed-signers file (default: the store's, "
    "`evaltui findings signers`); with it, FILE must be signed.",
)
@click.option("--json", "as_json", is_flag=True, help="The counts as JSON.")
@click.pass_context
def import_cmd(ctx: click.Context, file: Path, allowed_signers: Path | None, as_json: bool) -> None:
    """Add judgments made elsewhere: a CSV (with a header) or JSON-lines FILE with
    run, case, epoch, criterion, verdict (pass/fail/unsure), reviewer, sample, note.
    Every row is checked first; importing the same file again adds nothing. A signed
    FILE (FILE.sig, `calibrate export --sign`) is verified first and speaks only for its
    signer; one that does not check is refused, the store unchanged."""

    with open_store(store_path(ctx)) as store:
        added, there, signer = files.import_judgments(store, file, allowed_signers)
    if as_json:
        signed_by = {"signer": signer} if signer else {}  # an unsigned file's JSON as before
        echo(safe_json({"added": added, "already_there": there, **signed_by}))
    else:
        signed = f", signed by {visible(signer, limit=80)} (verified)" if signer else ""
        echo(f"imported {added:,} judgments ({there:,} already there){signed}")


@calibrate_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--sign",
    "sign_key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Sign with this SSH private key (as git does): writes FILE.sig next to FILE.",
)
@click.pass_context
def export_cmd(ctx: click.Context, file: Path, sign_key: Path | None) -> None:
    """Write every judgment in force (not gold) as JSON lines, with their uids: another
    store's `calibrate import FILE` adds them once, however often files are exchanged.
    Never over an existing file. With --sign, a detached SSH signature FILE.sig
    (namespace evaltui-judgments): the importer verifies it, and a signed file speaks
    only for its signer, so a signed file holds only yours (`--reviewer`)."""

    if file.exists():
        raise click.UsageError(f"{file} exists: give a new file")
    with open_store(store_path(ctx)) as store:
        rows = files.export_rows(store, store.actor if sign_key is not None else None)
    write_atomic(file, "".join(safe_json(r, indent=None, sort_keys=True) + "\n" for r in rows))
    signed = ""
    if sign_key is not None:
        signing.sign(file, sign_key, signing.JUDGMENTS)
        signed = f" and its signature {visible(file.name, limit=200)}.sig"
    echo(f"exported {len(rows):,} judgments to {visible(str(file), limit=300)}{signed}")


@calibrate_group.command("report")
@click.argument("run", required=False)
@click.option("--baseline", help="Also the corrected paired delta against this run.")
@CRITERION
@click.option("--by", "dimension", help="Per segment of this dimension, where evidence allows.")
@click.option("--json", "as_json", is_flag=True, help="Stable JSON (docs/calibration.md).")
@click.pass_context
def report_cmd(
    ctx: click.Context,
    run: str | None,
    baseline: str | None,
    criterion: str | None,
    dimension: str | None,
    as_json: bool,
) -> None:
    """The grader's agreement with the judgments, its corrected pass rate and (with a
    baseline) the corrected paired delta, with intervals. RUN defaults to the candidate
    mark, and then --baseline to the baseline mark.

    \b
    Example:
      evaltui calibrate report cand-2026-11-20 --baseline prod-2026-11-02 --criterion grounded
    """

    with open_store(store_path(ctx)) as store:
        run_id = _run_or_mark(store, run, "candidate")
        base = runs.resolve_run(store, baseline) if baseline else None
        if run is None and base is None:
            base = _run_or_mark(store, None, "baseline")
        crit = None if criterion is None else criterion_name(criterion)
        data = report_json(
            report(store.conn, run_id, baseline=base, criterion=crit, dimension=dimension)
        )
    if as_json:
        echo(safe_json(data))
        return
    for line in report_lines(data):
        echo(line)
