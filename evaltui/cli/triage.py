"""Triage: label a case, exchange and compare findings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from evaltui.cli.app import InputFile, cli, open_store, store_path, taxonomy_in_force
from evaltui.cli.output import echo, make_table, print_rows
from evaltui.files import check_writable
from evaltui.models import CASE_STATUSES, FINDING_VERDICTS
from evaltui.review import triage
from evaltui.review.calibration import triage_gold
from evaltui.stats import pct
from evaltui.store.runs import resolve_case, resolve_run
from evaltui.textsafe import one_line, safe_json, visible


@cli.command("label")
@click.argument("baseline")
@click.argument("candidate")
@click.argument("case")
@click.option("--class", "cls", help="Failure class: key, number or name (evaltui taxonomy).")
@click.option("--owner", help="Owner of the repair (default: the class's owner).")
@click.option(
    "--verdict",
    type=click.Choice(FINDING_VERDICTS),
    help="What the change is.",
)
@click.option("--note", help="One line: why.")
@click.option(
    "--adjudicate", is_flag=True, help="This finding settles a disagreement between reviewers."
)
@click.option(
    "--step",
    "step_no",
    type=click.IntRange(min=1),
    help="Agent runs: the N-th tool call of the case's aligned path is where the failure is "
    "(evaltui case BASE CAND KEY lists them); goes with --class.",
)
@click.pass_context
def label_cmd(
    ctx: click.Context,
    baseline: str,
    candidate: str,
    case: str,
    cls: str | None,
    owner: str | None,
    verdict: str | None,
    note: str | None,
    adjudicate: bool,
    step_no: int | None,
) -> None:
    """Label a case within a comparison: failure class, owner, verdict, note.

    CASE is a case key (or SUITE/KEY). Fields not given keep your earlier
    values on this case. Committed at once, and recorded in the event log.

    \b
    Example:
      evaltui label prod-2026-11-02 cand-2026-11-20 refunds-004 \\
          --class unsafe_tool_action --verdict real_regression --note "changed the card in chat"
    """
    if not any(v is not None for v in (cls, owner, verdict, note)):
        raise click.UsageError("give at least one of --class, --owner, --verdict, --note")
    with open_store(store_path(ctx)) as store:
        base, cand = resolve_run(store, baseline), resolve_run(store, candidate)
        case_id = resolve_case(store, case)
        kwargs: dict[str, Any] = {}
        if cls is not None:
            kwargs["failure_class"] = taxonomy_in_force(ctx, store).resolve(cls)
        if owner is not None:
            kwargs["owner"] = owner
        if verdict is not None:
            kwargs["verdict"] = verdict
        if note is not None:
            kwargs["note"] = note
        if step_no is not None:
            if cls is None:
                raise click.UsageError(
                    "--step goes with --class: the class of the failure at that call"
                )
            from evaltui.compare import Comparison  # load time: compare/, only for --step

            with Comparison(store.path, base, cand, statuses=frozenset(CASE_STATUSES)) as cmp:
                kwargs["step"] = cmp.step_in_case(case_id, step_no - 1)
        finding = triage.label(store, base, cand, case_id, adjudicate=adjudicate, **kwargs)
        eff = triage.effective(
            triage.history(store, base, cand, case_id), triage.adjudicators(store)
        )
    state: str = eff.state if eff else "untriaged"
    if eff and state == "triaged" and eff.class_key is None and eff.verdict is None:
        state = "untriaged: an owner or a note alone; a class or a verdict triages it"
    echo(
        f"saved: {visible(case, limit=200)} class={finding.class_key or '-'} owner={visible(finding.owner or '-', limit=80)} "
        f"verdict={finding.verdict or '-'} ({state})"
    )


@cli.group("findings")
def findings_group() -> None:
    """List, export, import and compare reviewers' findings."""


