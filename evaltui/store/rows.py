"""Building a run's rows for the store: the loop every imported result goes through, and run totals."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Generator, Iterable
from math import isfinite
from typing import Any

from pydantic_core import to_json

from evaltui import trajectory
from evaltui.errors import InputError
from evaltui.models import Record

BATCH = 2_000
# Rows for CASE_UPSERT (without the attr_sets id) and RESULT_INSERT.
# (case rows, result rows, trajectory rows)
RowBatch = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]
# Builds the row batches of a run: called with the run id and the Tally to fill.
RowSource = Callable[[int, "Tally"], Generator[RowBatch, None, None]]

VERDICT_SLOT = {"pass": 0, "fail": 1, "error": 2}  # a criterion's; no verdict: unscored (slot 5)
MAX_ATTRIBUTE_VALUES = 50
MAX_ATTRIBUTE_SETS = 5_000
_SCALARS = (str, int, float, bool)
ATTR_ID_CACHE = 20_000
MANY = "\u2026more"  # counts the cases of an attribute's values past the first 50


class Tally:
    """Run totals gathered while the rows are built."""

    def __init__(self) -> None:
        self.counts = {"pass": 0, "fail": 0, "error": 0, "limit": 0, "unscored": 0}
        self.limit_hits = 0  # samples that hit a limit, whatever their verdict (runs.n_limit)
        self.criteria: dict[str, list[float]] = {}
        self.suites: set[str] = set()
        # attributes JSON -> cases (epoch 0), for up to MAX_ATTRIBUTE_SETS distinct objects;
        # summarised per attribute once, at the end (`attribute_summary`)
        self.attribute_sets: dict[str, int] = {}
        self.attribute_overflow = False

    def attribute_summary(self) -> dict[str, dict[str, int]]:
        """{attribute: {value: cases}}; a key stops counting past MAX_ATTRIBUTE_VALUES values."""
        out: dict[str, dict[str, int]] = {}
        for text, n in self.attribute_sets.items():
            attrs = json.loads(text)
            for key, value in attrs.items():
                if not isinstance(value, _SCALARS):
                    continue
                values = out.setdefault(key, {})
                sval = ("true" if value else "false") if isinstance(value, bool) else str(value)
                if sval in values:
                    values[sval] += n
                elif len(values) < MAX_ATTRIBUTE_VALUES:
                    values[sval] = n
                else:
                    values[MANY] = values.get(MANY, 0) + n
        if self.attribute_overflow:  # more distinct objects than counted: say so for busy keys
            for values in out.values():
                if len(values) >= MAX_ATTRIBUTE_VALUES // 5:
                    values.setdefault(MANY, 0)
        return out


MAX_EPOCH = 2**31 - 1
TRAJECTORY_BATCH_BYTES = 8 << 20  # compressed trajectories held before a batch is written
# text held before a batch is written: a run of huge outputs goes to the store as it is
# read, never held whole (an Inspect .eval of 40 members of 61 MB each)
BATCH_BYTES = 8 << 20


def _bad(rec: Record, field: str, message: str) -> InputError:
    """A record's bad field; the caller that knows the file names it (service.import_path)."""
    return InputError("", message, location=rec.location or None, field=field)


