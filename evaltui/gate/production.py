"""The gate on production traffic (#28): the policy's `[production]`, the weights a decision
reads, its rules on weighted figures checked, and the record's `production` section (the
weights' provenance and hash, the estimator, every estimate, each weighted rule's margin),
which `verify` recomputes. docs/gate.md, docs/production.md.

A policy that names no weighted metric and has no `[production]` table reads no weights
and its record has no `production` section: it is written as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from evaltui.compare.engine import Comparison
from evaltui.compare.measures import PRODUCTION_METRICS, fmt_threshold, fmt_value
from evaltui.compare.production import (
    Production,
    corrected_json,
    estimate_json,
    from_store,
    headline,
    open_regressions,
)
from evaltui.compare.production_corrected import refusal
from evaltui.errors import InputError
from evaltui.estimate.calibration import Refusal
from evaltui.estimate.margin import (
    Margin,
    OpenCounts,
    OpenPaired,
    Threshold,
    delta_margin,
    rate_margin,
)
from evaltui.estimate.margin_corrected import corrected_delta_margin, corrected_rate_margin
from evaltui.estimate.traffic import read_traffic
from evaltui.estimate.weighted import MIN_DRAWS, Basis, Bound, Settings
from evaltui.store.store import Store

if TYPE_CHECKING:  # gate/policy.py imports this module (its [production] table)
    from evaltui.gate.policy import LoadedPolicy, Rule

MAX_DRAWS = 100_000
CLOSEST = 10  # cells listed per margin, nearest first


class _FieldError(ValueError):
    """An error of one key of [production] (gate/policy.py names its line)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class ProductionPolicy(BaseModel):
    """`[production]`: which traffic weights the weighted metrics read, and how the
    estimate is made (the same settings every figure and margin of the decision use)."""

    model_config = ConfigDict(extra="forbid")

    # kept weights by name (their latest import) or #ID; default: the weights in force
    traffic: str | None = Field(default=None, min_length=1, max_length=100)
    # or a weights file, relative to the policy (its hash is recorded all the same)
    traffic_file: str | None = Field(default=None, min_length=1, max_length=1000)
    method: Literal["monte_carlo", "mover_wilson"] = "monte_carlo"
    draws: int = Field(default=4000, ge=MIN_DRAWS, le=MAX_DRAWS)
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    # a segment with fewer eval cases is uncovered traffic
    min_n: int = Field(default=1, ge=1, le=1_000_000)
    # each cell corrected for the grader's errors by the verdict's calibration (opt-in)
    calibrated: StrictBool = False

    @model_validator(mode="after")
    def _monte_carlo(self) -> ProductionPolicy:
        if self.calibrated and self.method != "monte_carlo":
            raise _FieldError(
                "calibrated",
                'the corrected estimate is Monte Carlo only: method = "monte_carlo"',
            )
        return self

    def settings(self) -> Settings:
        return Settings(method=self.method, draws=self.draws, seed=self.seed, min_n=self.min_n)


# -- the weights a decision reads -----------------------------------------------------------


def prepare(store: Store, loaded: LoadedPolicy) -> Production | None:
    """The weights and estimator the policy's weighted rules read: its `traffic_file`,
    its `traffic`, or the store's weights in force; None when it reads none (no weighted
    rule, no [production]), or when none are in force (`check` then refuses its rules)."""
    pol = loaded.policy
    conf = pol.production
    if conf is None and not any(r.metric in PRODUCTION_METRICS for r in pol.rule):
        return None
    conf = conf or ProductionPolicy()
    if conf.traffic is not None and conf.traffic_file is not None:
        raise InputError(
            str(loaded.path), "give traffic or traffic_file, not both", field="production"
        )
    if conf.traffic_file is not None:
        path = (loaded.path.parent / conf.traffic_file).resolve()
        w = read_traffic(path)
        prov = {
            "sha256": w.sha256,
            "source_path": str(path),
            "source": w.source,
            "period": str(w.period),
            "kind": w.kind,
            "attributes": list(w.attributes),
        }
        found: Production | None = Production(w, prov, conf.settings())
    else:
        found = from_store(store, conf.traffic, conf.settings())
    if found is not None:
        found.calibrated, found.alpha = conf.calibrated, pol.alpha
    return found


