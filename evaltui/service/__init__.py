"""Use cases both front ends call. No Textual, no click."""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Callable
from contextlib import closing, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from evaltui.errors import InputError, StoreError
from evaltui.files import check_regular
from evaltui.paths import demo_data_dir
from evaltui.store import Store, guard
from evaltui.store import runs as tables
from evaltui.store.runs import AlreadyImported
from evaltui.textsafe import visible

if TYPE_CHECKING:  # the importers load when a file is imported, not when the app starts
    from evaltui.importers import ImportOptions, ParsedRun
    from evaltui.models import RunSummary
    from evaltui.store.events import Event

MARKS = ("baseline", "candidate", "fallback")
SELECTION_KEY = "selection"


@dataclass
class ImportOutcome:
    """What happened to one run found in an imported file."""

    path: str
    name: str
    run_id: int
    results: int
    skipped: bool = False
    why: str = ""  # why it was skipped, when not the same file imported before
    note: str = ""  # what the import line adds (a re-scored log, the reducer used)


if TYPE_CHECKING:
    ProgressHook = Callable[[ParsedRun], Callable[[int], None] | None]

# Files tools write beside their logs that hold no results: skipped in a folder import.
BOOKKEEPING = frozenset(
    {
        "logs.json",
        "eval-set.json",
        ".eval-set-id",  # Inspect eval sets and log folders
        "listing.json",
        "promptfooconfig.yaml",
        "README.md",
    }
)
_LM_EVAL_FILE = ("results_", "samples_")


def import_units(folder: Path) -> tuple[list[tuple[Path, str | None]], list[Path]]:
    """What `evaltui import FOLDER` imports, each on its own: every file under the folder
    that a format recognises, and each lm-eval output folder (the folder holding its
    results_*.json / samples_*.jsonl files) as one. Returns (units with the format found
    for them, so it is not detected again; skipped files): the skipped are bookkeeping
    files and files no format recognises, in path order."""
    from evaltui.importers import detect  # load time: the importers load pydantic and more

    units: list[tuple[Path, str | None]] = []
    skipped: list[Path] = []
    lm_dirs: set[Path] = set()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if any(part.startswith(".") or part == "_journal" for part in rel.parts[:-1]):
            continue  # hidden folders, Inspect's journal
        if path.name in BOOKKEEPING or path.name.startswith("."):
            skipped.append(path)
        elif path.name.startswith(_LM_EVAL_FILE) and path.suffix in (".json", ".jsonl"):
            if path.parent not in lm_dirs:
                lm_dirs.add(path.parent)
                units.append((path.parent, None))
        else:
            try:
                units.append((path, detect(path).name))
            except InputError:
                skipped.append(path)
    return units, skipped


