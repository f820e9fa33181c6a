"""The codebook: proposed failure classes from reviewers' notes, ratified by a person into
a new version of the taxonomy; the labels they suggest, confirmed case by case (#29)."""

from __future__ import annotations

from typing import Any

import click

from evaltui.cli.app import cli, open_store, store_path, taxonomy_in_force
from evaltui.cli.output import echo, make_table, print_rows
from evaltui.errors import InputError
from evaltui.review.labelguide import ratify
from evaltui.service.codebook import propose_in_store
from evaltui.store.runs import resolve_run
from evaltui.textsafe import one_line, safe_json, visible

# the proposals' settings: `ratify` takes the same, to find the proposal `propose` showed
SETTINGS = [
    click.option("--seed", type=int, default=0, show_default=True,
                 help="Chooses the samples when there are more notes than one sample holds."),
    click.option("--min-size", type=int, default=3, show_default=True,
                 help="The fewest notes a proposal holds."),
    click.option("--threshold", type=float, default=0.92, show_default=True,
                 help="The average cosine distance within which notes group (0-1)."),
]  # fmt: skip


def settings(f: Any) -> Any:
    for option in reversed(SETTINGS):
        f = option(f)
    return f


def _proposed(ctx: click.Context, store: Any, runs: tuple[str, ...], **kw: Any) -> Any:

    if len(runs) not in (0, 2):
        raise InputError("BASE CAND", "give both runs of the comparison, or neither")
    base, cand = (
        (resolve_run(store, runs[0]), resolve_run(store, runs[1])) if runs else (None, None)
    )
    return propose_in_store(store, base=base, cand=cand, **kw)


@cli.group("codebook")
def codebook_group() -> None:
    """Grow the label guide from reviewers' notes: propose classes, ratify, confirm labels.

    \b
    Example:
      evaltui codebook propose BASE CAND
      evaltui codebook ratify ID --owner safety --description "Gives out backup codes ..."
      evaltui codebook confirm CLASS --all --yes
    """


@codebook_group.command("propose")
@click.argument("runs", nargs=-1, metavar="[BASE CAND]")
@settings
@click.option("--json", "as_json", is_flag=True, help="Stable JSON (docs/cli.md).")
@click.pass_context
def propose_cmd(ctx: click.Context, runs: tuple[str, ...], as_json: bool, **kw: Any) -> None:
    """Group the notes that name no class into proposed classes (offline, deterministic).

    The notes of every comparison, or of BASE vs CAND (then each proposal says whether it
    is new in the candidate: its notes are only on cases the baseline does not fail).
    """
    with open_store(store_path(ctx)) as store:
        found = _proposed(ctx, store, runs, **kw)
    if as_json:
        echo(safe_json(found.as_json()))
        return
    r = found.result
    source = "" if found.taxonomy_source.startswith("store,") else f", {found.taxonomy_source}"
    echo(
        f"{r.notes:,} unclassified notes ({r.classified:,} classified, {found.set_aside:,} set "
        f"aside by a rejection); taxonomy version {found.taxonomy_version} "
        f"({found.taxonomy_sha256[:12]}{source})"
    )
    if not found.offered:
        echo("No proposals: no group of notes shares enough words (or there are no notes).")
        return
    compared = found.baseline is not None
    table = make_table(
        ("id", "left"),
        ("key", "left"),
        ("notes", "right"),
        ("cases", "right"),
        ("new", "left"),
        ("nearest class", "left"),
        ("terms", "left"),
    )
    print_rows(table, [_row(o, compared) for o in found.offered], optional={"terms", "cases"})
    for o in found.offered:
        p = o.proposal
        echo(
            f"\n{o.id} {p.key}: {visible(p.name, limit=80)!r}, {p.size} notes on {len(p.cases)} "
            f"cases" + (", new in the candidate" if o.candidate_only else "")
        )
        for rep in p.representatives:
            echo(f'  "{rep.text}"  ({one_line(rep.case_key, 60)})')
    if r.unclustered:
        echo(f"\n{len(r.unclustered):,} notes fit no proposal (left unclustered, never forced).")
    s = r.saturation
    echo(
        f"saturation: new proposals per {s.window} notes: "
        f"{' '.join(str(w.new) for w in s.windows)}; the last new one at note {s.last_new_at} "
        f"of {r.notes}; {s.quiet_windows} quiet window(s) since"
    )
    where = "".join(f" {visible(r, limit=60)}" for r in runs)
    echo(
        f"ratify: evaltui codebook ratify {found.offered[0].id}{where} --owner OWNER "
        '--description "RUBRIC LINE" (or --merge CLASS, or --reject)'
    )


def _row(o: Any, compared: bool) -> list[str]:
    p = o.proposal
    near = p.nearest
    nearest = f"{near.key} {near.similarity:.2f}" if near and near.similarity > 0 else "-"
    new = ("NEW" if p.new else "near") + (" cand-only" if o.candidate_only else "")
    return [
        o.id,
        p.key,
        str(p.size),
        str(len(p.cases)),
        new if compared else new.split()[0],
        nearest,
        ", ".join(p.terms),
    ]


