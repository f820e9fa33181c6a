"""Grouping note vectors: average linkage on cosine distance, cut at a threshold, bounded.

Exact average linkage needs every pairwise distance: 10,000 notes would be 400 MB of
them. So, in two stages:

1. Rounds. A round takes at most SAMPLE_SIZE notes of the pool (all of it when it fits;
   otherwise those first in a seeded hash order of their ids, so the choice does not
   depend on the order they came in), clusters them exactly (scipy's average linkage,
   cut where the average cosine distance exceeds the threshold) and keeps the groups of
   two or more as candidates. Every other note of the pool joins the candidate whose
   notes it is on average most similar to, when that average distance is within the
   threshold: the rule by which average linkage would have merged it. The sample and
   the notes that joined leave the pool; the next round samples what is left.
2. Merging. The candidates of every round are merged by the same rule, exactly: the
   average cosine between two groups of unit vectors is the dot product of their sums
   over the product of their sizes, so group averages need no pairwise matrix. The most
   similar pair merges first, until no pair is within the threshold.

When every note fits one sample (SAMPLE_SIZE or fewer) this is exact average-linkage
clustering and stage 2 merges nothing. Memory is bounded by the sample (a 2,000 x 2,000
matrix, 32 MB) and the candidates, not by the number of notes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform

from .vectors import Matrix, mean_rows

SAMPLE_SIZE = 2000
MERGE_MAX = 1000  # groups that take part in stage 2 (a 1,000 x 1,000 matrix, 8 MB)
_CHUNK = 2000  # rows of the pool compared with the candidates at a time


@dataclass(frozen=True)
class Clustering:
    groups: tuple[tuple[int, ...], ...]  # row indices, each ascending; by first index
    rounds: int


def _linkage_groups(x: Matrix, threshold: float) -> list[list[int]]:
    """Exact average-linkage clusters of these rows (local indices, ascending)."""
    n = x.shape[0]
    if n < 2:
        return [[i] for i in range(n)]
    d = (x @ x.T).toarray()
    np.subtract(1.0, d, out=d)
    np.clip(d, 0.0, 2.0, out=d)
    np.fill_diagonal(d, 0.0)
    condensed = squareform(d, checks=False, force="tovector")
    del d
    labels = fcluster(linkage(condensed, method="average"), t=threshold, criterion="distance")
    by_label: dict[int, list[int]] = {}
    for i, label in enumerate(labels.tolist()):
        by_label.setdefault(label, []).append(i)
    return sorted(by_label.values())


def _assign(
    x: Matrix, rest: list[int], candidates: list[list[int]], threshold: float
) -> dict[int, int]:
    """Which candidate each rest row joins (by index), when on average within threshold."""
    means = mean_rows(x, candidates).T.tocsc()
    joined: dict[int, int] = {}
    for start in range(0, len(rest), _CHUNK):
        rows = rest[start : start + _CHUNK]
        sims = (x[rows] @ means).toarray()
        best = np.argmax(sims, axis=1)  # the first on a tie: the candidate with the lowest row
        ok = sims[np.arange(len(rows)), best] >= 1.0 - threshold
        for r, b, fits in zip(rows, best.tolist(), ok.tolist(), strict=True):
            if fits:
                joined[r] = b
    return joined


def _gram(x: Matrix, groups: list[list[int]], block: int = 128) -> np.ndarray:
    """Dot products of the groups' sum vectors, a block of groups at a time (two blocks
    of sums in memory, each no larger than its members' rows)."""
    k = len(groups)
    g = np.empty((k, k), dtype=np.float64)
    starts = range(0, k, block)
    for a in starts:
        sa = mean_rows(x, groups[a : a + block], total=True)
        for b in starts:
            if b < a:
                continue
            sb = sa if b == a else mean_rows(x, groups[b : b + block], total=True)
            part = (sa @ sb.T).toarray()
            g[a : a + block, b : b + block] = part
            g[b : b + block, a : a + block] = part.T
    return g