def check(loaded: LoadedPolicy, production: Production | None, cmp: Comparison) -> None:
    """Refuse, naming the rule and its key, a weighted rule with no weights to read or a
    scope other than all traffic; and weights by an attribute no compared case has."""
    for i, rule in enumerate(loaded.policy.rule):
        if rule.metric not in PRODUCTION_METRICS:
            continue
        if production is None:
            raise loaded.error(
                i,
                "metric",
                f"{rule.metric} needs traffic weights: none are in force in this store "
                "(`evaltui traffic import FILE`) and the policy's [production] names none",
            )
        if rule.scope != "all":
            raise loaded.error(
                i,
                "scope",
                f"{rule.metric} is measured over all production traffic: its scope is all "
                "(the weights' cells are its segments)",
            )
    refused = None if production is None else production.refusal(cmp)
    if refused is not None:
        raise refused


def lacking(production: Production | None, cmp: Comparison, rule: Rule) -> str | None:
    """Why a weighted rule on a corrected estimate lacks evidence (the calibration it
    needs is refused), or None."""
    which = PRODUCTION_METRICS.get(rule.metric)
    if production is None or not production.calibrated or which not in ("rate", "delta"):
        return None
    corrected = production.estimates(cmp).corrected
    assert corrected is not None  # calibrated: estimated so
    fixed = corrected.delta if which == "delta" else corrected.rates["candidate"]
    why = refusal(fixed)
    return None if why is None else f"the production estimate is not corrected: {why}"


# -- the record's section -------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class FigureRecord(_Model):
    point: float
    lower: float
    upper: float


class EstimateRecord(_Model):
    covered: FigureRecord | None  # over covered traffic, renormalised (None: none covered)
    worst: FigureRecord  # all traffic, the uncovered share at its worst
    best: FigureRecord
    uncovered_share: FigureRecord
    uncovered: list[dict[str, str]]  # the cells no estimate could use


class CellFlips(_Model):
    cell: dict[str, str]
    available: int  # cases of the cell that can flip that way
    cases: int | None  # the fewest flips there that change the rule's outcome


class MarginRecord(_Model):
    """How far a weighted rule's outcome is from changing (estimate/margin.py)."""

    rule: str
    metric: str
    bound: str
    basis: str | None
    value: float | None
    passes: bool | None
    slack: float | None  # inside (> 0) or outside (< 0) the threshold
    direction: Literal["down", "up"] | None  # the way the figure must move to change it
    closest: list[CellFlips]  # nearest first, at most CLOSEST
    open_cases: int  # untriaged regressions
    locked: bool  # whatever the open cases turn out to be, the outcome holds
    text: str


class CalibrationUsed(_Model):
    runs: list[int]
    judged: int  # agreed judged results on the verdict
    judgment_set_sha256: str
    tpr: float | None
    tnr: float | None
    refused: str | None = Field(default=None, exclude_if=lambda v: v is None)


class CorrectedRecord(_Model):
    """The estimate corrected for the grader's errors (`calibrated = true`): each figure as
    an EstimateRecord with the calibration it used ("candidate", "baseline, candidate",
    "pooled"), or `refused`; the calibrations (by role, and "pooled") and the assumption."""

    criterion: str
    assumption: str
    calibrations: dict[str, CalibrationUsed]
    candidate: dict[str, Any] | None
    baseline: dict[str, Any] | None
    fallback: dict[str, Any] | None
    delta: dict[str, Any] | None


class ProductionRecord(_Model):
    traffic: dict[str, Any]  # provenance: name, id, sha256, source, period, kind...
    note: str | None  # shares normalised, said
    method: str
    draws: int
    seed: int
    level: float
    prior: str
    min_n: int
    weights_uncertain: bool | None
    candidate: EstimateRecord | None
    baseline: EstimateRecord | None
    fallback: EstimateRecord | None
    delta: EstimateRecord | None
    margins: list[MarginRecord]
    # only when the policy asks for it (`calibrated = true`): a record without is as before
    calibrated: CorrectedRecord | None = Field(default=None, exclude_if=lambda v: v is None)


def section(production: Production | None, cmp: Comparison, loaded: LoadedPolicy) -> Any:
    """The record's `production` (None when the policy reads no weights)."""
    if production is None:
        return None
    est, s = production.estimates(cmp), production.settings
    attrs = production.attributes
    first = next((e for e in (*est.rates.values(), est.delta) if e is not None), None)
    return ProductionRecord.model_validate(
        {
            "traffic": production.provenance,
            "note": production.traffic.note,
            "method": s.method,
            "draws": s.draws,
            "seed": s.seed,
            "level": s.level,
            "prior": s.prior,
            "min_n": s.min_n,
            "weights_uncertain": None if first is None else first.weights_uncertain,
            **{role: estimate_json(est.rates[role], attrs) for role in est.rates},
            "delta": estimate_json(est.delta, attrs),
            "margins": [
                _margin(production, cmp, r)
                for r in loaded.policy.rule
                if PRODUCTION_METRICS.get(r.metric) in ("rate", "delta")
            ],
            "calibrated": None if est.corrected is None else corrected_json(est.corrected, attrs),
        }
    )


