"""Files of labels made elsewhere: judgments (`calibrate import`) and gold answers (`gold
import`), as CSV with a header or as JSON lines, and the sample file `calibrate sample --out`
writes (the same columns, the verdict left empty).

Columns: run (name or id), case (key or suite/key), epoch (when the case has several
samples), criterion (default: the result's verdict), verdict (pass, fail or unsure; `answer`
for gold: pass or fail), reviewer, sample (a sample's number or uid, optional), note; and,
in a file `calibrate export` wrote, uid and at (a judgment keeps its uid from store to
store, so exchanging files converges: the same judgment is never added twice).
Every row is checked before anything is written; a bad one is refused naming the file, the
line and the column, and the store is unchanged. Importing the same file again adds
nothing (each row's uid comes from the file's SHA-256 and its line).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from evaltui import signing
from evaltui.errors import EvaltuiError, InputError
from evaltui.files import read_regular
from evaltui.review.calibration import gold, judgments, samples
from evaltui.review.calibration.judgments import HUMAN_VERDICTS, Judgment, criterion_name
from evaltui.review.calibration.report import check_criterion
from evaltui.review.findings_files import signers_file
from evaltui.review.triage_state import check_name
from evaltui.store import runs
from evaltui.store.events import now_iso
from evaltui.store.runs import grader
from evaltui.store.runs.grader import ResultRef
from evaltui.store.store import Store
from evaltui.textsafe import one_line

COLUMNS = ("run", "case", "epoch", "criterion", "verdict", "reviewer", "sample", "note")
HEX = frozenset("0123456789abcdef")
MAX_ROWS = 100_000


def _rows(path: Path, raw: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, row) of a CSV file with a header, or of a JSON-lines file."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(str(path), "not UTF-8 text") from None
    jsonl = path.suffix.lower() in (".jsonl", ".json", ".ndjson") or text.lstrip()[:1] == "{"
    if jsonl:
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (ValueError, RecursionError):
                raise InputError(str(path), "not a JSON object", location=f"line {n}") from None
            if not isinstance(row, dict):
                raise InputError(str(path), "not a JSON object", location=f"line {n}")
            yield n, row
        return
    reader = csv.DictReader(io.StringIO(text, newline=""))
    for row in reader:
        if None in row:
            raise InputError(
                str(path),
                "more values than the header has columns",
                location=f"line {reader.line_num}",
            )
        yield reader.line_num, {k.strip(): v for k, v in row.items() if k is not None}


class _Row:
    """One row being read: each field taken and checked, errors naming the line and column."""

    def __init__(self, path: Path, line: int, data: dict[str, Any]) -> None:
        self.path, self.line, self.data = path, line, data

    def error(self, field: str, message: str) -> InputError:
        return InputError(str(self.path), message, location=f"line {self.line}", field=field)

    def text(self, field: str, required: bool = False) -> str | None:
        value = self.data.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise self.error(field, f"{field} is missing")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.error(field, f"{field} must be text, not {type(value).__name__}")
        text = str(value).strip()
        if len(text) > 2000:
            raise self.error(field, f"{field} is longer than 2,000 characters")
        return text

    def ref(self, store: Store) -> tuple[ResultRef, str]:
        """The result (run, case, epoch) and the criterion the row names."""
        run_text = self.text("run", required=True)
        assert run_text is not None
        try:
            run_id = runs.resolve_run(store, run_text)
        except EvaltuiError as exc:
            raise self.error("run", exc.message) from None
        case = self.text("case", required=True)
        assert case is not None
        suite, key = (None, case) if "/" not in case else case.split("/", 1)
        case_id = grader.case_by_key(store.conn, suite, key)
        if case_id is None and suite is not None:
            case_id = grader.case_by_key(store.conn, None, case)
        if case_id is None:
            raise self.error("case", f"no case {one_line(case, 80)!r} (or it is in several suites)")
        epoch_text = self.text("epoch")
        if epoch_text is not None and not epoch_text.isdigit():
            raise self.error(
                "epoch", f"epoch must be a whole number, not {one_line(epoch_text, 40)!r}"
            )
        criterion = criterion_name(self.text("criterion"))
        try:
            check_criterion(store.conn, [run_id], criterion)
            ref = grader.resolve_result(
                store.conn, run_id, case_id, None if epoch_text is None else int(epoch_text)
            )
        except InputError as exc:
            field = (
                "epoch"
                if exc.path == "--epoch"
                else "criterion"
                if exc.path == "--criterion"
                else "case"
            )
            raise self.error(field, exc.detail) from None
        return ref, criterion

    def uid(self) -> str | None:
        """A judgment's uid as another store wrote it (32 hex digits), or None."""
        uid = self.text("uid")
        if uid is not None and not (len(uid) == 32 and all(c in HEX for c in uid)):
            raise self.error("uid", "a uid is 32 lowercase hex digits")
        return uid

    def at(self) -> str | None:
        """When the judgment was made, as the store that made it wrote it (ISO 8601)."""
        at = self.text("at")
        if at is not None:
            try:
                datetime.fromisoformat(at)
            except ValueError:
                raise self.error("at", f"not an ISO 8601 time: {one_line(at, 40)!r}") from None
        return at

    def choice(self, field: str, allowed: tuple[str, ...], *aliases: str) -> str:
        value = next((v for v in (self.text(f) for f in (field, *aliases)) if v), None)
        if value is None:
            raise self.error(field, f"{field} is missing")
        if value.lower() not in allowed:
            raise self.error(
                field, f"{field} must be one of {', '.join(allowed)}, not {one_line(value, 40)!r}"
            )
        return value.lower()