def build_rows(
    records: Iterable[Record], run_id: int, tally: Tally
) -> Generator[RowBatch, None, None]:
    """Rows for CASE_UPSERT and RESULT_INSERT, BATCH records at a time.

    The loop every imported result goes through: names are bound locally.
    """
    case_rows: list[tuple[Any, ...]] = []
    result_rows: list[tuple[Any, ...]] = []
    traj_rows: list[tuple[Any, ...]] = []
    traj_bytes = held = 0
    add_case, add_result = case_rows.append, result_rows.append
    counts, criteria, suites = tally.counts, tally.criteria, tally.suites
    sets = tally.attribute_sets
    dumps, crc32, slots = to_json, zlib.crc32, VERDICT_SLOT
    for rec in records:
        suite, key, verdict, epoch, output = (
            rec.suite,
            rec.case_key,
            rec.verdict,
            rec.epoch,
            rec.output,
        )
        # Strict numbers, whatever the format: NaN, infinities (1e999) and integers SQLite
        # cannot hold are refused here, where every record passes (docs/security.md).
        if not 0 <= epoch <= MAX_EPOCH:
            raise _bad(rec, "epoch", f"epoch {epoch} is out of range (0 to {MAX_EPOCH})")
        score, latency, cost = rec.score, rec.latency_ms, rec.cost
        if (
            (score is not None and not isfinite(score))
            or (latency is not None and not isfinite(latency))
            or (cost is not None and not isfinite(cost))
        ):  # the rare bad record: find which field (no tuple built for every record)
            name, value = next(
                (n, v)
                for n, v in (("score", score), ("latency_ms", latency), ("cost", cost))
                if v is not None and not isfinite(v)
            )
            raise _bad(rec, name, f"{value!r} is not a finite number")
        suites.add(suite)
        counts[verdict] += 1
        # a limit hit is a flag beside the verdict; a `limit` verdict (stopped with none)
        # is one too, named by its error when the format gives no other (runs.LIMIT_HIT)
        limit = rec.limit
        if limit is None and verdict == "limit":
            limit = rec.error or "limit"
        if limit is not None:
            tally.limit_hits += 1
        attributes = rec.attributes
        if attributes:
            attrs_json = dumps(attributes).decode()
            if epoch == 0:
                if attrs_json in sets:
                    sets[attrs_json] += 1
                elif len(sets) < MAX_ATTRIBUTE_SETS:
                    sets[attrs_json] = 1
                else:
                    tally.attribute_overflow = True
        else:
            attrs_json = "{}"
        crits = rec.criteria
        if crits:
            for name, crit in crits.items():
                if crit.score is not None and not isfinite(crit.score):
                    raise _bad(
                        rec, f"criteria.{name}.score", f"{crit.score!r} is not a finite number"
                    )
                slot = criteria.get(name)
                if slot is None:
                    slot = criteria[name] = [0, 0, 0, 0, 0.0, 0]
                if crit.verdict is not None:
                    slot[slots.get(crit.verdict, 5)] += 1
                else:
                    slot[5] += 1
                if crit.score is not None:
                    slot[3] += 1
                    slot[4] += crit.score
            crit_json = dumps(crits, exclude_none=True).decode()
        else:
            crit_json = "{}"
        add_case((suite, key, rec.input, rec.expected, attrs_json, run_id))
        # batches are bounded in bytes as well as rows: 20 results of 30 MiB are 20 batches
        tool_crc = 0
        if rec.trajectory:
            tool_crc, blob, tools, sources = _trajectory_row(rec)
            traj_rows.append((run_id, suite, key, epoch, blob, tools, sources))
            traj_bytes += len(blob)
        add_result(
            (
                run_id,
                suite,
                key,
                epoch,
                verdict,
                rec.score,
                output,
                crit_json,
                rec.latency_ms,
                rec.cost,
                rec.explanation,
                rec.error,
                rec.location,
                (
                    crc32(output.encode("utf-8", "surrogatepass"))
                    if len(output) < CRC_STEP
                    else _crc(output)
                )
                if output
                else 0,
                tool_crc,
                limit,
            )
        )
        held += len(output) + len(rec.input) + len(rec.expected or "") + len(crit_json)
        if len(result_rows) >= BATCH or traj_bytes > TRAJECTORY_BATCH_BYTES or held > BATCH_BYTES:
            yield case_rows, result_rows, traj_rows
            case_rows, result_rows, traj_rows, traj_bytes, held = [], [], [], 0, 0
            add_case, add_result = case_rows.append, result_rows.append
            del rec, output, crits, attributes  # not held while the next record is read
    if result_rows:
        yield case_rows, result_rows, traj_rows


CRC_STEP = 1 << 20


def _crc(text: str) -> int:
    """The CRC-32 of a big text's UTF-8, encoded a step at a time (the same bytes: each
    code point encodes alone), never a second whole copy of a 60 MB output."""
    crc = 0
    for i in range(0, len(text), CRC_STEP):
        crc = zlib.crc32(text[i : i + CRC_STEP].encode("utf-8", "surrogatepass"), crc)
    return crc


def _trajectory_row(rec: Record) -> tuple[int, bytes, str, str]:
    """(tool-path fingerprint, the trajectory compressed, its tools and its sources as
    JSON lists) of a record's trajectory."""
    import zstandard  # load time: only a run with trajectories compresses them

    steps = [
        s if isinstance(s, trajectory.Step) else trajectory.Step.model_validate(s)
        for s in rec.trajectory or []
    ]
    tools = sorted({c.name or "" for c in trajectory.calls(steps)})
    retrieved, cited = trajectory.sources(steps)
    return (
        trajectory.fingerprint(steps),
        zstandard.ZstdCompressor(level=3).compress(trajectory.dumps(steps)),
        json.dumps(tools, ensure_ascii=False),
        json.dumps(sorted({*retrieved, *cited}), ensure_ascii=False),
    )
