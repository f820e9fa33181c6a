"""The calibration figures of a run (and of a comparison): what `evaltui calibrate report`,
the app's calibration panel and the gate read.

Per criterion: the judged results (agreed labels; disputed and unsure ones counted apart),
the grader's confusion against them, TPR and TNR with exact and Wilson intervals, kappa and
AC1, the corrected pass rate of the run with its interval, per segment when asked; with a
baseline, the corrected paired delta and whether the grader errs differently on the two
runs. The estimators are `evaltui.estimate`; this module gathers their counts from the
store. Method: docs/calibration.md.
"""

from __future__ import annotations

import difflib
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from evaltui.errors import InputError
from evaltui.estimate import (
    Confusion,
    CorrectedDelta,
    CorrectedRate,
    GraderCalibration,
    GraderDifference,
    PairedCounts,
    calibrate,
    corrected_delta,
    corrected_pass_rate,
    grader_differs,
)
from evaltui.review.calibration import gold, judgments, samples
from evaltui.review.calibration.judgments import Labels, criterion_word
from evaltui.review.calibration.samples import SampleRecord
from evaltui.stats import ALPHA
from evaltui.store.runs import grader
from evaltui.store.runs.grader import VERDICT, ResultRef


@dataclass(frozen=True, slots=True)
class Figures:
    """A grader measured against the judged results of some runs on one criterion."""

    runs: tuple[int, ...]
    criterion: str
    labels: Labels
    confusion: Confusion
    calibration: GraderCalibration
    judgment_set_sha256: str
    ungraded: int  # judged results the grader gave no pass or fail (left out)

    @property
    def judged(self) -> int:
        return self.confusion.n


def figures(
    conn: sqlite3.Connection,
    run_ids: Iterable[int],
    criterion: str,
    alpha: float = ALPHA,
    within: set[ResultRef] | None = None,
) -> Figures:
    """The calibration from the agreed judgments on `criterion` in these runs (only those of
    `within`, when given: a segment, a rule's scope)."""
    runs = tuple(sorted(set(run_ids)))
    found = judgments.labels(conn, runs, criterion)
    if within is not None:
        kept = tuple(x for x in found.labels if x.ref in within)
        found = Labels(found.criterion, kept, found.unsure)
    agreed = found.agreed
    said = grader.verdicts(conn, [x.ref for x in agreed], criterion)
    pairs = [(said[x.ref] == "pass", x.verdict == "pass") for x in agreed if said[x.ref]]
    confusion = Confusion.from_pairs(pairs)
    return Figures(
        runs=runs,
        criterion=criterion,
        labels=found,
        confusion=confusion,
        calibration=calibrate(confusion, alpha),
        judgment_set_sha256=judgments.set_hash(conn, found),
        ungraded=len(agreed) - len(pairs),
    )


@dataclass(frozen=True, slots=True)
class SegmentFigures:
    """One segment: its own calibration (the judged results in it) and corrected rate."""

    segment: str
    figures: Figures
    corrected: CorrectedRate


@dataclass(frozen=True, slots=True)
class PairedFigures:
    """Candidate minus baseline on one criterion, corrected for the grader's errors."""

    baseline_run: int
    baseline: Figures  # the baseline's own judgments
    calibration: Literal["per-run", "shared"]
    delta: CorrectedDelta
    differs: GraderDifference | None  # None: a run has no judged result


@dataclass(frozen=True, slots=True)
class CriterionReport:
    criterion: str
    grader: str  # the grader's identity, as far as the run's log says it
    figures: Figures  # the run's own judgments
    corrected: CorrectedRate
    samples: tuple[SampleRecord, ...]
    dimension: str | None
    segments: tuple[SegmentFigures, ...]
    paired: PairedFigures | None
    gold: tuple[gold.ReviewerGold, ...]


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    run_id: int
    run_name: str
    baseline_id: int | None
    baseline_name: str | None
    alpha: float
    criteria: tuple[CriterionReport, ...]
    gold_items: int


def grader_identity(conn: sqlite3.Connection, run_id: int, criterion: str) -> str:
    """The criterion, and what the run's log says of who scored it: Inspect's task and
    version (and its scoring's digest) and the grading model of a model-graded scorer (the
    criterion's own; for the verdict, every scorer's), lm-eval's tasks, and promptfoo's grading
    provider of a model-graded assertion such as llm-rubric (both kept as `grader_models`)."""
    _name, _sha, fmt, meta = grader.run_identity(conn, run_id)
    parts = [f"{criterion_word(criterion)} ({fmt})"]
    for key in ("task", "inspect_version", "scores_digest", "tasks", "lm_eval_version", "grader"):
        value = meta.get(key)
        if value not in (None, "", []):
            text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            parts.append(f"{key} {text[:120]}")
    models = meta.get("grader_models")
    if isinstance(models, dict) and criterion in models:
        parts.append(f"grader model {str(models[criterion])[:200]}")
    elif isinstance(models, dict) and models and criterion == VERDICT:
        named = ", ".join(f"{k}: {v}" for k, v in sorted(models.items()))
        parts.append(f"grader models {named[:300]}")
    return "; ".join(parts)


