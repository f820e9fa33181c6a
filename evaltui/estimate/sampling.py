"""A seeded, stratified random sample of results for judging (`calibrate sample`).

The frame is every result that could be drawn, each in a stratum (segment, grader
verdict). The draw depends only on the seed and the frame as a set: the frame is sorted
first, each stratum draws from its own generator (seeded from the seed and the stratum),
so the same seed and frame give the same ids in any input order, and adding a stratum
does not change what another stratum draws. The frame's description (a hash, the size
and the draw per stratum) goes into the record.

Passes and fails are both drawn: calibrating on changed or failing cases only measures
the grader where it is worst (docs/calibration.md, "The sampling frame").
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from .binomial import check_count

Allocation = Literal["proportional", "equal"]
ALLOCATIONS: tuple[Allocation, ...] = get_args(Allocation)
ResultId = int | str


@dataclass(frozen=True, slots=True)
class FrameItem:
    """One result that may be drawn, and its stratum."""

    result_id: ResultId
    segment: str
    verdict: str  # the grader's verdict: "pass" or "fail"


@dataclass(frozen=True, slots=True)
class Stratum:
    segment: str
    verdict: str
    size: int  # results in the frame
    drawn: int  # results drawn

    @property
    def fraction(self) -> float:
        """The sampling fraction: a drawn result stands for 1 / fraction results."""
        return self.drawn / self.size


@dataclass(frozen=True, slots=True)
class SampleFrame:
    """What the sample was drawn from, for the record.

    `hash` is the SHA-256 of the sorted frame (one JSON line [segment, verdict, id] per
    result); `self_weighting` is True when every stratum was drawn at the same fraction, up
    to rounding (proportional allocation): only then can the judged results be pooled
    unweighted into one TPR/TNR. An equal allocation over-samples small strata and needs
    per-stratum figures or weights (not built yet).
    """

    hash: str
    size: int
    strata: tuple[Stratum, ...]
    allocation: Allocation
    seed: int
    requested: int
    drawn: int
    self_weighting: bool


@dataclass(frozen=True, slots=True)
class CalibrationSample:
    """The ids to judge, in a seeded random order (so judging order follows no stratum)."""

    ids: tuple[ResultId, ...]
    frame: SampleFrame


def _stratum_seed(seed: int, *parts: str) -> int:
    text = json.dumps([seed, *parts], ensure_ascii=True)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _largest_remainder(n: int, sizes: list[int]) -> list[int]:
    """n shared in proportion to sizes (Hamilton): floors, then the largest remainders;
    ties go to the earlier stratum in sorted order."""
    total = sum(sizes)
    quotas = [n * s / total for s in sizes]
    alloc = [int(q) for q in quotas]
    order = sorted(range(len(sizes)), key=lambda i: (-(quotas[i] - alloc[i]), i))
    for i in order[: n - sum(alloc)]:
        alloc[i] += 1
    return alloc


def _equal(n: int, sizes: list[int]) -> list[int]:
    """n shared equally; a stratum smaller than its share gives all it has and the rest is
    shared among the others (water-filling); leftovers go to strata in sorted order."""
    alloc = [0] * len(sizes)
    left = n
    open_ = [i for i, s in enumerate(sizes) if s > 0]
    while left > 0 and open_:
        share, extra = divmod(left, len(open_))
        for k, i in enumerate(open_):
            alloc[i] += min(share + (1 if k < extra else 0), sizes[i] - alloc[i])
        left = n - sum(alloc)
        open_ = [i for i in open_ if alloc[i] < sizes[i]]
    return alloc


def _first_duplicate(strata: dict[tuple[str, str], list[ResultId]]) -> ResultId:
    seen: set[ResultId] = set()
    for key in sorted(strata):
        for i in strata[key]:
            if i in seen:
                return i
            seen.add(i)
    raise AssertionError("no duplicate")


def draw_sample(
    frame: Iterable[FrameItem],
    n: int,
    *,
    seed: int,
    allocation: Allocation = "proportional",
) -> CalibrationSample:
    """Draw n results (all of them when the frame is smaller), stratified by (segment,
    verdict). O(N log N) for a frame of N results. Raises ValueError on a duplicate id or a
    frame mixing int and str ids (the caller's bug, not data)."""
    check_count("n", n)
    if type(seed) is not int:
        raise ValueError(f"seed must be an integer, not {seed!r}")
    if allocation not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {', '.join(ALLOCATIONS)}")
    strata: dict[tuple[str, str], list[ResultId]] = {}
    kinds: set[type] = set()
    size = 0
    for it in frame:
        if type(it.segment) is not str or type(it.verdict) is not str:
            raise ValueError(f"result {it.result_id!r}: segment and verdict must be strings")
        kinds.add(type(it.result_id))
        strata.setdefault((it.segment, it.verdict), []).append(it.result_id)
        size += 1
    if len(kinds) > 1 or not kinds <= {int, str}:
        raise ValueError("result ids must be all int or all str")
    digest = hashlib.sha256()
    seen: set[ResultId] = set()
    for key in sorted(strata):
        ids = strata[key]
        ids.sort()  # all int or all str, checked above
        seen.update(ids)
        # one JSON line [segment, verdict, id] per result, strata and ids in sorted order
        prefix = json.dumps(list(key))[:-1] + ", "
        enc = str if kinds == {int} else json.dumps  # JSON of an int is its decimal form
        digest.update("".join(f"{prefix}{enc(i)}]\n" for i in ids).encode())
    if len(seen) != size:
        dup = _first_duplicate(strata)
        raise ValueError(f"result id {dup!r} is in the frame twice")
    keys = sorted(strata)
    sizes = [len(strata[k]) for k in keys]
    take = min(n, size)
    if not keys:
        alloc: list[int] = []
    elif allocation == "proportional":
        alloc = _largest_remainder(take, sizes)
    else:
        alloc = _equal(take, sizes)
    drawn: list[ResultId] = []
    for key, k in zip(keys, alloc, strict=True):
        drawn.extend(random.Random(_stratum_seed(seed, *key)).sample(strata[key], k))
    random.Random(_stratum_seed(seed, "order")).shuffle(drawn)
    # proportional: each stratum within one draw of its exact share (Hamilton), so the
    # fractions are equal up to rounding; equal: only when every fraction happens to match
    fractions = {k * 1_000_003 // s for k, s in zip(alloc, sizes, strict=True)}
    self_weighting = allocation == "proportional" or len(fractions) <= 1
    described = SampleFrame(
        hash=digest.hexdigest(),
        size=size,
        strata=tuple(
            Stratum(segment=s, verdict=v, size=size, drawn=k)
            for (s, v), size, k in zip(keys, sizes, alloc, strict=True)
        ),
        allocation=allocation,
        seed=seed,
        requested=n,
        drawn=len(drawn),
        self_weighting=self_weighting,
    )
    return CalibrationSample(ids=tuple(drawn), frame=described)