def _read(path: Path, raw: bytes) -> tuple[str, list[_Row]]:
    sha = hashlib.sha256(raw).hexdigest()
    rows: list[_Row] = []
    for line, data in _rows(path, raw):
        if len(rows) >= MAX_ROWS:
            raise InputError(str(path), f"more than {MAX_ROWS:,} rows", location=f"line {line}")
        rows.append(_Row(path, line, data))
    if not rows:
        raise InputError(str(path), "no rows: nothing to import")
    return sha, rows


def _uid(sha: str, line: int) -> str:
    return hashlib.sha256(f"{sha}:{line}".encode()).hexdigest()[:32]


def signature(store: Store, path: Path, raw: bytes, given: Path | None) -> str | None:
    """The verified signer of a labels file (None: no FILE.sig beside it, and no
    `--allowed-signers` given). A signed file is verified over `raw` (the bytes read once,
    and imported) against the allowed-signers file given, else the store's (`findings
    signers`); one that does not check, or that cannot be checked here, is refused naming
    the file and its `signature` field: judgments have no unverified state to keep it in."""
    sig = signing.signature_path(path)
    if not os.path.lexists(sig):
        if given is not None:
            raise InputError(str(path), f"no signature {sig.name} next to it", field="signature")
        return None
    signers = signers_file(store, given)
    if signers is None:
        raise InputError(
            str(path),
            f"signed ({sig.name}), but there is no allowed-signers file to verify it against: "
            "give --allowed-signers, or keep the store's (`evaltui findings signers FILE`)",
            field="signature",
        )
    return signing.verify(path, signers, signing.JUDGMENTS, data=raw)