def corrected_rate(
    conn: sqlite3.Connection, run_id: int, criterion: str, fig: Figures
) -> CorrectedRate:
    passes, fails = grader.counts(conn, run_id, criterion)
    return corrected_pass_rate(passes, passes + fails, fig.calibration)


def paired(
    conn: sqlite3.Connection,
    baseline_run: int,
    candidate_run: int,
    criterion: str,
    counts: PairedCounts,
    alpha: float = ALPHA,
    candidate: Figures | None = None,
) -> PairedFigures:
    """The corrected paired delta: each run corrected by its own judgments when both
    calibrations stand (right whether or not the grader errs alike on both); otherwise one
    calibration from the judgments of both runs, shared."""
    base = figures(conn, [baseline_run], criterion, alpha)
    cand = candidate or figures(conn, [candidate_run], criterion, alpha)
    differs = None
    if base.judged and cand.judged:
        differs = grader_differs(base.confusion, cand.confusion, alpha)
    if base.calibration.refusal() is None and cand.calibration.refusal() is None:
        delta = corrected_delta(counts, base.calibration, cand.calibration)
        return PairedFigures(baseline_run, base, "per-run", delta, differs)
    pooled = figures(conn, [baseline_run, candidate_run], criterion, alpha)
    return PairedFigures(
        baseline_run, base, "shared", corrected_delta(counts, pooled.calibration), differs
    )


def _criteria(conn: sqlite3.Connection, runs: Sequence[int], wanted: str | None) -> list[str]:
    if wanted is not None:
        check_criterion(conn, runs, wanted)
        return [wanted]
    judged = {c for (r, c) in judgments.judged_counts(conn) if r in runs}
    return sorted(judged, key=lambda c: (c != VERDICT, c))


def check_criterion(conn: sqlite3.Connection, runs: Iterable[int], criterion: str) -> None:
    """Refuse a criterion a run does not score (did-you-mean from what it scores)."""
    if criterion == VERDICT:
        return
    for run_id in runs:
        names = grader.criteria(conn, run_id)
        if criterion not in names:
            close = difflib.get_close_matches(criterion, names, n=2, cutoff=0.6)
            hint = (
                f"; did you mean {' or '.join(map(repr, close))}?"
                if close
                else f"; it scores {', '.join(map(repr, ['verdict', *names]))}"
            )
            raise InputError("--criterion", f"run {run_id} scores no criterion {criterion!r}{hint}")


def report(
    conn: sqlite3.Connection,
    run_id: int,
    *,
    baseline: int | None = None,
    criterion: str | None = None,
    dimension: str | None = None,
    alpha: float = ALPHA,
) -> CalibrationReport:
    """The calibration report of a run (against a baseline, when given)."""
    runs = [run_id] if baseline is None else [baseline, run_id]
    out = []
    for crit in _criteria(conn, runs, criterion):
        fig = figures(conn, [run_id], crit, alpha)
        segs: list[SegmentFigures] = []
        if dimension is not None:
            segs = _segments(conn, run_id, crit, fig, dimension, alpha)
        pair = None
        if baseline is not None:
            counts = PairedCounts(*grader.paired_counts(conn, baseline, run_id, crit))
            pair = paired(conn, baseline, run_id, crit, counts, alpha, candidate=fig)
        reviewers = fig.labels.reviewers + (pair.baseline.labels.reviewers if pair else [])
        out.append(
            CriterionReport(
                criterion=crit,
                grader=grader_identity(conn, run_id, crit),
                figures=fig,
                corrected=corrected_rate(conn, run_id, crit, fig),
                samples=tuple(samples.samples_for(conn, runs, crit)),
                dimension=dimension,
                segments=tuple(segs),
                paired=pair,
                gold=tuple(gold.accuracy(conn, crit, sorted(set(reviewers)), alpha)),
            )
        )
    return CalibrationReport(
        run_id=run_id,
        run_name=grader.run_identity(conn, run_id)[0],
        baseline_id=baseline,
        baseline_name=None if baseline is None else grader.run_identity(conn, baseline)[0],
        alpha=alpha,
        criteria=tuple(out),
        gold_items=gold.count(conn),
    )


def _segments(
    conn: sqlite3.Connection, run_id: int, criterion: str, fig: Figures, dim: str, alpha: float
) -> list[SegmentFigures]:
    """Per segment of `dim`: the judged results in it calibrate its own corrected rate (a
    segment with too few is refused, with the reason, not pooled)."""
    where = grader.segments_of(conn, [x.ref for x in fig.labels.labels], dim)
    out = []
    for seg, (passes, fails) in sorted(grader.segment_counts(conn, run_id, criterion, dim).items()):
        inside = {ref for ref, s in where.items() if s == seg}
        part = figures(conn, [run_id], criterion, alpha, within=inside)
        out.append(
            SegmentFigures(seg, part, corrected_pass_rate(passes, passes + fails, part.calibration))
        )
    return out