@findings_group.command("list")
@click.option("--baseline", help="Only this baseline run.")
@click.option("--candidate", help="Only this candidate run.")
@click.option("--owner", help="Only this owner.")
@click.option("--class", "cls", help="Only this failure class (key).")
@click.option("--disagreements", is_flag=True, help="Only cases where reviewers disagree.")
@click.option("--json", "as_json", is_flag=True, help="Stable JSON (docs/triage.md).")
@click.pass_context
def findings_list(
    ctx: click.Context,
    baseline: str | None,
    candidate: str | None,
    owner: str | None,
    cls: str | None,
    disagreements: bool,
    as_json: bool,
) -> None:
    """Each case's current finding (or disagreement).

    A case is triaged once a verified finding gives it a failure class or a verdict;
    an owner or a note alone leaves it `untriaged`, and a case only unverified
    findings speak on is `unverified` (shown, never counted by the gate).
    """
    with open_store(store_path(ctx)) as store:
        rows = triage.list_findings(
            store,
            base=resolve_run(store, baseline) if baseline else None,
            cand=resolve_run(store, candidate) if candidate else None,
            owner=owner,
            failure_class=cls,
            disagreements=disagreements,
        )
    if as_json:
        echo(safe_json([r.model_dump() for r in rows]))
        return
    if not rows:
        echo("No findings match.")
        return
    table = make_table(
        ("case", "left"),
        ("state", "left"),
        ("class", "left"),
        ("owner", "left"),
        ("verdict", "left"),
        ("reviewers", "left"),
        ("note", "left"),
        ("baseline", "left"),
        ("candidate", "left"),
    )
    print_rows(
        table,
        [
            [
                one_line(f"{r.suite}/{r.case_key}", 40),
                r.state,
                r.class_key or "-",
                one_line(r.owner or "-", 20),
                r.verdict or "-",
                one_line(", ".join(r.reviewers), 30),
                one_line(r.note or "", 40),
                one_line(r.baseline, 24),
                one_line(r.candidate, 24),
            ]
            for r in rows
        ],
        optional={"baseline", "candidate", "reviewers"},
    )
    with open_store(store_path(ctx)) as store:
        on_gold = triage_gold.accuracy(store.conn)
    if on_gold:  # #27: hidden gold in the queue, scored; never which cases
        echo(
            "on hidden gold (triage answers, every comparison): "
            + "; ".join(_gold_line(g) for g in on_gold)
        )
    uncounted = [r for r in rows if r.uncounted_adjudications]
    if uncounted:
        echo(
            f"{len(uncounted):,} cases hold an adjudication this store keeps but does not count "
            "(unverified, or by a reviewer it does not list): their states here differ from a "
            "store that counts it: "
            + ", ".join(one_line(f"{r.suite}/{r.case_key}", 40) for r in uncounted[:10])
        )


def _gold_line(g: triage_gold.TriageGold) -> str:
    a = g.overall
    iv = f" ({pct(a.interval.low)} to {pct(a.interval.high)})" if a.interval else ""
    return f"{visible(g.reviewer, limit=40)} {a.correct}/{a.n} right, {pct(a.accuracy)}{iv}"


@findings_group.command("gold")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.pass_context
def findings_gold(ctx: click.Context, as_json: bool) -> None:
    """Each reviewer's accuracy on the hidden gold cases they triaged (#27).

    A gold answer on a candidate's result is scored against the reviewer's triage verdict
    on the case: real_regression or accepted keeps the grader's verdict, grader_wrong turns
    it over. Which cases are gold is never shown (docs/security.md)."""
    with open_store(store_path(ctx)) as store:
        rows = triage_gold.accuracy(store.conn)
    if as_json:
        echo(safe_json([g.as_json() for g in rows]))
    elif not rows:
        echo("No triage answer on a gold case yet.")
    for g in [] if as_json else rows:
        on_pass, on_fail = g.on_pass, g.on_fail
        echo(
            f"{_gold_line(g)}; on pass {on_pass.correct}/{on_pass.n}, "
            f"on fail {on_fail.correct}/{on_fail.n}"
        )


