"""Traffic weights (#28): import a file into the store, list what is kept, show one, choose
the weights in force (docs/production.md)."""

from __future__ import annotations

from pathlib import Path

import click

from evaltui.cli.app import cli, open_store, store_path
from evaltui.cli.output import echo, make_table, print_rows
from evaltui.errors import NotFoundError
from evaltui.store import traffic as traffic_store
from evaltui.textsafe import safe_json


@cli.group("traffic", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="The list as JSON.")
@click.pass_context
def traffic_group(ctx: click.Context, as_json: bool) -> None:
    """Traffic weights kept in the store (the one in force is marked *).

    \b
    evaltui traffic import FILE   keep a weights file (CSV or JSON) and put it in force
    evaltui traffic show [NAME]   its cells, shares, source and period
    evaltui traffic use NAME      put other kept weights in force (`none`: no estimate)
    """
    if ctx.invoked_subcommand is not None:
        return
    with open_store(store_path(ctx)) as store:
        kept, current = traffic_store.listing(store), traffic_store.in_force_id(store)
    if as_json:
        echo(
            safe_json(
                [{**k.provenance(), "cells": k.cells, "in_force": k.id == current} for k in kept]
            )
        )
        return
    if not kept:
        echo("no traffic weights kept; `evaltui traffic import FILE` keeps some")
        return
    table = make_table(
        ("", "left"),
        ("id", "right"),
        ("name", "left"),
        ("kind", "left"),
        ("attributes", "left"),
        ("cells", "right"),
        ("period", "left"),
        ("sha256", "left"),
        ("source", "left"),
        ("imported", "left"),
    )
    rows = [
        [
            "*" if k.id == current else "",
            str(k.id),
            k.name,
            k.kind,
            " x ".join(k.attributes),
            str(k.cells),
            k.period,
            k.sha256[:12],
            k.source,
            k.imported_at[:19],
        ]
        for k in kept
    ]
    print_rows(table, rows, optional=("source", "imported", "sha256"), whole=("period",))
    if current is None:
        echo("none in force: comparisons make no production estimate (`evaltui traffic use`)")


@traffic_group.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--name", help="What to call them (default: the file's name without suffix).")
@click.pass_context
def traffic_import(ctx: click.Context, file: Path, name: str | None) -> None:
    """Keep the weights in FILE (checked first: a bad file changes nothing) and put them in
    force."""
    if name is not None:
        traffic_store.check_name(name)
    read = traffic_store.read_file(file)  # a bad file is refused before the store is opened
    with open_store(store_path(ctx), write=True) as store:
        kept, new = traffic_store.keep(store, read, name)
        weights = traffic_store.weights(store, kept)
    what = "kept" if new else "already kept"
    echo(
        f"traffic weights {kept.label} {what} and in force: {len(weights.cells)} cells by "
        f"{' x '.join(weights.attributes)}, {weights.kind}s, period {weights.period}, "
        f"sha256 {kept.sha256[:12]}"
    )
    if weights.note:
        echo(f"note: {weights.note}")


@traffic_group.command("show")
@click.argument("ref", required=False)
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@click.pass_context
def traffic_show(ctx: click.Context, ref: str | None, as_json: bool) -> None:
    """The cells of kept weights: REF is a name (its latest import) or #ID; default: the
    weights in force."""
    with open_store(store_path(ctx)) as store:
        kept = traffic_store.resolve(store, ref) if ref else traffic_store.in_force(store)
        if kept is None:
            raise NotFoundError("no traffic weights in force; name some (`evaltui traffic`)")
        weights = traffic_store.weights(store, kept)
    cells = [
        {
            **dict(zip(weights.attributes, c.values, strict=True)),
            weights.kind: c.amount,
            "share": round(c.share, 6),
            "line": c.line,
        }
        for c in weights.cells
    ]
    if as_json:
        echo(
            safe_json(
                {
                    **kept.provenance(),
                    "format": kept.format,
                    "total": weights.total,
                    "normalised": weights.normalised,
                    "cells": cells,
                }
            )
        )
        return
    echo(f"{kept.label}: {weights.source}")
    echo(f"period {weights.period}; {kept.format} file {kept.source_path}; sha256 {kept.sha256}")
    if weights.note:
        echo(f"note: {weights.note}")
    cols = [(a, "left") for a in weights.attributes] + [(weights.kind, "right"), ("share", "right")]
    table = make_table(*cols)
    rows = [
        [
            *c.values,
            f"{c.amount:,}" if weights.kind == "count" else f"{c.amount:g}",
            f"{c.share:.1%}",
        ]
        for c in weights.cells
    ]
    print_rows(table, rows)


@traffic_group.command("use")
@click.argument("ref")
@click.pass_context
def traffic_use(ctx: click.Context, ref: str) -> None:
    """Put kept weights in force (REF: a name or #ID), or `none` (no production estimate)."""
    with open_store(store_path(ctx), write=True) as store:
        kept = traffic_store.use(store, ref)
    echo(f"in force: {kept.label}" if kept else "no traffic weights in force")
