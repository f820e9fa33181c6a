"""The demo's reviewers' notes (fixtures/demo/notes.jsonl): notes without a class, as
open coding leaves them, on the demo's comparison. Five of them describe one failure mode
only the candidate has (backup codes handed to a self-declared manager), so the demo
proposes one new class; the rest are one-off remarks that stay unclustered.
"""

from __future__ import annotations

import json

from evaltui.errors import NotFoundError
from evaltui.paths import demo_data_dir
from evaltui.review import triage
from evaltui.store import Store, runs

NOTES_FILE = "notes.jsonl"


def add_demo_notes(store: Store) -> int:
    """Write the demo's notes as their reviewers' findings (a note each, no class); how
    many. Each is an ordinary label, logged."""
    n = 0
    for line in (demo_data_dir() / NOTES_FILE).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        base, cand = (
            runs.run_by_name(store, row["baseline"]),
            runs.run_by_name(store, row["candidate"]),
        )
        case = runs.case_by_key(store, row["suite"], row["case_key"])
        if base is None or cand is None or case is None:
            raise NotFoundError(f"the demo note on {row['case_key']} names no demo run or case")
        triage.label(store, base, cand, case, note=row["note"], reviewer=row["reviewer"])
        n += 1
    return n
