"""The gate: decide (exit code for CI), the kept decisions, verify a record."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.text import Text

from evaltui import exporters, gate, signing
from evaltui.cli.app import InputFile, cli, open_store, store_path, taxonomy_in_force
from evaltui.cli.output import Shorten, echo, make_console, make_table, print_rows
from evaltui.errors import InputError
from evaltui.exporters.text import fmt_threshold, fmt_value
from evaltui.files import check_writable, read_capped
from evaltui.gate import lock, production, whatif
from evaltui.store.runs import resolve_run
from evaltui.textsafe import one_line, safe_json, visible


@cli.command("gate")
@click.argument("baseline")
@click.argument("candidate")
@click.option("--fallback", help="The fallback run (id or name).")
@click.option(
    "--policy",
    "policy_path",
    required=True,
    type=InputFile("policy"),
    help="The gate policy (TOML, docs/gate.md).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the decision record (JSON).")
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the record (JSON) here."
)
@click.option(
    "--md", "md_path", type=click.Path(dir_okay=False, path_type=Path), help="Write Markdown here."
)
@click.option(
    "--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write JUnit XML here."
)
@click.option(
    "--no-record", is_flag=True, help="Do not keep the decision in the store (a dry run)."
)
@click.option(
    "--status",
    is_flag=True,
    help="Say whether triage can still change the decision (locked or open); records nothing.",
)
@click.option(
    "--what-if",
    "what_if",
    is_flag=True,
    help="Print how the decision would change under --set, --what-if-policy or --assume; "
    "records nothing.",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="RULE.KEY=VALUE",
    help="With --what-if: edit the policy (a rule's key, a top-level key, production.KEY; "
    "an empty VALUE removes the key).",
)
@click.option(
    "--what-if-policy",
    "alt_policy",
    type=InputFile("policy"),
    help="With --what-if: decide under this policy file instead.",
)
@click.option(
    "--assume",
    "assumptions",
    multiple=True,
    metavar="CASE=LABEL",
    help="With --what-if: label CASE (or `untriaged`: every untriaged regression) with a "
    "verdict and/or a failure class, comma-separated.",
)
@click.option(
    "--sign",
    "sign_key",
    type=InputFile("key file"),
    help="Sign the --out record with this SSH private key (writes OUT.sig).",
)
@click.pass_context
def gate_cmd(
    ctx: click.Context,
    baseline: str,
    candidate: str,
    fallback: str | None,
    policy_path: Path,
    as_json: bool,
    out: Path | None,
    md_path: Path | None,
    junit: Path | None,
    no_record: bool,
    status: bool,
    what_if: bool,
    sets: tuple[str, ...],
    alt_policy: Path | None,
    assumptions: tuple[str, ...],
    sign_key: Path | None,
) -> None:
    """Decide: measure every rule of the policy and export the decision record.

    \b
    Exit codes (CI can block a release on them):
      0 ship   10 narrow_rollout   11 repair   12 hold   13 rollback
      2 bad input (policy, runs)   3 store unusable   4 not found

    \b
    Example:
      evaltui gate prod-2026-11-02 cand-2026-11-20 --fallback fallback-2026-11-20 \\
          --policy fixtures/policies/support-assistant.toml --md decision.md --junit gate.xml
    """
    writes = any(x is not None for x in (out, md_path, junit, sign_key))
    if status and writes:
        raise click.UsageError(
            "--status keeps and writes nothing: drop --out, --md, --junit, --sign"
        )
    if (sets or alt_policy or assumptions) and not what_if:
        raise click.UsageError("--set, --what-if-policy and --assume go with --what-if")
    if what_if:
        if writes or status:
            raise click.UsageError(
                "--what-if records and writes nothing: drop --out, --md, --junit, --sign, --status"
            )
        if not (sets or alt_policy or assumptions):
            raise click.UsageError("--what-if needs an edit: --set, --what-if-policy or --assume")
        _what_if(
            ctx,
            (baseline, candidate, fallback),
            policy_path,
            alt_policy,
            sets,
            assumptions,
            as_json,
        )
        return
    if sign_key is not None and out is None:
        raise click.UsageError("--sign signs the --out record: give --out FILE")
    for target in (out, md_path, junit):  # refused before a decision is recorded
        if target is not None:
            check_writable(target)
    loaded = gate.load_policy(policy_path)
    with open_store(store_path(ctx)) as store:
        b, c = resolve_run(store, baseline), resolve_run(store, candidate)
        f = resolve_run(store, fallback) if fallback else None
        tax = taxonomy_in_force(ctx, store)
        record = gate.evaluate(store, loaded, b, c, f, taxonomy=tax)
        if status:  # whether triage can still change it; nothing kept, nothing written
            held = lock.status(store, loaded, record, (b, c, f), tax)
            echo(safe_json(held.as_dict()) if as_json else visible(held.text, limit=2000))
            if not as_json and held.deciding:
                echo("label first: " + ", ".join(visible(k, limit=200) for k in held.deciding))
            return
        if not no_record:
            gate.record_decision(store, record)
    exporters.write_to(record, {"json": out, "markdown": md_path, "junit": junit})
    if sign_key is not None and out is not None:
        sig = signing.sign(out, sign_key, signing.DECISION)
        if not no_record:  # verify then knows a copy without its signature was stripped
            # and the record as kept, signed too: the team store carries it (#30)
            kept = gate.canonical(record.as_dict()).decode("utf-8")
            (kept_sig,) = signing.sign_texts([kept], sign_key, signing.DECISION)
            with open_store(store_path(ctx)) as store:
                gate.note_signed(store, record, sig, kept_sig)
    if as_json:
        echo(exporters.to_json(record), nl=False)
    else:
        console = make_console()
        style = {"ship": "bold green", "narrow_rollout": "bold yellow"}.get(
            record.decision, "bold red"
        )
        prov = record.provenance
        head = Text("decision: ")
        head.append(record.decision.upper(), style=style)
        head.append(
            f"   ({visible(prov.candidate.name, limit=60)} vs "
            f"{visible(prov.baseline.name, limit=60)})"
        )
        console.print(head)
        table = make_table(
            ("result", "left"),
            ("rule", "left"),
            ("scope", "left"),
            ("measured", "right"),
            ("threshold", "left"),
            ("action", "left"),
            ("owner", "left"),
        )
        print_rows(
            table,
            [
                [
                    Text(
                        "ok" if r.passed else "n<min" if r.insufficient else "FAIL",
                        style="green"
                        if r.passed
                        else "bold yellow"
                        if r.insufficient
                        else "bold red",
                    ),
                    one_line(r.id, 32),
                    one_line(r.scope_text, 24),
                    fmt_value(r.value, r.metric),
                    fmt_threshold(r.threshold, r.metric),
                    r.triggers,
                    one_line(r.owner, 20),
                ]
                for r in record.rules
            ],
            optional={"scope", "owner"},
        )
        console.print(Text("why: " + visible(record.why, limit=3000)))
        for line in production.lines(record.production):  # #28: the estimate, the margins
            console.print(Text(visible(line, limit=1000), style="dim"))
        console.print(
            Text(
                f"record {record.content_hash[:16]}" + ("" if no_record else " kept in the store"),
                style="dim",
            )
        )
    sys.exit(gate.EXIT_CODES[record.decision])


def _what_if(
    ctx: click.Context,
    names: tuple[str, str, str | None],
    policy_path: Path,
    alt_policy: Path | None,
    sets: tuple[str, ...],
    assumptions: tuple[str, ...],
    as_json: bool,
) -> None:
    """The decision as it stands and under the edits, both on a scratch copy of the store."""
    loaded = gate.load_policy(policy_path)
    other = whatif.edited(gate.load_policy(alt_policy) if alt_policy else loaded, sets)
    edits = (
        ([f"policy {alt_policy}"] if alt_policy else [])
        + [f"set {s}" for s in sets]
        + [f"assume {a}" for a in assumptions]
    )
    with whatif.scratch(store_path(ctx)) as copy, open_store(copy) as store:
        b, c = resolve_run(store, names[0]), resolve_run(store, names[1])
        f = resolve_run(store, names[2]) if names[2] else None
        tax = taxonomy_in_force(ctx, store)
        before = gate.evaluate(store, loaded, b, c, f, taxonomy=tax)
        whatif.assume(store, (b, c, f), assumptions, tax)
        after = gate.evaluate(store, other, b, c, f, taxonomy=tax)
    result = whatif.WhatIf(before, after, tuple(edits))
    if as_json:
        echo(safe_json(result.as_dict()))
    else:
        for line in result.lines():
            echo(visible(line, limit=2000))


@cli.command("decisions")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.option("--limit", type=int, help="At most this many (newest first), of each kind.")
@click.option("--show", "show_id", type=int, help="Print one decision's full record (JSON).")
@click.option(
    "--show-team",
    "show_team",
    type=int,
    help="Print one team decision's full record (JSON): one kept as another's.",
)
@click.pass_context
def decisions_cmd(
    ctx: click.Context,
    as_json: bool,
    limit: int | None,
    show_id: int | None,
    show_team: int | None,
) -> None:
    """The decisions kept in the store, newest first; then the release decisions pulled
    from the team store (`evaltui sync`), kept as their author's and marked team:PROJECT."""
    with open_store(store_path(ctx)) as store:
        if show_id is not None:
            echo(safe_json(gate.get_decision(store, show_id).data))
            return
        if show_team is not None:
            echo(safe_json(gate.get_team_decision(store, show_team)))
            return
        rows = gate.list_decisions(store, limit)
        team = gate.list_team_decisions(store, limit)
    if as_json:
        echo(safe_json([r.as_dict() for r in rows] + [t.as_dict() for t in team]))
        return
    if not rows and not team:
        echo("No decisions yet. `evaltui gate BASE CAND --policy P` makes one.")
        return
    columns = [
        ("id", "right"),
        ("decided", "left"),
        ("by", "left"),
        ("decision", "left"),
        ("candidate", "left"),
        ("baseline", "left"),
        ("record", "left"),
    ]
    kept = [("kept", "left")] if team else []  # another's: said apart, never as this store's
    table = make_table(*columns, *kept)
    print_rows(
        table,
        [
            [
                str(r.id),
                r.decided_at[:16].replace("T", " "),
                one_line(r.decided_by, 16),
                r.decision,
                one_line(r.candidate, 200),
                one_line(r.baseline, 200),
                r.content_hash[:12],
                *(["this store"] if team else []),
            ]
            for r in rows
        ]
        + [
            [
                f"t{t.team_id}",
                one_line(t.decided_at[:16].replace("T", " "), 16),
                one_line(t.author, 16),
                one_line(t.decision, 16),
                one_line(t.candidate, 200),
                one_line(t.baseline, 200),
                t.content_hash[:12],
                one_line(f"team:{t.project} by {t.author}, {_signed(t)}", 120),
            ]
            for t in team
        ],
        # run names are cut in their middle (their end tells runs of one eval apart)
        optional=["record", Shorten("by"), Shorten("baseline"), Shorten("candidate"), "by"],
        whole={"decided", "decision", "record", "kept"},
        middle={"candidate", "baseline"},
        min_widths={"candidate": 20, "baseline": 20},
    )


