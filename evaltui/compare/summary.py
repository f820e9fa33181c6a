"""The records of a comparison: its segment table and the summary `evaltui compare --json`
prints (`Comparison.summary()`; docs/compare.md).

One segment type: `SegmentRecord` is what the screen's scoreboard shows, what
`compare --json` lists and what a decision record keeps (gate/record.py). Field order is
the JSON's key order; the figures are rounded to 6 places, the significance mark is
decided on the unrounded p-values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evaltui.compare.kinds import CHANGED
from evaltui.compare.rows import RunRef, declared_reducers, reducer_note
from evaltui.stats import ALPHA, holm, mcnemar_exact, wilson
from evaltui.trajectory import ToolStats

if TYPE_CHECKING:  # the engine builds these records, and is read here for them
    from evaltui.compare.engine import Comparison


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, json_schema_serialization_defaults_required=True
    )


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def _interval(k: int, n: int) -> list[float] | None:
    ci = wilson(k, n)
    return None if ci is None else [round(ci[0], 6), round(ci[1], 6)]


class Rate(_Model):
    passed: int
    rate: float | None
    ci95: list[float] | None


class FallbackRate(_Model):
    n: int
    passed: int
    rate: float | None
    ci95: list[float] | None


class Flips(_Model):
    pass_to_fail: int
    fail_to_pass: int


class Coverage(_Model):
    added: int
    dropped: int


class SegmentRecord(_Model):
    """One row of the segment table (dimension "all" is every case)."""

    dimension: str
    value: str
    n: int
    baseline: Rate
    candidate: Rate
    fallback: FallbackRate | None
    delta: float | None
    flips: Flips
    p_value: float | None
    p_adjusted: float | None
    significant: bool
    coverage: Coverage

    @property
    def label(self) -> str:
        return "all" if self.dimension == "all" else f"{self.dimension}={self.value}"

    # the figures by their plain names (the scoreboard's, the tests')
    @property
    def baseline_passed(self) -> int:
        return self.baseline.passed

    @property
    def candidate_passed(self) -> int:
        return self.candidate.passed

    @property
    def baseline_rate(self) -> float | None:
        return self.baseline.rate

    @property
    def candidate_rate(self) -> float | None:
        return self.candidate.rate

    @property
    def fallback_rate(self) -> float | None:
        return None if self.fallback is None else self.fallback.rate

    @property
    def regressed(self) -> int:  # pass -> not pass
        return self.flips.pass_to_fail

    @property
    def improved(self) -> int:  # not pass -> pass
        return self.flips.fail_to_pass

    @classmethod
    def of(
        cls,
        dimension: str,
        value: str,
        cell: Sequence[int],
        fallback: bool,
        p: float,
        p_adjusted: float | None,
    ) -> SegmentRecord:
        """A row from its counts: paired n, baseline / candidate / fallback passed, fallback
        n, pass -> fail, fail -> pass, added, dropped; p: McNemar's, `p_adjusted`: after the
        table's correction (None: not adjusted)."""
        n, bp, cp, fp, fn, reg, imp, added, dropped = cell
        return cls(
            dimension=dimension,
            value=value,
            n=n,
            baseline=Rate(passed=bp, rate=_r(bp / n if n else None), ci95=_interval(bp, n)),
            candidate=Rate(passed=cp, rate=_r(cp / n if n else None), ci95=_interval(cp, n)),
            fallback=FallbackRate(
                n=fn, passed=fp, rate=_r(fp / fn if fn else None), ci95=_interval(fp, fn)
            )
            if fallback
            else None,
            delta=_r((cp - bp) / n if n else None),
            flips=Flips(pass_to_fail=reg, fail_to_pass=imp),
            p_value=_r(p),
            p_adjusted=_r(p_adjusted),
            # p < alpha after the table's correction (Holm by default), so that among many
            # segments a mark does not appear by chance
            significant=(p if p_adjusted is None else p_adjusted) < ALPHA,
            coverage=Coverage(added=added, dropped=dropped),
        )


def segment_table(
    tally: Iterable[Sequence[Any]],
    dimensions: Sequence[str],
    statuses: frozenset[str],
    has_fallback: bool,
    correction: str = "holm",
) -> list[SegmentRecord]:
    """The "all" row, then one row per value of each dimension, from the engine's tally
    rows (status, change, baseline/candidate/fallback pass or None, segment values..., count)."""
    cells: dict[tuple[str, str], list[int]] = {}

    def add(dim: str, value: str, change: str, b: Any, c: Any, f: Any, n: int) -> None:
        cell = cells.setdefault((dim, value), [0] * 9)
        if b is not None and c is not None:
            cell[0] += n
            cell[1] += n * int(b)
            cell[2] += n * int(c)
            if f is not None:
                cell[3] += n * int(f)
                cell[4] += n
            cell[5] += n * int(b == 1 and c == 0)
            cell[6] += n * int(b == 0 and c == 1)
        cell[7] += n * (change == "added")
        cell[8] += n * (change == "dropped")

    for row in tally:
        status, change, b, c, f = row[:5]
        if status not in statuses:
            continue
        n = row[-1]
        add("all", "all", change, b, c, f, n)
        for i, dim in enumerate(dimensions):
            v = row[5 + i]
            add(dim, "(none)" if v is None else str(v), change, b, c, f, n)

    rows = [("all", "all", cells.get(("all", "all"), [0] * 9))]
    for dim in dimensions:
        for (d, value), cell in sorted(cells.items()):
            if d == dim:
                rows.append((dim, value, cell))
    raw = [mcnemar_exact(cell[5], cell[6]) for _, _, cell in rows]
    adjusted: list[float | None] = list(holm(raw)) if correction == "holm" else [None] * len(raw)
    return [
        SegmentRecord.of(dim, value, cell, has_fallback, p, p_adj)
        for (dim, value, cell), p, p_adj in zip(rows, raw, adjusted, strict=True)
    ]


