"""Notes as vectors: sparse TF-IDF over hashed word and character n-grams.

Words (unigrams and bigrams, stop words dropped) say what a note is about; character
3-5-grams inside words catch typos and inflections ("refnd", "refunds"). Each kind is
weighted by sublinear term frequency (1 + ln tf) and smoothed idf (ln((1+n)/(1+df)) + 1),
features in fewer than MIN_DF notes are dropped (they cannot join two notes), each kind
is L2-normalised, and the two are joined with weights WORD_WEIGHT : 1 - WORD_WEIGHT and
normalised again, so a dot product is a cosine. Hashing (CRC-32 into 2^20 buckets per
kind) keeps memory bounded whatever the vocabulary; the matrices keep only the columns
that count. numpy and scipy.sparse only; every step works in place where it can.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from .text import BUCKETS, Featurizer, bucket

MIN_DF = 2
WORD_WEIGHT = 0.6  # share of the squared norm given to words; characters get the rest

Matrix = Any  # scipy.sparse.csr_matrix (float64, rows L2-normalised or zero)


@dataclass(frozen=True)
class Kind:
    """One kind of feature as the coded notes taught it: the buckets that count (sorted),
    their idf and their document frequency."""

    buckets: np.ndarray  # int32, ascending
    idf: np.ndarray  # float64, per kept bucket
    df: np.ndarray  # int32, per kept bucket

    def stats(self, buckets: Sequence[int]) -> tuple[list[float], list[int]]:
        """(idf, df) of each bucket; (0, 0) for one that does not count."""
        b = np.asarray(buckets, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.buckets, b), max(0, len(self.buckets) - 1))
        hit = self.buckets[pos] == b if len(self.buckets) else np.zeros(len(b), dtype=bool)
        idf = np.where(hit, self.idf[pos] if len(self.buckets) else 0.0, 0.0)
        df = np.where(hit, self.df[pos] if len(self.buckets) else 0, 0)
        return idf.tolist(), df.tolist()


@dataclass(frozen=True)
class Space:
    n: int
    words: Kind
    chars: Kind

    def word_stats(self, terms: Sequence[str]) -> tuple[list[float], list[int]]:
        """(idf, notes holding it) of each word or bigram; (0, 0) for one that does not
        count. Hashed: a term sharing its bucket shares these figures (rare at 2^20)."""
        return self.words.stats([bucket(t) for t in terms])


CHUNK = 2048  # notes turned into rows at a time


def _counts(feat: Featurizer, texts: Sequence[str]) -> tuple[Matrix, Matrix]:
    """Raw term counts per note, word and char buckets, as CSR (duplicates summed)."""
    wcols, ccols = array("i"), array("i")
    wptr, cptr = array("q", [0]), array("q", [0])
    for text in texts:
        words, chars = feat.features(text)
        wcols.extend(words)
        ccols.extend(chars)
        wptr.append(len(wcols))
        cptr.append(len(ccols))
    out = []
    for cols, ptr in ((wcols, wptr), (ccols, cptr)):
        indices = np.array(cols, dtype=np.int32)
        m = sp.csr_matrix(
            (np.ones(len(indices), dtype=np.float32), indices, np.array(ptr, dtype=np.int64)),
            shape=(len(texts), BUCKETS),
        )
        m.sum_duplicates()
        out.append(m)
    return out[0], out[1]


def _rows(m: Matrix) -> np.ndarray:
    return np.repeat(np.arange(m.shape[0], dtype=np.int32), np.diff(m.indptr))


def normalise_rows(m: Matrix) -> Matrix:
    """Each row scaled to unit length (a zero row stays zero); in place, and returned."""
    m = sp.csr_matrix(m)
    rows = _rows(m)
    norms = np.sqrt(np.bincount(rows, weights=m.data * m.data, minlength=m.shape[0]))
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    m.data *= scale[rows]
    return m


def _learn(df: np.ndarray, n: int) -> Kind:
    keep = np.flatnonzero(df >= MIN_DF).astype(np.int32)
    idf = np.log((1.0 + n) / (1.0 + df[keep])) + 1.0
    return Kind(buckets=keep, idf=idf, df=df[keep].astype(np.int32))


def _weigh(m: Matrix, kind: Kind) -> Matrix:
    """Counts to unit TF-IDF rows over the kind's kept columns (0..len(buckets)-1)."""
    lookup = np.full(BUCKETS, -1, dtype=np.int32)
    lookup[kind.buckets] = np.arange(len(kind.buckets), dtype=np.int32)
    cols = lookup[m.indices]
    keep = cols >= 0
    cols = cols[keep]  # the lookup keeps the buckets' order: each row stays sorted
    data = np.log(m.data[keep], dtype=np.float64)
    data += 1.0
    data *= kind.idf[cols]
    kept_before = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])
    indptr = kept_before[m.indptr]
    out = sp.csr_matrix((data, cols, indptr), shape=(m.shape[0], len(kind.buckets)))
    return normalise_rows(out)