def _merge(x: Matrix, groups: list[list[int]], threshold: float) -> list[list[int]]:
    """Average linkage continued from these groups (exact group averages from sums). At
    most MERGE_MAX groups take part, the largest (then the first); the rest stay as they
    are. Each row's best partner is kept and only rows that lose theirs are searched again."""
    order = sorted(range(len(groups)), key=lambda i: (-len(groups[i]), groups[i][0]))
    part, rest = order[:MERGE_MAX], order[MERGE_MAX:]
    members = [list(groups[i]) for i in sorted(part)]
    k = len(members)
    if k < 2:
        return members + [groups[i] for i in rest]
    sizes = np.array([len(m) for m in members], dtype=np.float64)
    g = _gram(x, members)
    avg = g / np.outer(sizes, sizes)
    np.fill_diagonal(avg, -np.inf)
    best = avg.argmax(axis=1)  # the lowest column on a tie
    best_val = avg[np.arange(k), best]
    floor = 1.0 - threshold
    while True:
        i = int(np.argmax(best_val))
        j = int(best[i])
        if best_val[i] < floor:
            break
        i, j = min(i, j), max(i, j)
        g[i, :] += g[j, :]
        g[:, i] += g[:, j]
        sizes[i] += sizes[j]
        members[i] += members[j]
        members[j] = []
        sizes[j] = np.inf  # never again a partner
        avg[j, :] = -np.inf
        avg[:, j] = -np.inf
        row = g[i, :] / (sizes[i] * sizes)
        row[i] = -np.inf
        row[~np.isfinite(sizes)] = -np.inf
        avg[i, :] = row
        avg[:, i] = row
        best_val[j] = -np.inf
        stale = np.flatnonzero((best == i) | (best == j))
        stale = stale[stale != j]
        better = (row > best_val) | ((row == best_val) & (i < best))
        better[j] = False
        best[better] = i
        best_val[better] = row[better]
        if len(stale):
            best[stale] = avg[stale].argmax(axis=1)
            best_val[stale] = avg[stale, best[stale]]
    return [sorted(m) for m in members if m] + [groups[i] for i in rest]


def sample_order(ids: Sequence[str], seed: int) -> list[int]:
    """Row positions in a seeded hash order of their ids (independent of input order)."""

    def rank(i: int) -> bytes:
        return hashlib.blake2b(f"{seed}\x00{ids[i]}".encode(), digest_size=16).digest()

    return sorted(range(len(ids)), key=lambda i: (rank(i), ids[i]))


def cluster(
    x: Matrix, ids: Sequence[str], *, threshold: float, seed: int, sample_size: int = SAMPLE_SIZE
) -> Clustering:
    """Groups of two or more rows (rows with no features are in none)."""
    nonzero = np.flatnonzero(np.diff(x.indptr) > 0).tolist()
    order = {row: pos for pos, row in enumerate(sample_order(ids, seed))}
    pool = sorted(nonzero)
    candidates: list[list[int]] = []
    rounds = 0
    while pool:
        rounds += 1
        if len(pool) <= sample_size:
            sample, rest = pool, []
        else:
            chosen = set(sorted(pool, key=order.__getitem__)[:sample_size])
            sample = [r for r in pool if r in chosen]
            rest = [r for r in pool if r not in chosen]
        found = [
            [sample[i] for i in group]
            for group in _linkage_groups(sp.csr_matrix(x[sample]), threshold)
            if len(group) >= 2
        ]
        joined = _assign(x, rest, found, threshold) if rest and found else {}
        for row, c in joined.items():
            found[c].append(row)
        candidates += [sorted(g) for g in found]
        pool = [r for r in rest if r not in joined]
    groups = _merge(x, candidates, threshold) if rounds > 1 else candidates
    return Clustering(groups=tuple(tuple(g) for g in sorted(groups)), rounds=rounds)