class RunInfo(_Model):
    """A compared run, as the summary names it."""

    id: int
    name: str
    role: str
    system: str
    sha256: str

    @classmethod
    def of(cls, run: RunRef) -> RunInfo:
        return cls(id=run.id, name=run.name, role=run.role, system=run.system, sha256=run.sha256)


class CriterionFlips(_Model):
    """One criterion (reduced like the verdict) over paired cases: flips each way, and
    regressions on it while the case's own verdict held."""

    pass_to_fail: int
    fail_to_pass: int
    hidden_regressions: int


class LimitHits(_Model):
    """Keys of the cases with a sample that hit a limit, per run: flags beside verdicts."""

    baseline: list[str]
    candidate: list[str]


class NewInCandidate(_Model):
    """Failure modes new in the candidate (#29): the classes that candidate-failing cases
    have and no baseline-failing case has (verified findings), and those cases (the gate's
    `new_failure_modes` counts them). Proposals from notes: `evaltui codebook propose`."""

    classes: list[str]
    cases: list[str]

    @classmethod
    def of(cls, classes: list[str], cases: list[str]) -> NewInCandidate:
        return cls(classes=classes, cases=cases)


class CompareSummary(_Model):
    """One comparison summarised: the stable JSON of `evaltui compare --json` is `dump()`."""

    schema_: Literal["evaltui.compare/1"] = Field(default="evaltui.compare/1", alias="schema")
    baseline: RunInfo
    candidate: RunInfo
    fallback: RunInfo | None
    reducer: str
    declared_reducers: dict[str, str | None]
    reducer_note: str | None
    correction: str
    statuses: list[str]
    excluded: dict[str, int]  # cases by status left out
    dimensions: list[str]
    counts: dict[str, int]  # cases by change
    coverage: Coverage
    segments: list[SegmentRecord]
    criteria: dict[str, CriterionFlips] | None = None  # left out of the JSON when not read
    changed: dict[str, list[str]] | None = None  # case keys by change; left out when not read
    limit_hits: LimitHits
    tools: dict[str, ToolStats | None]  # None: a run without trajectories
    new_in_candidate: NewInCandidate

    def dump(self) -> dict[str, Any]:
        """The JSON data (`criteria` and `changed` only when they were read)."""
        unread = {k for k in ("criteria", "changed") if getattr(self, k) is None}
        return self.model_dump(mode="json", by_alias=True, exclude=unread)


def summarise(cmp: Comparison, *, with_keys: bool, with_criteria: bool) -> CompareSummary:
    """`Comparison.summary()`: the record `evaltui compare --json` prints, read from the
    comparison's public reads."""
    counts = cmp.counts()
    trio = (cmp.baseline, cmp.candidate, cmp.fallback)
    # flags beside verdicts: the cases with a sample that hit a limit
    hits = {s: cmp.rows_where("k.case_key", f"t.{s[0]}_nl > 0") for s in ("baseline", "candidate")}
    return CompareSummary(
        baseline=RunInfo.of(cmp.baseline),
        candidate=RunInfo.of(cmp.candidate),
        fallback=RunInfo.of(cmp.fallback) if cmp.fallback else None,
        reducer=cmp.reducer.label,
        declared_reducers=declared_reducers(*trio),
        reducer_note=reducer_note(cmp.reducer, *trio),
        correction=cmp.correction,
        statuses=sorted(cmp.statuses),
        excluded={k: v for k, v in cmp.status_counts().items() if k not in cmp.statuses},
        dimensions=cmp.dimensions,
        counts=counts,
        coverage=Coverage(added=counts["added"], dropped=counts["dropped"]),
        segments=cmp.segments(),
        criteria=cmp.criterion_changes() if with_criteria else None,
        changed=cmp.changed_keys(CHANGED) if with_keys else None,
        limit_hits=LimitHits(**{s: [r[0] for r in rows] for s, rows in hits.items()}),
        new_in_candidate=NewInCandidate.of(*cmp.new_failure_modes()),
        tools=cmp.tool_stats(),
    )