def _refused(production: Production, cmp: Comparison, rule: Rule) -> MarginRecord:
    """A rule on a corrected figure whose calibration is refused: no figure, no margin;
    open while any regression is untriaged."""
    which = PRODUCTION_METRICS[rule.metric]
    _, ev = production.measure(cmp, which, rule.params)
    n = sum(open_regressions(cmp, production.attributes).values())
    record = MarginRecord(
        rule=rule.id,
        metric=rule.metric,
        bound=str(ev.get("bound", "point")),
        basis=ev.get("basis"),
        value=None,
        passes=None,
        slack=None,
        direction=None,
        closest=[],
        open_cases=n,
        locked=n == 0,
        text="",
    )
    shown = f"{rule.metric} {record.bound} {fmt_value(record.value, rule.metric)}"
    head = f"{rule.id}: {shown} (corrected), must be {fmt_threshold(rule.threshold, rule.metric)}"
    text = f"{head}: {ev.get('refused') or 'no corrected estimate'}, no margin"
    return record.model_copy(update={"text": text})


def _search(
    production: Production, cmp: Comparison, which: str, threshold: Threshold
) -> Margin | Refusal:
    """The rule's margin on the figure it reads: the raw estimate's, or the corrected one's
    (`calibrated`: estimate/margin_corrected.py, the same calibrations the estimate used)."""
    est, s = production.estimates(cmp), production.settings
    weights, opened = production.traffic.weights(), open_regressions(cmp, production.attributes)
    if which == "rate":
        rates = est.counted.rates["candidate"]
        by = {x.key for x in rates}
        open_rate = [OpenCounts(k, 0, n) for k, n in sorted(opened.items()) if k in by]
        if est.corrected is None:
            return rate_margin(rates, weights, threshold, s, open_rate)
        cal = est.corrected.figures["candidate"].calibration
        return corrected_rate_margin(rates, weights, cal, threshold, s, open_rate)
    paired = est.counted.paired
    by = {x.key for x in paired}
    open_delta = [OpenPaired(k, baseline_only=n) for k, n in sorted(opened.items()) if k in by]
    if est.corrected is None:
        return delta_margin(paired, weights, threshold, s, open_delta)
    figs = est.corrected.figures
    base, cand = figs["baseline"].calibration, figs["candidate"].calibration
    pool = figs["pooled"].calibration if "pooled" in figs else None
    return corrected_delta_margin(paired, weights, base, cand, threshold, s, open_delta, pool)


def _margin(production: Production, cmp: Comparison, rule: Rule) -> MarginRecord:
    attrs = production.attributes
    which = PRODUCTION_METRICS[rule.metric]
    bound = cast(Bound, rule.params.get("bound", "point"))  # checked: gate/checks.py
    basis = cast(Basis, rule.params.get("basis", "covered"))
    ((side, value),) = rule.threshold.items()
    threshold = Threshold(value, cast(Literal["min", "max"], side), bound, basis)
    if production.calibrated and lacking(production, cmp, rule) is not None:
        return _refused(production, cmp, rule)
    m = _search(production, cmp, which, threshold)
    if isinstance(m, Refusal):  # as the estimate's (`lacking`): not reached
        return _refused(production, cmp, rule)
    reachable = sorted((f for f in m.flips if f.cases is not None), key=lambda f: (f.cases, f.key))
    closest = [
        CellFlips(cell=dict(zip(attrs, f.key, strict=True)), available=f.available, cases=f.cases)
        for f in reachable[:CLOSEST]
    ]
    record = MarginRecord(
        rule=rule.id,
        metric=rule.metric,
        bound=bound,
        basis=basis,
        value=None if m.value is None else round(m.value, 6),
        passes=m.passes,
        slack=None if m.slack is None else round(m.slack, 6),
        direction=m.direction,
        closest=closest,
        open_cases=m.open_cases,
        locked=m.locked,
        text="",
    )
    text = margin_text(record, rule.threshold, which, production.calibrated)
    return record.model_copy(update={"text": text})


def _cell(cell: dict[str, str]) -> str:
    return ", ".join(f"{a}={v}" for a, v in cell.items())


