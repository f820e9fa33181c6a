"""The failure-class taxonomy: the classes in force, import and export, its versions and
what changed between two of them (docs/triage.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from evaltui.cli.app import InputFile, cli, open_store, store_path, taxonomy_in_force
from evaltui.cli.output import echo, make_table, print_rows
from evaltui.review import taxonomy
from evaltui.textsafe import one_line, safe_json, visible


@cli.group("taxonomy", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.pass_context
def taxonomy_group(ctx: click.Context, as_json: bool) -> None:
    """The failure classes in force (numbered as the app's keys), or manage them."""
    if ctx.invoked_subcommand is not None:
        return
    with open_store(store_path(ctx)) as store:
        tax = taxonomy_in_force(ctx, store)
    if as_json:
        echo(safe_json(tax.as_list()))
        return
    table = make_table(
        ("key", "left"),
        ("#", "right"),
        ("name", "left"),
        ("owner", "left"),
        ("description", "left"),
    )
    numbers = {c.key: i + 1 for i, c in enumerate(tax.active)}
    print_rows(
        table,
        [
            [
                c.key,
                str(numbers.get(c.key, "retired")),
                one_line(c.name, 30),
                one_line(c.owner, 24),
                one_line(c.description, 90),
            ]
            for c in tax.classes
        ],
        optional={"description"},
    )
    echo(f"source: {tax.source}")


@taxonomy_group.command("import")
@click.argument("file", type=InputFile("taxonomy"))
@click.pass_context
def taxonomy_import(ctx: click.Context, file: Path) -> None:
    """Store FILE as this store's taxonomy (recorded; old findings keep their class)."""

    tax = taxonomy.parse_toml(file)
    with open_store(store_path(ctx), write=True) as store:
        changes = taxonomy.save(store, tax, reason=f"imported {visible(file.name, limit=200)}")
        version = taxonomy.latest(store).version
    echo(
        f"taxonomy saved: {len(tax.classes)} classes; added {', '.join(changes['added']) or 'none'}; "
        f"removed {', '.join(changes['removed']) or 'none'}; changed {', '.join(changes['changed']) or 'none'}"
        f"; version {version}"
    )


@taxonomy_group.command("export")
@click.pass_context
def taxonomy_export(ctx: click.Context) -> None:
    """Print the taxonomy in force as TOML (a starting point to edit)."""

    with open_store(store_path(ctx)) as store:
        echo(taxonomy.to_toml(taxonomy_in_force(ctx, store)), nl=False)


@taxonomy_group.command("versions")
@click.option("--json", "as_json", is_flag=True, help="JSON output (docs/cli.md).")
@click.pass_context
def taxonomy_versions(ctx: click.Context, as_json: bool) -> None:
    """Every version of the store's taxonomy: who changed it, when, why, its sha256.

    Version 1 is what was in force before the first change (recorded with that change).
    """

    with open_store(store_path(ctx)) as store:
        found = taxonomy.versions(store)
    if as_json:
        echo(
            safe_json(
                [v.model_dump(exclude={"classes"}) | {"classes": len(v.classes)} for v in found]
            )
        )
        return
    table = make_table(
        ("version", "right"),
        ("at", "left"),
        ("by", "left"),
        ("classes", "right"),
        ("sha256", "left"),
        ("why", "left"),
    )
    rows = [
        [
            str(v.version),
            (v.at or "not recorded yet")[:19].replace("T", " "),
            one_line(v.actor or "-", 24),
            str(len(v.classes)),
            v.sha256[:12],
            one_line(v.reason, 70),
        ]
        for v in found
    ]
    print_rows(table, rows, optional={"sha256", "by"})


@taxonomy_group.command("diff")
@click.argument("old", type=click.IntRange(min=1))
@click.argument("new", type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="JSON output (docs/cli.md).")
@click.pass_context
def taxonomy_diff(ctx: click.Context, old: int, new: int, as_json: bool) -> None:
    """What changed from taxonomy version OLD to NEW: classes added, removed, changed."""

    with open_store(store_path(ctx)) as store:
        a, b = taxonomy.version(store, old, "OLD"), taxonomy.version(store, new, "NEW")
    d = taxonomy.diff(a, b)
    if as_json:
        echo(safe_json(d.model_dump(mode="json")))
        return
    echo(f"taxonomy version {d.old} ({d.old_sha256[:12]}) -> {d.new} ({d.new_sha256[:12]})")
    for c in d.added:
        echo(f"+ {c.key}: {one_line(c.name, 40)} -> {one_line(c.owner, 30)}")
        echo(f"    {one_line(c.description, 160)}")
        if c.examples:
            echo(f"    examples: {one_line(', '.join(c.examples), 160)}")
    for c in d.removed:
        echo(f"- {c.key}: {one_line(c.name, 40)}")
    for ch in d.changed:
        for field, (was, now) in ch.fields.items():
            echo(f"~ {ch.key}.{field}: {_shown(was)} -> {_shown(now)}")
    if not (d.added or d.removed or d.changed):
        echo("no change")


def _shown(value: Any) -> str:
    return one_line(", ".join(value) if isinstance(value, list) else value, 80)