@findings_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--baseline", help="Only this baseline run.")
@click.option("--candidate", help="Only this candidate run.")
@click.option(
    "--sign",
    "sign_key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Sign with this SSH private key (as git does): writes FILE.sig next to FILE.",
)
@click.option(
    "--otlp",
    is_flag=True,
    help="As OpenTelemetry gen_ai.evaluation.result events (OTLP/JSON logs).",
)
@click.option("--endpoint", help="With --otlp: also POST them to this OTLP/HTTP logs URL.")
@click.pass_context
def findings_export(
    ctx: click.Context,
    file: Path | None,
    baseline: str | None,
    candidate: str | None,
    sign_key: Path | None,
    otlp: bool,
    endpoint: str | None,
) -> None:
    """Write every finding to FILE: one per line, stable order, diff-friendly.

    \b
    Example (the reviewer importing it verifies FILE.sig against their allowed-signers file):
      evaltui findings export ana.jsonl --sign ~/.ssh/id_ed25519
    """
    from evaltui.review import findings_files  # load time: it loads every importer

    if otlp or endpoint:  # docs/triage.md: triage out as OpenTelemetry
        _export_otlp(ctx, file, baseline, candidate, sign_key, otlp, endpoint)
        return
    if file is None:
        raise click.UsageError("FILE is required (or --otlp --endpoint URL)")
    check_writable(file)
    with open_store(store_path(ctx)) as store:
        n = findings_files.export(
            store,
            file,
            base=resolve_run(store, baseline) if baseline else None,
            cand=resolve_run(store, candidate) if candidate else None,
            sign_key=sign_key,
        )
    signed = f" and its signature {visible(file.name)}.sig" if sign_key else ""
    echo(f"wrote {n:,} findings to {visible(str(file))}{signed}")


def _export_otlp(
    ctx: click.Context,
    file: Path | None,
    baseline: str | None,
    candidate: str | None,
    sign_key: Path | None,
    otlp: bool,
    endpoint: str | None,
) -> None:
    from evaltui.exporters import findings_otlp  # load time: only --otlp exports spans

    if not otlp or sign_key or (file is None and not endpoint):
        raise click.UsageError(
            "--endpoint goes with --otlp; --otlp takes FILE or --endpoint "
            "URL (or both), and no --sign"
        )
    if file is not None:
        check_writable(file)
    with open_store(store_path(ctx)) as store:
        n, sent = findings_otlp.export(
            store,
            file,
            endpoint,
            base=resolve_run(store, baseline) if baseline else None,
            cand=resolve_run(store, candidate) if candidate else None,
        )
    where = [f"to {visible(str(file))}"] if file else []
    where += [f"to {visible(endpoint)} ({sent} request(s))"] if endpoint else []
    echo(f"wrote {n:,} findings as gen_ai.evaluation.result events {' and '.join(where)}")


@findings_group.command("import")
@click.argument("file", type=InputFile("findings file"))
@click.option(
    "--allowed-signers",
    type=InputFile("allowed-signers file"),
    help="Verify FILE.sig against this allowed-signers file (default: --policy's, else "
    "the store's, `evaltui findings signers`).",
)
@click.option(
    "--policy",
    "policy_path",
    type=InputFile("policy"),
    help="Take the allowed-signers file from this gate policy (its allowed_signers key).",
)
@click.pass_context
def findings_import(
    ctx: click.Context, file: Path, allowed_signers: Path | None, policy_path: Path | None
) -> None:
    """Merge another reviewer's findings file (one transaction; known findings skipped).

    Without a verified signature every finding is kept as unverified ("NAME
    (unverified)"): it is an opinion of its own, and never replaces, retracts or
    adjudicates anyone's finding. A signed file speaks only for its signer.
    """
    from evaltui.review import findings_files  # load time: it loads every importer

    if allowed_signers is None and policy_path is not None:
        from evaltui.gate import load_policy  # load time: gate/ loads compare/

        allowed_signers = load_policy(policy_path).allowed_signers
    with open_store(store_path(ctx)) as store:
        out = findings_files.import_file(
            store, file, taxonomy=taxonomy_in_force(ctx, store), allowed_signers=allowed_signers
        )
    if out.signer:
        who = f"signed by {visible(out.signer, limit=80)} (verified)"
    elif out.signature.startswith("signed"):
        who = (
            "signed, but not verified here (no allowed-signers file: `evaltui findings signers "
            "FILE` or --allowed-signers): kept as unverified"
        )
    else:
        who = "unsigned: kept as unverified"
    echo(
        f"merged {out.added:,} findings ({out.skipped:,} already here) on {out.cases:,} cases, "
        f"{who}; {out.disagreements:,} in disagreement (evaltui findings list --disagreements)"
    )
    if out.uncounted_adjudications:
        echo(
            f"{out.uncounted_adjudications:,} adjudications kept but not counted in this store "
            "(unverified, or by a reviewer not listed by `evaltui findings adjudicators`): the "
            "states of their cases here differ from a store that counts them: "
            + "; ".join(visible(u, limit=120) for u in out.uncounted)
        )