def import_judgments(
    store: Store, path: Path, allowed_signers: Path | None = None
) -> tuple[int, int, str | None]:
    """Judgments from a file, all checked first, added in one transaction: (added, already
    there, the file's verified signer). A signed file speaks only for its signer: a row
    naming another reviewer is refused."""
    raw = read_regular(path, "labels file")
    signer = signature(store, path, raw, allowed_signers)
    sha, rows = _read(path, raw)
    source = f"file:{path.name}#{sha[:12]}"
    out = []
    for row in rows:
        ref, criterion = row.ref(store)
        verdict: Any = row.choice("verdict", HUMAN_VERDICTS, "human_verdict")
        reviewer = row.text("reviewer", required=True)
        assert reviewer is not None
        try:
            check_name(reviewer, "reviewer")
        except InputError as exc:
            raise row.error("reviewer", exc.detail) from None
        if signer is not None and reviewer != signer:
            raise row.error(
                "reviewer",
                f"{reviewer} did not sign this file ({signer} did): a signed file speaks only "
                "for its signer",
            )
        sample = row.text("sample")
        if sample is not None:
            try:
                kept = samples.get_sample(store.conn, sample)
            except EvaltuiError as exc:
                raise row.error("sample", exc.message) from None
            if ref not in kept.items or kept.criterion != criterion:
                raise row.error("sample", f"this result is not an item of {kept.label}")
            sample = kept.uid
        uid, at = row.uid(), row.at()
        out.append(
            Judgment(
                uid=uid or _uid(sha, row.line),
                ref=ref,
                criterion=criterion,
                kind="judgment",
                verdict=verdict,
                note=row.text("note"),
                reviewer=reviewer,
                at=at or now_iso(),
                undoes=None,
                sample=sample,
                purpose="calibration",
                seconds=None,
                source=source,
            )
        )
    return (*judgments.add_imported(store, out, signer=signer), signer)


def import_gold(store: Store, path: Path) -> tuple[int, int]:
    """Gold answers from a file (set by the importing adjudicator): (added, already there)."""
    who = gold.check_adjudicator(store, store.actor)
    sha, rows = _read(path, read_regular(path, "labels file"))
    items = []
    for row in rows:
        ref, criterion = row.ref(store)
        answer: Any = row.choice("answer", ("pass", "fail"))
        items.append(
            gold.GoldItem(
                _uid(sha, row.line), ref, criterion, answer, row.text("note"), who, now_iso()
            )
        )
    return gold.add_imported(store, items)


def sample_rows(store: Store, kept: samples.SampleRecord) -> list[dict[str, Any]]:
    """A sample's items as rows of a labels file, the verdict and reviewer left to fill."""
    name = grader.run_identity(store.conn, kept.run_id)[0]
    keys = grader.case_keys(store.conn, (r.case_id for r in kept.items))
    return [
        {
            "run": name,
            "case": "/".join(keys[r.case_id]),
            "epoch": r.epoch,
            "criterion": judgments.criterion_word(kept.criterion),
            "verdict": "",
            "reviewer": "",
            "sample": kept.uid,
            "note": "",
        }
        for r in kept.items
    ]


def sample_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def export_rows(store: Store, reviewer: str | None = None) -> list[dict[str, Any]]:
    """Every calibration judgment in force (`reviewer`'s only, when given: a signed file's),
    as rows `calibrate import` reads back (with their uids): for another store, or a team
    that keeps labels elsewhere. Gold answers, the judgments made on gold items and the
    samples (a store's own queues) are not."""
    out = []
    for run_id, crit in sorted(judgments.judged_counts(store.conn)):
        name = grader.run_identity(store.conn, run_id)[0]
        state = judgments.in_force(store.conn, [run_id], crit)
        keys = grader.case_keys(store.conn, (ref.case_id for ref, _ in state))
        for (ref, who), j in sorted(state.items(), key=lambda kv: (kv[0][0], kv[0][1])):
            if reviewer is not None and who != reviewer:
                continue
            out.append(
                {
                    "uid": j.uid,
                    "run": name,
                    "case": "/".join(keys[ref.case_id]),
                    "epoch": ref.epoch,
                    "criterion": judgments.criterion_word(crit),
                    "verdict": j.verdict,
                    "reviewer": who,
                    "at": j.at,
                    "note": j.note or "",
                }
            )
    return out