@codebook_group.command("ratify")
@click.argument("proposal")
@click.argument("runs", nargs=-1, metavar="[BASE CAND]")
@click.option("--owner", help="Accept: who owns the repair of the new class.")
@click.option("--description", help="Accept: the class's rubric line (what it is, the repair).")
@click.option("--key", help="Accept: the class key (default: the suggested one).")
@click.option("--name", help="Accept: the class name (default: the suggested one).")
@click.option("--merge", "merge_into", metavar="CLASS", help="Merge into this existing class.")
@click.option("--reject", is_flag=True, help="Not a class: set its notes aside.")
@click.option("--why", default="", help="Why (kept with the version and the ruling).")
@settings
@click.option("--json", "as_json", is_flag=True, help="JSON output (docs/cli.md).")
@click.pass_context
def ratify_cmd(
    ctx: click.Context,
    proposal: str,
    runs: tuple[str, ...],
    owner: str | None,
    description: str | None,
    key: str | None,
    name: str | None,
    merge_into: str | None,
    reject: bool,
    why: str,
    as_json: bool,
    **kw: Any,
) -> None:
    """Accept PROPOSAL (its id or key) as a new class, merge it, or reject it.

    Give the runs and settings `propose` was given. Accepting or merging writes a new
    taxonomy version and changes no finding: its cases become suggested labels
    (`evaltui codebook suggestions`), each a finding only once confirmed.
    """

    if ctx.obj.get("taxonomy"):
        raise InputError(
            "--taxonomy",
            "a taxonomy file is in force; ratifying writes the "
            "store's taxonomy: run it without --taxonomy (or EVALTUI_TAXONOMY)",
        )
    if bool(merge_into) + reject > 1 or ((merge_into or reject) and (owner or description)):
        raise InputError("--merge", "one of: accept (--owner, --description), --merge, --reject")
    with open_store(store_path(ctx)) as store:
        found = _proposed(ctx, store, runs, **kw)
        if reject:
            done = ratify.reject(store, found, proposal, why=why)
        elif merge_into:
            done = ratify.merge(store, found, proposal, merge_into, why=why)
        else:
            done = ratify.accept(
                store,
                found,
                proposal,
                owner=owner or "",
                key=key,
                name=name,
                description=description or "",
                why=why,
            )
    if as_json:
        echo(safe_json(done.model_dump(mode="json", exclude={"version": {"classes"}})))
        return
    r = done.ruling
    made = f"; taxonomy version {done.version.version}" if done.version else ""
    if r.kind == "reject":
        echo(f"rejected {r.proposal} ({r.proposal_key}): its {len(r.notes)} notes are set aside")
        return
    echo(
        f"{'accepted' if r.kind == 'accept' else 'merged'} {r.proposal} as {r.class_key}{made}; "
        f"no finding changed: {done.suggested} suggested labels wait for a reviewer "
        f"(evaltui codebook suggestions {r.class_key})"
    )


@codebook_group.command("suggestions")
@click.argument("cls", metavar="[CLASS]", required=False)
@click.option("--json", "as_json", is_flag=True, help="JSON output (docs/cli.md).")
@click.pass_context
def suggestions_cmd(ctx: click.Context, cls: str | None, as_json: bool) -> None:
    """The labels ratified proposals suggest that no reviewer has confirmed yet."""

    with open_store(store_path(ctx)) as store:
        found = ratify.suggestions(store, cls)
    if as_json:
        echo(safe_json([s.model_dump() for s in found]))
        return
    if not found:
        echo("No suggested labels wait.")
        return
    table = make_table(
        ("class", "left"),
        ("case", "left"),
        ("note", "left"),
        ("baseline", "left"),
        ("candidate", "left"),
    )
    rows = [
        [
            s.class_key,
            one_line(f"{s.suite}/{s.case_key}", 50),
            one_line(s.note_text, 60),
            one_line(s.baseline, 24),
            one_line(s.candidate, 24),
        ]
        for s in found
    ]
    print_rows(table, rows, optional={"baseline", "candidate"})


@codebook_group.command("confirm")
@click.argument("cls", metavar="CLASS")
@click.argument("cases", nargs=-1, metavar="[CASE]...")
@click.option("--all", "every", is_flag=True, help="Every suggested case of CLASS.")
@click.option("--yes", is_flag=True, help="With --all: yes, label them all.")
@click.pass_context
def confirm_cmd(
    ctx: click.Context, cls: str, cases: tuple[str, ...], every: bool, yes: bool
) -> None:
    """Label suggested cases with CLASS: one ordinary finding each, by you.

    CASE is a case key or SUITE/KEY among `evaltui codebook suggestions CLASS`; --all
    takes every one, and asks for --yes.
    """

    if bool(cases) == every:
        raise InputError("CASE", "name the cases to confirm, or --all (with --yes)")
    with open_store(store_path(ctx)) as store:
        pending = ratify.suggestions(store, cls)
        if every:
            chosen = pending
            if chosen and not yes:
                raise InputError(
                    "--all",
                    f"would label {len(chosen)} cases as {cls!r}: add --yes to confirm them all",
                )
        else:
            chosen = [
                s for s in pending if s.case_key in cases or f"{s.suite}/{s.case_key}" in cases
            ]
            missing = [
                c
                for c in cases
                if not any(c in (s.case_key, f"{s.suite}/{s.case_key}") for s in chosen)
            ]
            if missing:
                waiting = ", ".join(one_line(s.case_key, 40) for s in pending[:8]) or "none"
                raise InputError(
                    "CASE",
                    f"{visible(missing[0], limit=80)!r} is not a suggested "
                    f"case of {cls!r} (waiting: {waiting})",
                )
        done = ratify.confirm(store, chosen, taxonomy_in_force(ctx, store))
    echo(
        f"labelled {len(done)} cases as {cls} (each a finding by you)"
        if done
        else "No suggested labels wait."
    )