def margin_text(
    m: MarginRecord, threshold: dict[str, float], which: str, corrected: bool = False
) -> str:
    """One line: "hold on X: 3 more passing cases in risk=high would clear it". On a
    corrected figure, the cases are the grader's outcomes (the figure corrected again)."""
    shown = f"{m.metric} {m.bound} {fmt_value(m.value, m.metric)}"
    shown += " (corrected)" if corrected else ""
    head = f"{m.rule}: {shown}, must be {fmt_threshold(threshold, m.metric)}"
    if m.value is None:
        return f"{head}: no covered traffic, no margin"
    verdict = "passes" if m.passes else "fails"
    flips = {
        ("rate", "down"): "more failing cases",
        ("rate", "up"): "more passing cases",
        ("delta", "down"): "more regressions",
        ("delta", "up"): "fewer regressions (or more improvements)",
    }
    what = flips[(which, m.direction or "down")]
    if m.closest:
        c = m.closest[0]
        one = what.replace("cases", "case").replace("regressions", "regression")
        moved = f"{c.cases} {one if c.cases == 1 else what}"
        change = f"{moved} in {_cell(c.cell)} would {'make it fail' if m.passes else 'clear it'}"
    else:
        change = f"no one segment's cases can {'make it fail' if m.passes else 'clear it'}"
    lock = ""
    if m.open_cases:
        n = m.open_cases
        lock = (
            f"; locked: holds whatever the {n} untriaged regression{'s' * (n != 1)} turn out to be"
            if m.locked
            else f"; open: the {n} untriaged regression{'s' * (n != 1)} could change it"
        )
    return f"{head}: {verdict}; {change}{lock}"


def lines(section: ProductionRecord | None) -> list[str]:
    """The section in words (the CLI, the Markdown record): the estimate under the weights
    it read, then one line per weighted rule's margin."""
    if section is None:
        return []
    t = section.traffic
    out = headline(section.model_dump(mode="json"))
    out.insert(
        1,
        f"weights sha256 {t.get('sha256')}; {section.method}, {section.draws} draws, "
        f"seed {section.seed}, min_n {section.min_n}",
    )
    return out + [f"margin: {m.text}" for m in section.margins]


# -- verify ---------------------------------------------------------------------------------


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What `verify` says when the production section a decision kept differs now."""
    a, b = old.get("production"), new.get("production")
    if a is None and b is None:
        return []
    if a is None or b is None:
        return ["the production estimate " + ("is new" if a is None else "is gone")]
    out = []
    ta, tb = a["traffic"], b["traffic"]
    if ta.get("sha256") != tb.get("sha256"):
        out.append(
            f"the traffic weights changed: {_label(ta)} sha256 {str(ta.get('sha256'))[:12]} -> "
            f"{_label(tb)} sha256 {str(tb.get('sha256'))[:12]}"
        )
    for role in ("candidate", "baseline", "fallback", "delta"):
        ea, eb = a.get(role), b.get(role)
        if ea != eb:
            pa = (ea or {}).get("covered") or {}
            pb = (eb or {}).get("covered") or {}
            out.append(
                f"the production estimate of the {role} changed: "
                f"{pa.get('point')} -> {pb.get('point')}"
            )
    settings = ("method", "draws", "seed", "level", "prior", "min_n")
    if any(a.get(k) != b.get(k) for k in settings):
        out.append(
            "the estimator's settings changed: "
            + ", ".join(f"{k} {a.get(k)} -> {b.get(k)}" for k in settings if a.get(k) != b.get(k))
        )
    out += _corrected_changes(a.get("calibrated"), b.get("calibrated"))
    for ma, mb in zip(a.get("margins", []), b.get("margins", []), strict=False):
        if ma != mb:
            out.append(f"the margin of rule {ma['rule']} changed: now {mb['text']}")
    return out


def _label(t: dict[str, Any]) -> str:
    return f"{t['name']} #{t['id']}" if "id" in t else str(t.get("source_path", "file"))


def _corrected_changes(a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[str]:
    if a == b:
        return []
    if a is None or b is None:
        return ["the corrected production estimate " + ("is new" if a is None else "is gone")]
    out = []
    for role, now in b["calibrations"].items():
        was = a["calibrations"].get(role)
        if was is None or was["judgment_set_sha256"] != now["judgment_set_sha256"]:
            out.append(
                f"the judgments calibrating the {role} estimate changed: "
                f"{None if was is None else was['judged']} -> {now['judged']} judged results"
            )
    return out or ["the corrected production estimate changed"]
