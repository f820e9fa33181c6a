"""Calibration samples: drawn from a run (`draw`) and kept. The owner of the
`calibration_samples` table (no other module names it in SQL). A sample is kept with its
seed, its frame and its items in judging order; it is the judging queue a reviewer walks
(`calibration.queue`). The draw itself is `estimate.draw_sample` (docs/calibration.md,
"The calibration sample").
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from evaltui.errors import InputError, NotFoundError
from evaltui.estimate import CalibrationSample, FrameItem, SampleFrame, Stratum, draw_sample
from evaltui.review.calibration.judgments import criterion_word
from evaltui.store.events import now_iso
from evaltui.store.runs import grader
from evaltui.store.runs.grader import ResultRef
from evaltui.store.store import Store


@dataclass(frozen=True, slots=True)
class SampleRecord:
    """A calibration sample as kept: how it was drawn, and the results to judge, in order."""

    id: int
    uid: str
    run_id: int
    criterion: str
    seed: int
    requested: int
    allocation: str
    dimension: str | None
    frame: dict[str, Any]  # hash, size, strata, self_weighting (estimate.SampleFrame)
    items: tuple[ResultRef, ...]
    gold_rate: float
    made_by: str
    at: str

    @property
    def label(self) -> str:
        return f"sample {self.id}"


_SAMPLE_COLS = (
    "id, uid, run_id, criterion, seed, requested, allocation, dimension, frame, items, "
    "gold_rate, made_by, at"
)


def _sample(r: Sequence[Any]) -> SampleRecord:
    run_id = int(r[2])
    return SampleRecord(
        id=int(r[0]),
        uid=r[1],
        run_id=run_id,
        criterion=r[3],
        seed=int(r[4]),
        requested=int(r[5]),
        allocation=r[6],
        dimension=r[7],
        frame=json.loads(r[8]),
        items=tuple(ResultRef(run_id, int(c), int(e)) for c, e in json.loads(r[9])),
        gold_rate=float(r[10]),
        made_by=r[11],
        at=r[12],
    )


def add_sample(
    store: Store,
    *,
    run_id: int,
    criterion: str,
    seed: int,
    requested: int,
    allocation: str,
    dimension: str | None,
    frame: dict[str, Any],
    items: Sequence[ResultRef],
    gold_rate: float = 0.0,
) -> SampleRecord:
    """Keep a drawn sample (its queue), with its event. One transaction."""
    uid, at, who = uuid.uuid4().hex, now_iso(), store.actor
    with store.transaction():
        cur = store.conn.execute(
            f"INSERT INTO calibration_samples ({_SAMPLE_COLS[4:]}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                uid,
                run_id,
                criterion,
                seed,
                requested,
                allocation,
                dimension,
                json.dumps(frame, sort_keys=True),
                json.dumps([[r.case_id, r.epoch] for r in items]),
                gold_rate,
                who,
                at,
            ),
        )
        store.log_event(
            "calibration.sample",
            "run",
            run_id,
            after={
                "sample": cur.lastrowid,
                "criterion": criterion_word(criterion),
                "seed": seed,
                "drawn": len(items),
                "frame_sha256": frame.get("hash"),
                "gold_rate": gold_rate,
            },
            context={"uid": uid},
        )
    return get_sample(store.conn, str(cur.lastrowid))


def samples(conn: sqlite3.Connection, run_id: int | None = None) -> list[SampleRecord]:
    """The samples kept (of one run, when given), oldest first."""
    where, params = ("WHERE run_id = ?", [run_id]) if run_id is not None else ("", [])
    return [
        _sample(r)
        for r in conn.execute(
            f"SELECT {_SAMPLE_COLS} FROM calibration_samples {where} ORDER BY id", params
        )
    ]


def get_sample(conn: sqlite3.Connection, ref: str) -> SampleRecord:
    """A sample by its number (`calibrate samples` lists them) or a prefix of its uid."""
    text = ref.removeprefix("sample ").strip()
    row = None
    if text.isdigit():
        row = conn.execute(
            f"SELECT {_SAMPLE_COLS} FROM calibration_samples WHERE id = ?", (int(text),)
        ).fetchone()
    if row is None and len(text) >= 6:
        found = conn.execute(
            f"SELECT {_SAMPLE_COLS} FROM calibration_samples WHERE uid LIKE ? || '%' LIMIT 2",
            (text,),
        ).fetchall()
        row = found[0] if len(found) == 1 else None
    if row is None:
        raise NotFoundError(
            f"no calibration sample {ref!r}; `evaltui calibrate samples` lists them"
        )
    return _sample(row)


def samples_for(
    conn: sqlite3.Connection, run_ids: Iterable[int], criterion: str
) -> list[SampleRecord]:
    """The samples drawn from these runs on `criterion` (what a record names)."""
    wanted = set(run_ids)
    return [s for s in samples(conn) if s.run_id in wanted and s.criterion == criterion]


MAX_SAMPLE = 100_000  # items one sample may hold (a queue people walk)


def _frame_json(frame: SampleFrame, dimension: str | None) -> dict[str, Any]:
    return {
        "hash": frame.hash,
        "size": frame.size,
        "dimension": dimension,
        "self_weighting": frame.self_weighting,
        "strata": [
            {"segment": s.segment, "verdict": s.verdict, "size": s.size, "drawn": s.drawn}
            for s in frame.strata
        ],
    }


def _equal_shares(n: int, sizes: list[int]) -> list[int]:
    """n shared equally among segments; a small segment gives what it has, the rest is
    shared among the others."""
    alloc, left, open_ = [0] * len(sizes), n, [i for i, s in enumerate(sizes) if s]
    while left > 0 and open_:
        share, extra = divmod(left, len(open_))
        for k, i in enumerate(open_):
            alloc[i] += min(share + (k < extra), sizes[i] - alloc[i])
        left = n - sum(alloc)
        open_ = [i for i in open_ if alloc[i] < sizes[i]]
    return alloc


def _per_segment(items: list[FrameItem], n: int, seed: int) -> CalibrationSample:
    """n shared equally among the segments, each drawn proportionally by the grader's
    verdict (so each segment's own TPR and TNR are unbiased; pooled, the segments are
    weighted by their draw, not their size: `self_weighting` says so)."""
    whole = draw_sample(items, 0, seed=seed)  # the frame's hash and strata sizes
    by_seg: dict[str, list[FrameItem]] = {}
    for it in items:
        by_seg.setdefault(it.segment, []).append(it)
    segs = sorted(by_seg)
    shares = _equal_shares(min(n, len(items)), [len(by_seg[s]) for s in segs])
    drawn: list[Any] = []
    strata: list[Stratum] = []
    for seg, k in zip(segs, shares, strict=True):
        part = draw_sample(by_seg[seg], k, seed=seed)
        drawn.extend(part.ids)
        strata.extend(part.frame.strata)
    key = json.dumps([seed, "order", "per-segment"]).encode()
    random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big")).shuffle(drawn)
    fractions = {round(k / len(by_seg[s]), 9) for s, k in zip(segs, shares, strict=True)}
    frame = SampleFrame(
        hash=whole.frame.hash,
        size=whole.frame.size,
        strata=tuple(strata),
        allocation="equal",
        seed=seed,
        requested=n,
        drawn=len(drawn),
        self_weighting=len(fractions) <= 1,
    )
    return CalibrationSample(ids=tuple(drawn), frame=frame)


def draw(
    store: Store,
    run_id: int,
    criterion: str,
    *,
    n: int,
    seed: int,
    dimension: str | None = None,
    per_segment: bool = False,
    gold_rate: float = 0.0,
) -> SampleRecord:
    """Draw a seeded sample of the run's results the grader passed or failed on `criterion`
    (passes and fails alike, stratified by segment of `dimension` and grader verdict) and
    keep it. `per_segment`: the same number from each segment of `dimension`."""
    if not 1 <= n <= MAX_SAMPLE:
        raise InputError("--n", f"a sample holds 1 to {MAX_SAMPLE:,} results, not {n}")
    if not 0.0 <= gold_rate < 1.0:
        raise InputError("--gold-rate", f"the gold rate is at least 0 and below 1, not {gold_rate}")
    if per_segment and dimension is None:
        raise InputError("--per-segment", "give the segment dimension with --by")
    rows = (
        FrameItem(r.result_id, r.segment, r.verdict)
        for r in grader.frame(store.conn, run_id, criterion, dimension)
    )
    drawn = _per_segment(list(rows), n, seed) if per_segment else draw_sample(rows, n, seed=seed)
    if not drawn.ids:
        raise InputError(
            "RUN",
            f"run {run_id} has no result the grader passed or failed on "
            f"{criterion_word(criterion)}: nothing to sample",
        )
    refs = grader.refs_of(store.conn, [int(i) for i in drawn.ids])
    items = list(dict.fromkeys(refs[int(i)] for i in drawn.ids))  # a repeated sample once
    return add_sample(
        store,
        run_id=run_id,
        criterion=criterion,
        seed=seed,
        requested=n,
        allocation=drawn.frame.allocation,
        dimension=dimension,
        frame=_frame_json(drawn.frame, dimension),
        items=items,
        gold_rate=gold_rate,
    )