def import_path(
    store: Store,
    path: str | Path,
    *,
    fmt: str | None = None,
    options: ImportOptions | None = None,
    force: bool = False,
    progress: ProgressHook | None = None,
) -> list[ImportOutcome]:
    """Import every run in one file (or results folder); each run is one transaction.

    Args:
        store: the open store.
        path: the file or folder.
        fmt: force a format by name; otherwise it is detected from the content.
        options: name, role, system, suite, pass criterion given by the user.
        force: import again even if the same file (sha256) is already in the store.
        progress: called per run with the ParsedRun; may return a per-batch callback.

    Returns:
        One outcome per run found, imported or skipped as a duplicate.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "no such file or folder")
    # a FIFO would block the first read forever, a device (/dev/zero) never end
    check_regular(path, "results file")
    # load time: the importers (pydantic and more) only for an import, not when the app opens
    from evaltui.importers import ImportOptions, detect, get_importer, sha256_file
    from evaltui.importers.base import checked_records  # load time: as above
    from evaltui.service import import_process  # load time: as above

    importer = get_importer(fmt) if fmt else detect(path)
    options = options or ImportOptions()
    digest = sha256_file(path) if path.is_file() else ""
    parsed = importer.read(path, options)
    outcomes = []
    for item in parsed:
        if not item.run.sha256:
            item.run.sha256 = digest
        existing = (
            tables.run_by_sha256(store, item.run.sha256, item.run.source_part)
            if item.run.sha256
            else None
        )
        if existing and not force:
            outcomes.append(ImportOutcome(str(path), existing[1], existing[0], 0, skipped=True))
            continue
        identity = item.run.metadata.get("identity")
        same, rescored = (
            _same_run(store, identity, item.run.metadata) if not force else (None, None)
        )
        if same is not None:  # the same run in another serialisation (.eval and .json, say)
            outcomes.append(
                ImportOutcome(
                    str(path),
                    same[1],
                    same[0],
                    0,
                    skipped=True,
                    why=f"the same run as run {same[0]} ({visible(same[1], limit=120)}), from another "
                    f"file (the tool's id {visible(identity, limit=120)})",
                )
            )
            continue
        notes = list(item.notes)
        if rescored is not None:  # the tool's id, other scores: another run, related
            item.run.metadata["rescored_from"] = rescored[0]
            notes.insert(
                0,
                f"re-scored from run {rescored[0]} ({visible(rescored[1], limit=120)}): "
                "the same eval with other scores",
            )
        item.run.name = tables.unique_run_name(store, item.run.name)
        on_batch = progress(item) if progress else None
        rows = None
        if len(parsed) == 1 and import_process.handles(importer) and import_process.worth_it(path):
            rows = import_process.rows_from_reader(importer.name, path, options, 0, item.progress)
        try:
            with store.alone() if writes_alone(path) else nullcontext():
                run_id = tables.import_run(
                    store,
                    item.run,
                    checked_records(path, item.records, options),
                    rows=rows,
                    on_batch=on_batch,
                    unique=not force,
                )
        except InputError as exc:
            if exc.path:
                raise
            # raised where every record passes (store/rows.py): name the file here
            raise InputError(
                str(path), exc.detail, location=exc.location, field=exc.field
            ) from None
        except AlreadyImported as dup:  # another import of the same file committed first
            outcomes.append(ImportOutcome(str(path), dup.name, dup.run_id, 0, skipped=True))
            continue
        n = tables.result_count(store, run_id)
        outcomes.append(ImportOutcome(str(path), item.run.name, run_id, n, note="; ".join(notes)))
    return outcomes


def _same_run(
    store: Store, identity: str | None, metadata: dict[str, object]
) -> tuple[tables.RunRef | None, tables.RunRef | None]:
    """(the run this one already is, the run it re-scores). A run the tool identifies as
    `identity` is the same run when its scores are the same (or either run's are unknown);
    with other scores (Inspect's `inspect score` keeps the ids) it is a re-scoring of the
    first such run (docs/formats.md)."""
    if not identity:
        return None, None
    found = tables.runs_by_identity(store, identity)
    digest = metadata.get("scores_digest")
    for rid, name, theirs in found:
        if digest is None or theirs is None or theirs == digest:
            return tables.RunRef(rid, name), None
    return None, (tables.RunRef(found[0].id, found[0].name) if found else None)


def writes_alone(path: Path) -> bool:
    """Whether an import of `path` is large enough to try the store alone (Store.alone).

    EVALTUI_IMPORT_ALONE=0 never does, =1 does for any size; unset: files of 64 MB or more.
    """
    setting = os.environ.get("EVALTUI_IMPORT_ALONE", "")
    if setting in ("0", "1"):
        return setting == "1"
    from evaltui.service import import_process  # load time: it loads the importers

    return path.is_file() and path.stat().st_size >= import_process.MIN_BYTES


class NewStore:
    """A store that does not exist yet, built in a private file beside its path and
    published whole (docs/security.md, "A new store"): an import that brings nothing in
    leaves no file at the path, and no process removes a file another may be using.

    `NewStore.begin(path)`, then write into `.store` inside `with`; `publish()` makes it
    the store at `path`, or says another evaltui made one there meanwhile (import into
    that one then). Leaving the `with` removes the private file, published or not.
    """

    def __init__(self, path: Path, private: Path) -> None:
        self.path, self.private = path, private
        try:
            self.store = Store(path, file=private)  # messages name `path`
        except BaseException:
            guard.discard_private(private)
            raise

    @classmethod
    def begin(cls, path: Path) -> NewStore | None:
        """None when a store is at `path` already, or where the file system has no hard
        links (then the store is made at `path` itself with O_EXCL and kept: Store)."""
        if os.path.lexists(path):
            return None
        private = guard.make_private(path)
        return None if private is None else cls(path, private)

    def publish(self) -> bool:
        """Close the store cleanly and link it to `path` in one step: True when it is the
        store there now; False when another evaltui made a store there first (untouched)."""
        guard.seal(self.store.conn, self.path)
        self.store.close()
        return guard.publish(self.private, self.path)

    def __enter__(self) -> NewStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.store.close()
        guard.discard_private(self.private)  # only this process's names


def list_runs(store: Store) -> list[RunSummary]:
    return tables.list_runs(store)


def get_selection(store: Store) -> dict[str, int | None]:
    """The runs marked baseline / candidate / fallback.

    With nothing marked yet, the newest runs whose role is production,
    candidate and fallback are proposed.
    """
    saved = store.get_setting(SELECTION_KEY)
    runs = tables.list_runs(store)
    ids = {r.id for r in runs}
    if saved is not None:
        return {m: (saved.get(m) if saved.get(m) in ids else None) for m in MARKS}
    by_role: dict[str, int] = {}
    for run in runs:
        by_role[run.role] = run.id
    return {
        "baseline": by_role.get("production"),
        "candidate": by_role.get("candidate"),
        "fallback": by_role.get("fallback"),
    }


def mark_run(store: Store, mark: str, run_id: int | None) -> dict[str, int | None]:
    """Mark a run as baseline, candidate or fallback (None clears); logged as an event.

    A run holds one mark at a time: marking it moves it from any other mark.
    """
    if mark not in MARKS:
        raise ValueError(f"mark must be one of {MARKS}")
    selection = get_selection(store)
    if run_id is not None:
        for other in MARKS:
            if selection[other] == run_id:
                selection[other] = None
    selection[mark] = run_id
    store.set_setting(SELECTION_KEY, selection)
    return selection


DEMO_FILES = ("production.jsonl", "candidate.jsonl", "fallback.jsonl")


def load_demo(store: Store) -> list[ImportOutcome]:
    """Import the bundled demo runs (skipped when already in this store)."""
    folder = demo_data_dir()
    outcomes: list[ImportOutcome] = []
    for name in DEMO_FILES:
        outcomes.extend(import_path(store, folder / name))
    return outcomes


def load_demo_reviews(store: Store, *, new: bool) -> int:
    """The demo's reviews: 60 blind judgments and gold answers (README.md; added once),
    its traffic weights (#28: the production estimate in the app; kept once), and, in a
    `new` store, its reviewers' notes that name no class (#29); how many notes."""
    # load time: only the demo loads these (calibration's estimators, the traffic reader)
    from evaltui.review.calibration import demo as calibration
    from evaltui.review.labelguide.demo import add_demo_notes  # load time: as above
    from evaltui.store import traffic  # load time: as above

    calibration.load(store)
    traffic.keep_demo(store)
    return add_demo_notes(store) if new else 0


def check_demo_store_disposable(path: Path) -> None:
    """Refuse (StoreError, nothing deleted) to throw away a store that holds anything
    but the bundled demo runs, or that evaltui cannot read as its own: `demo --fresh`
    deletes only what `demo` made. Read without writing a byte."""
    if not path.exists():
        return
    from evaltui.importers import sha256_file  # load time: the importers, only for demo --fresh

    demo = {sha256_file(demo_data_dir() / name) for name in DEMO_FILES}
    try:  # the store's own door, read-only, not migrated (nothing written, not even the WAL)
        with closing(Store.reader(path, migrate=False)) as conn:
            rows = tables.run_files(conn)
    except (StoreError, sqlite3.Error) as exc:
        raise StoreError(
            f"demo --fresh would delete {path}, which is not an evaltui demo store "
            f"({str(exc).rstrip('.')}); nothing was deleted"
        ) from None
    others = [name for name, sha in rows if sha not in demo]
    if others:
        shown = ", ".join(others[:5]) + (" …" if len(others) > 5 else "")
        raise StoreError(
            f"demo --fresh would delete {path}, which holds {len(others)} run(s) that are not "
            f"the demo's ({shown}); nothing was deleted. Give the demo its own --db."
        )


_RESULT_ID = re.compile(r"\d+:\d+:\d+")


def event_subjects(store: Store, events: list[Event]) -> list[str]:
    """What each event is about, in words (`evaltui log`'s key column): a run's name,
    a case's `suite/key` (a finding's with its two runs), a judged result's run, case and
    epoch, a decision's number; a setting or a file as the event names it. A gold answer's
    event names the gold item only, never its result. The log itself keeps the ids."""
    runs = tables.run_names(store)
    ids: dict[str, list[int]] = {}
    results: dict[str, list[int]] = {}
    for e in events:
        eid = str(e.entity_id)  # str(): a crafted store's column may hold any type
        if e.entity == "case":
            ids[eid] = [int(x) for x in eid.split(":") if x.isdigit()]
        elif e.entity == "result" and _RESULT_ID.fullmatch(eid):
            results[eid] = [int(x) for x in eid.split(":")]
    cases = tables.case_names(
        store,
        [*(parts[-1] for parts in ids.values() if parts), *(r[1] for r in results.values())],
    )
    out = []
    for e in events:
        entity, eid = e.entity, str(e.entity_id)
        if entity == "run" and eid.isdigit():
            out.append(str(runs.get(int(eid), f"run {eid}")))
        elif entity == "case" and ids.get(eid):
            parts = ids[eid]
            case = cases.get(parts[-1], f"case {parts[-1]}")
            out.append(f"{case} ({parts[0]} vs {parts[1]})" if len(parts) == 3 else case)
        elif entity == "result" and eid in results:  # #27: a judgment's run, case, epoch
            run_id, case_id, epoch = results[eid]
            run = runs.get(run_id, f"run {run_id}")
            out.append(f"{run}: {cases.get(case_id, f'case {case_id}')} epoch {epoch}")
        elif entity == "gold":  # which result a gold answer is stays hidden (security.md)
            out.append(f"gold answer {eid[:12]}")
        elif entity == "decision":
            out.append(f"decision {eid}")
        elif entity == "traffic":  # #28: kept traffic weights (`none`: none in force)
            out.append("no traffic weights" if eid == "none" else f"traffic weights #{eid}")
        else:
            out.append(eid)
    return out
