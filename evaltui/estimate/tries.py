"""One segment's random stream read once for a margin search (#28): Cheng's beta draws
from tries kept, the same floats as `segments.betas` draws from the stream itself.

A margin search redraws one segment at many counts, each time from the segment's own
stream (the estimator's: a probe is the estimate with those counts). Cheng's algorithms
take their tries two uniforms at a time, and what a try needs that does not depend on the
shapes (the uniforms, log(u1 / (1 - u1)), 5 u1 u1 u2) is the same in every probe: `Tries`
computes it once per stream, and `betas` here accepts and rejects the kept tries with
exactly the operations of `segments.betas`, in the same order, so the draws are the same
floats (tests/test_production_sampler.py holds the two equal). A stream in which the first
uniform of a try is 0.0 (`segments.betas` draws it again alone, which shifts the pairs) is
not read so: `betas` returns None and the caller draws from the stream itself.
"""

from __future__ import annotations

import math
import random
import sys
from operator import length_hint

LOG4, ONE_PLUS_LOG5, BIG = math.log(4.0), 1.0 + math.log(5.0), sys.float_info.max


class Tries:
    """The tries of one stream, made as they are first needed and kept: per try u1, u2,
    log(u1 / (1 - u1)) and 5 u1 u1 u2, in lists (a list's iterator says how far it got;
    about 130 bytes a try). A margin search keeps one segment's at a time: about 5,300
    tries per 4,000 draws of a beta, two betas for a paired delta (some 1.4 MB)."""

    def __init__(self, rng: random.Random, of: object = None) -> None:
        self.rng, self.of = rng, of  # `of`: whose stream it is, for the caller to check
        self.u1: list[float] = []
        self.u2: list[float] = []
        self.logit: list[float] = []
        self.z5: list[float] = []
        self.regular = True  # every try so far took exactly two uniforms

    def upto(self, m: int) -> bool:
        """At least m tries kept; False when the stream's tries are not pairs."""
        if self.regular and m > len(self.u1):
            uniform, more = self.rng.random, max(m - len(self.u1), 64)
            u = [uniform() for _ in range(2 * more)]
            u1, u2 = u[0::2], u[1::2]
            if 0.0 in u1:  # segments.betas draws this u1 again: the pairs shift
                self.regular = False
                return False
            log = math.log  # 1.0 and 5.0 for segments.betas' 1 and 5: the same floats, sooner
            self.u1 += u1
            self.u2 += u2
            self.logit += [log(x / (1.0 - x)) for x in u1]
            self.z5 += [5.0 * (x * x * y) for x, y in zip(u1, u2, strict=True)]
        return self.regular


def betas(tries: Tries, start: int, a: float, b: float, n: int) -> tuple[list[float], int] | None:
    """n draws of Beta(a, b) from the tries from `start` on, and the try after the last one
    taken; None when the stream's tries are not pairs. segments.betas, try for try."""
    lo, hi = min(a, b), max(a, b)
    alpha, first = lo + hi, lo == a
    log, exp = math.log, math.exp
    taken: list[float] = []
    put = taken.append
    pos, need = start, n
    while need:
        # about 1.3 tries a draw (BB), up to 2 (BC); short, more are made
        if not tries.upto(pos + (need * 4 // 3 if lo > 1 else 2 * need) + 16):
            return None
        xs = iter(tries.logit[pos:])
        tried = zip(xs, tries.z5[pos:], tries.u1[pos:], tries.u2[pos:], strict=True)
        if lo > 1:  # BB
            beta = math.sqrt((alpha - 2) / (2 * lo * hi - alpha))
            gamma = lo + 1 / beta
            for x, z5, u1, u2 in tried:
                v = beta * x
                w = lo * exp(v) if v < 709.0 else BIG
                r = gamma * v - LOG4
                s = lo + r - w
                if not s + ONE_PLUS_LOG5 >= z5:
                    lz = log(u1 * u1 * u2)
                    if not (s > lz or r + alpha * log(alpha / (hi + w)) >= lz):
                        continue
                put(w)
                need -= 1
                if not need:
                    break
        else:  # BC
            beta, delta = 1 / lo, 1 + hi - lo
            k1 = delta * (0.0138889 + 0.0416667 * lo) / (hi * beta - 0.777778)
            k2 = 0.25 + (0.5 + 0.25 / delta) * lo
            for x, _, u1, u2 in tried:
                if u1 < 0.5:
                    y = u1 * u2
                    z = u1 * y
                    if 0.25 * u2 + z - y >= k1:
                        continue
                else:
                    z = u1 * u1 * u2
                    if z >= k2 and z > 0.25:
                        continue
                v = beta * x
                w = hi * exp(v) if v < 709.0 else BIG
                if not (z <= 0.25 and u1 >= 0.5) and not (
                    z > 0.0 and alpha * (log(alpha / (lo + w)) + v) - LOG4 >= log(z)
                ):
                    continue
                put(w)
                need -= 1
                if not need:
                    break
        pos = len(tries.logit) - length_hint(xs)
    if lo > 1:
        return [w / (hi + w) for w in taken] if first else [hi / (hi + w) for w in taken], pos
    return [lo / (lo + w) for w in taken] if first else [w / (lo + w) for w in taken], pos