def _signed(t: gate.TeamDecisionRow) -> str:
    """A team decision's signature in words: verified (by whom), unsigned, unchecked."""
    if t.signature == "verified":
        return f"verified ({t.signer})"
    if t.signature == "unchecked":  # no allowed-signers file here (`findings signers`)
        return "signed, unchecked"
    return "unsigned"


@cli.command("verify")
@click.argument("record_path", type=InputFile("decision record"))
@click.option(
    "--policy",
    "policy_path",
    type=InputFile("policy"),
    help="The policy file, if it moved since the decision.",
)
@click.option(
    "--allowed-signers",
    type=InputFile("allowed-signers file"),
    help="Check RECORD.sig against this allowed-signers file (default: the record's "
    "policy's, else the store's).",
)
@click.pass_context
def verify_cmd(
    ctx: click.Context, record_path: Path, policy_path: Path | None, allowed_signers: Path | None
) -> None:
    """Check a decision record against the store: is it the one kept, and does it still hold?

    The record must be one the store kept (a dry run's is refused), equal to the
    kept copy field by field, with the event log intact up to the decision; then
    the decision is recomputed and every field that changed is named. A signature
    next to it (RECORD.sig) is verified.

    Exit 0 when it holds, 5 when anything differs (each difference is listed).
    """
    # load time: findings_files loads every importer; of the gate's commands only verify needs it
    from evaltui.review.findings_files import signers_file

    try:
        raw = read_capped(record_path, "decision record")  # read once: verified as read
        record = json.loads(raw.decode("utf-8"))
    except ValueError as exc:  # malformed JSON, or not UTF-8
        raise InputError(str(record_path), f"malformed JSON ({visible(exc, limit=200)})") from None
    if not isinstance(record, dict):
        raise InputError(str(record_path), "not a decision record (a JSON object)")
    decision = visible(str(record.get("decision")), limit=40)
    with open_store(store_path(ctx), audit=True) as store:  # a tampered store is examined
        problems = gate.verify(store, record, policy_path, taxonomy=taxonomy_in_force(ctx, store))
        # the same order as findings import: the option, the policy's, the store's
        signers = signers_file(store, allowed_signers or _policy_signers(record, policy_path))
        who, sig_problems = gate.check_signature(
            store, record, record_path, raw, Path(signers) if signers else None
        )
    problems += sig_problems
    if who:
        echo(f"signed by {visible(who, limit=80)} (verified)")
    if not problems:
        echo(f"unchanged: the decision ({decision}) still holds")
        if earlier := gate.formats.predates(record):
            echo(f"note: {visible(gate.formats.describe(earlier), limit=1000)}")
        return
    echo(f"changed since the decision ({decision}):")
    for p in problems:
        echo(f"  - {visible(p, limit=500)}")
    sys.exit(5)


def _policy_signers(record: dict[str, object], policy_path: Path | None) -> Path | None:
    """The allowed-signers file the record's policy names, if it names one."""
    prov = record.get("provenance")
    path = policy_path or (
        Path(str(prov["policy"]["path"]))
        if isinstance(prov, dict) and isinstance(prov.get("policy"), dict)
        else None
    )
    if path is None or not path.is_file():
        return None
    return gate.load_policy(path).allowed_signers