@findings_group.command("adjudicators")
@click.option("--add", "add", multiple=True, help="List this reviewer as an adjudicator.")
@click.option("--remove", "remove", multiple=True, help="No longer list this reviewer.")
@click.pass_context
def findings_adjudicators(
    ctx: click.Context, add: tuple[str, ...], remove: tuple[str, ...]
) -> None:
    """The reviewers whose adjudications settle a disagreement in this store.

    While none are listed any local reviewer may adjudicate; adjudications from
    files count only when signed by a listed adjudicator (or any signed reviewer
    while none are listed).
    """
    for name in add:
        triage.check_name(name, "--add", "adjudicator")  # refused before the store is opened
    with open_store(store_path(ctx), write=bool(add or remove)) as store:
        names = triage.adjudicators(store)
        changed = 0
        if add or remove:
            names = sorted({*names, *add} - set(remove))
            changed = triage.set_adjudicators(store, names)
    echo(", ".join(visible(n, limit=80) for n in names) or "none listed: any local reviewer")
    if changed:
        echo(f"{changed:,} cases changed state (which adjudications count depends on the list)")


@findings_group.command("signers")
@click.argument("file", required=False, type=InputFile("allowed-signers file"))
@click.pass_context
def findings_signers(ctx: click.Context, file: Path | None) -> None:
    """Show, or set, the allowed-signers file findings imports are verified against."""
    from evaltui.review.findings_files import SIGNERS_SETTING  # load time: every importer

    with open_store(store_path(ctx), write=file is not None) as store:
        if file is not None:
            store.set_setting(SIGNERS_SETTING, str(file.resolve()))
        current = store.get_setting(SIGNERS_SETTING)
    echo(visible(current) if current else "none: findings imports are kept unverified")


@findings_group.command("undo")
@click.argument("baseline")
@click.argument("candidate")
@click.pass_context
def findings_undo(ctx: click.Context, baseline: str, candidate: str) -> None:
    """Undo your latest finding in a comparison (the undo is recorded too)."""
    with open_store(store_path(ctx)) as store:
        f = triage.undo(store, resolve_run(store, baseline), resolve_run(store, candidate))
    echo("nothing to undo" if f is None else f"undone on {visible(f.case_key, limit=200)}")


@findings_group.command("agreement")
@click.option("--baseline", help="Only this baseline run.")
@click.option("--candidate", help="Only this candidate run.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.pass_context
def findings_agreement(
    ctx: click.Context, baseline: str | None, candidate: str | None, as_json: bool
) -> None:
    """Percent agreement and Cohen's kappa per reviewer pair, on class and on verdict."""
    with open_store(store_path(ctx)) as store:
        rows = triage.agreement(
            store,
            base=resolve_run(store, baseline) if baseline else None,
            cand=resolve_run(store, candidate) if candidate else None,
        )
    if as_json:
        echo(safe_json([r.model_dump() for r in rows]))
        return
    if not rows:
        echo("Fewer than two reviewers have findings.")
        return

    def f(x: float | None, pct: bool = False) -> str:
        return "-" if x is None else (f"{x:.0%}" if pct else f"{x:.3f}")

    table = make_table(
        ("reviewers", "left"),
        ("cases", "right"),
        ("class agree", "right"),
        ("class kappa", "right"),
        ("verdict agree", "right"),
        ("verdict kappa", "right"),
    )
    print_rows(
        table,
        [
            [
                one_line(" + ".join(r.reviewers), 40),
                str(r.cases),
                f(r.class_agreement, True),
                f(r.class_kappa),
                f(r.verdict_agreement, True),
                f(r.verdict_kappa),
            ]
            for r in rows
        ],
        optional=set(),
    )
