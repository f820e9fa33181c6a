"""promptfoo's CSV output (`-o results.csv`), streamed row by row."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from evaltui.errors import InputError
from evaltui.importers.base import limit_csv_fields
from evaltui.importers.promptfoo_model import Grading, Response, Row, TestCase


def _csv_reader(fh: IO[str]) -> Iterator[list[str]]:
    limit_csv_fields()
    return csv.reader(fh)


def _open_csv(path: Path) -> IO[str]:
    return path.open(encoding="utf-8-sig", newline="")


class _csv_errors:
    """Decoding and csv errors from a streamed CSV, named by its record."""

    def __init__(self, path: Path, record: int) -> None:
        self.path, self.record = path, record

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if isinstance(exc, UnicodeDecodeError):
            raise InputError(
                str(self.path), f"not valid UTF-8 ({exc.reason})", location=f"record {self.record}"
            ) from None
        if isinstance(exc, csv.Error):
            raise InputError(
                str(self.path), f"malformed CSV ({exc})", location=f"record {self.record}"
            ) from None


def header_starts(header: list[str]) -> list[int]:
    return [i for i, h in enumerate(header) if h.startswith("[")]


def csv_header(path: Path) -> list[str]:
    with _open_csv(path) as fh, _csv_errors(path, 1):
        header = next(_csv_reader(fh), None)
    if header is None:
        raise InputError(str(path), "the file is empty")
    if not header or header[0] != "Description":
        raise InputError(
            str(path), "a promptfoo CSV starts with a 'Description' column", location="record 1"
        )
    if not header_starts(header):
        raise InputError(
            str(path), "no '[provider] prompt' output column in the header", location="record 1"
        )
    return header


def csv_rows(path: Path, header: list[str]) -> Iterator[tuple[str, Row]]:
    starts = header_starts(header)
    var_names = header[1 : starts[0]]
    spans = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(header)
        spans.append((start, {h: i for i, h in enumerate(header[start + 1 : end], start + 1)}))
    with _open_csv(path) as fh:
        reader = _csv_reader(fh)
        record_no = 1
        with _csv_errors(path, record_no):
            next(reader, None)
        while True:
            record_no += 1
            with _csv_errors(path, record_no):
                cells = next(reader, None)
            if cells is None:
                return
            location = f"record {record_no}"
            if not any(cells):
                continue
            if len(cells) != len(header):
                raise InputError(
                    str(path),
                    f"{len(cells)} cells where the header has {len(header)}",
                    location=location,
                )
            variables = {
                name: cells[i + 1] for i, name in enumerate(var_names) if cells[i + 1] != ""
            }
            for prompt_idx, (start, cols) in enumerate(spans):
                provider = header[start][1:].partition("] ")[0]
                yield (
                    location,
                    _csv_row(
                        path,
                        cells,
                        cols,
                        start,
                        location,
                        record_no - 2,
                        prompt_idx,
                        provider,
                        variables,
                    ),
                )


def _csv_row(
    path: Path,
    cells: list[str],
    cols: dict[str, int],
    start: int,
    location: str,
    index: int,
    prompt_idx: int,
    provider: str,
    variables: dict[str, Any],
) -> Row:
    status_col = cols.get("Status")
    if status_col is None:
        raise InputError(str(path), "no Status column", location="record 1", field="Status")
    status = cells[status_col].strip().upper()
    if status not in ("PASS", "FAIL", "ERROR"):
        raise InputError(
            str(path),
            f"Status must be PASS, FAIL or ERROR (got {cells[status_col]!r})",
            location=location,
            field="Status",
        )
    named: dict[str, float | None] = {}  # promptfoo writes a NaN metric as an empty cell
    for h, i in cols.items():
        if h.startswith("Metric: ") and cells[i] != "":
            metric = h[len("Metric: ") :]
            named[metric] = _float(path, cells[i], location, f"Metric: {metric}")
    score_col = cols.get("Score")
    reason = cells[cols["Grader Reason"]] if "Grader Reason" in cols else None
    return Row(
        testIdx=index,
        promptIdx=prompt_idx,
        success=status == "PASS",
        failureReason={"PASS": 0, "FAIL": 1, "ERROR": 2}[status],
        score=_float(path, cells[score_col], location, "Score")
        if score_col is not None and cells[score_col] != ""
        else None,
        namedScores=named,
        gradingResult=Grading(reason=reason or None) if "Grader Reason" in cols else None,
        response=Response(output=cells[start]),
        testCase=TestCase(description=cells[0] or None, vars=variables),
        vars=variables,
        prompt=None,
        provider=provider,
        error=reason if status == "ERROR" else None,
    )


def _float(path: Path, cell: str, location: str, field: str) -> float | None:
    """A number cell. promptfoo writes `Score` with JavaScript's toFixed, so a NaN score
    is "NaN" (its JSON output holds null for the same result): no score, as from the
    JSON. It writes a NaN metric as an empty cell; any other non-finite cell was not
    written by promptfoo and is refused."""
    try:
        value = float(cell)
    except (ValueError, RecursionError):
        raise InputError(
            str(path), f"not a number (got {cell!r})", location=location, field=field
        ) from None
    if value - value == 0:
        return value
    if field == "Score" and cell.strip() == "NaN":
        return None
    raise InputError(
        str(path),
        f"not a finite number (got {cell!r}); promptfoo writes none here",
        location=location,
        field=field,
    )