def _join(words: Matrix, chars: Matrix) -> Matrix:
    joined = sp.hstack(
        [words * np.sqrt(WORD_WEIGHT), chars * np.sqrt(1.0 - WORD_WEIGHT)], format="csr"
    )
    return normalise_rows(joined)


def _stack(parts: list[Matrix], width: int) -> Matrix:
    if not parts:
        return sp.csr_matrix((0, width))
    return sp.csr_matrix(sp.vstack(parts, format="csr"))


def _kept_nnz(m: Matrix, kind: Kind) -> int:
    return int(np.isin(m.indices, kind.buckets, assume_unique=False).sum())


def fit(texts: Sequence[str]) -> tuple[Space, Matrix, Matrix]:
    """The space of these notes, their vectors (one row per note, in order), and their
    word vectors alone (what they are compared with classes by). In chunks, into arrays
    of the final size: a chunk's raw counts are dropped once its rows are made."""
    feat = Featurizer()
    n = len(texts)
    raw = [_counts(feat, texts[i : i + CHUNK]) for i in range(0, n, CHUNK)]
    word_df = np.zeros(BUCKETS, dtype=np.int64)
    char_df = np.zeros(BUCKETS, dtype=np.int64)
    for w, c in raw:
        word_df += np.bincount(w.indices, minlength=BUCKETS)
        char_df += np.bincount(c.indices, minlength=BUCKETS)
    space = Space(n=n, words=_learn(word_df, n), chars=_learn(char_df, n))
    del word_df, char_df
    total = sum(_kept_nnz(w, space.words) + _kept_nnz(c, space.chars) for w, c in raw)
    data = np.empty(total, dtype=np.float64)
    indices = np.empty(total, dtype=np.int32)
    indptr = np.zeros(n + 1, dtype=np.int64)
    words, at, row = [], 0, 0
    raw.reverse()
    while raw:
        w, c = raw.pop()
        words.append(_weigh(w, space.words))
        part = _join(words[-1], _weigh(c, space.chars))
        del w, c
        k = part.nnz
        data[at : at + k] = part.data
        indices[at : at + k] = part.indices
        indptr[row + 1 : row + 1 + part.shape[0]] = part.indptr[1:] + at
        at, row = at + k, row + part.shape[0]
    width = len(space.words.buckets) + len(space.chars.buckets)
    x = sp.csr_matrix((data, indices, indptr), shape=(n, width))
    return space, x, _stack(words, len(space.words.buckets))


def transform_words(space: Space, texts: Sequence[str]) -> Matrix:
    """Other texts (class rubrics, classified notes) as word vectors of the same space."""
    parts = [
        _weigh(_counts(Featurizer(), texts[i : i + CHUNK])[0], space.words)
        for i in range(0, len(texts), CHUNK)
    ]
    return _stack(parts, len(space.words.buckets))


def mean_rows(x: Matrix, groups: Sequence[Sequence[int]], *, total: bool = False) -> Matrix:
    """One row per group: the mean of its rows (a group's average vector), or their sum."""
    rows = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    cols = np.fromiter((i for g in groups for i in g), dtype=np.int64, count=len(rows))
    weights = np.repeat([1.0 if total else 1.0 / len(g) for g in groups], [len(g) for g in groups])
    pick = sp.csr_matrix((weights, (rows, cols)), shape=(len(groups), x.shape[0]))
    return sp.csr_matrix(pick @ x)
