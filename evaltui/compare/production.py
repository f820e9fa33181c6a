"""A comparison's production estimate (#28): its cases counted per traffic cell and weighted
by how often real users land there (estimate/weighted.py), for the candidate, the baseline,
the fallback and the paired delta, with the traffic no eval case covers said apart.

`compare --json`'s `production_estimate`, the scoreboard's production line and the gate's
weighted metrics (compare/measures.py) all read one `Production`, which holds the weights,
their provenance and the estimator's settings, and estimates a comparison once. The
weights' attributes must be segment dimensions of the comparison (`dimensions_with`).
docs/production.md has the method.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, cast

from evaltui.compare.engine import Comparison
from evaltui.compare.kinds import RANK
from evaltui.compare.production_corrected import (
    ASSUMPTION,
    Corrected,
    calibration_json,
    correct,
    refusal,
    used,
)
from evaltui.errors import InputError
from evaltui.estimate.traffic import KnownValues, NameCheck, TrafficWeights
from evaltui.estimate.weighted import (
    Basis,
    Bound,
    Estimate,
    Figure,
    Key,
    PairedCounts,
    SegmentCounts,
    Settings,
    estimate_delta,
    estimate_rate,
)
from evaltui.review.triage_state import TRIAGED
from evaltui.stats import ALPHA
from evaltui.store import traffic
from evaltui.store.store import Store

ROLES = ("candidate", "baseline", "fallback")
Which = Literal["rate", "delta", "uncovered"]


@dataclass(frozen=True)
class Counted:
    """One comparison's cases per traffic cell: each run's rate counts and the paired
    tables (cases both runs scored), keyed by the cell's values in the weights' order."""

    rates: dict[str, list[SegmentCounts]]  # by role (no fallback: empty)
    paired: list[PairedCounts]
    without: int  # included cases lacking one of the weights' attributes (in no cell)
    names: NameCheck


def dimensions_with(dimensions: Sequence[str], traffic: TrafficWeights) -> list[str]:
    """The comparison's segment dimensions with the weights' attributes added (after)."""
    return list(dict.fromkeys([*dimensions, *traffic.attributes]))


def count(cmp: Comparison, traffic: TrafficWeights) -> Counted:
    attrs = traffic.attributes
    rate: dict[str, dict[Key, list[int]]] = {r: {} for r in ROLES}
    paired: dict[Key, list[int]] = {}
    without = 0
    seen: list[set[str]] = [set() for _ in attrs]
    for (values, b, c, f), n in cmp.cells(attrs).items():
        if any(v is None for v in values):
            without += n
            continue
        for i, v in enumerate(values):
            seen[i].add(v)
        for role, passed in zip(ROLES, (c, b, f), strict=True):
            if passed is not None:
                tally = rate[role].setdefault(values, [0, 0])
                tally[0] += n
                tally[1] += n * passed
        if b is not None and c is not None:
            # both, candidate only (improved), baseline only (regressed), neither
            cells = paired.setdefault(values, [0, 0, 0, 0])
            cells[(0 if b and c else 1 if c else 2 if b else 3)] += n
    # an attribute no included case has is unknown; the runs' other attributes are what
    # a did-you-mean offers
    others = {
        a for r in (cmp.baseline, cmp.candidate, cmp.fallback) if r for a in r.attribute_values
    }
    known = [KnownValues(a, tuple(sorted(s))) for a, s in zip(attrs, seen, strict=True) if s]
    known += [KnownValues(a, ()) for a in sorted(others - set(attrs))]
    return Counted(
        rates={
            role: [SegmentCounts(k, n, p) for k, (n, p) in sorted(by.items())]
            for role, by in rate.items()
        },
        paired=[PairedCounts(k, *cells) for k, cells in sorted(paired.items())],
        without=without,
        names=traffic.check_names(known),
    )


def open_regressions(cmp: Comparison, attributes: Sequence[str]) -> dict[Key, int]:
    """Untriaged regressions per traffic cell: the cases whose outcome triage may still
    change (a regression found a grader error is no longer one), for the margin's lock."""
    cols = ", ".join(f"g.s{cmp.dimensions.index(a)}" for a in attributes)
    out: dict[Key, int] = {}
    for row in cmp.rows_where(cols, f"t.change = {RANK['regressed']} AND NOT {TRIAGED}"):
        if all(v is not None for v in row):
            key = tuple(str(v) for v in row)
            out[key] = out.get(key, 0) + 1
    return out


@dataclass
class Estimates:
    counted: Counted
    rates: dict[str, Estimate | None]  # None: the run is absent (no fallback) or has no case
    delta: Estimate | None
    corrected: Corrected | None = None  # only when asked (`calibrated`)


@dataclass
class Production:
    """The weights a comparison is estimated with, where they came from, and how."""

    traffic: TrafficWeights
    provenance: dict[str, Any]  # store.traffic.KeptTraffic.provenance(), or the file's
    settings: Settings = field(default_factory=Settings)
    # correct each cell for the grader's errors (compare/production_corrected.py); opt-in
    calibrated: bool = False
    alpha: float = ALPHA  # of the calibration's refusal (the policy's alpha in a decision)
    _done: dict[int, Estimates] = field(default_factory=dict, repr=False)

    @property
    def attributes(self) -> tuple[str, ...]:
        return self.traffic.attributes

    def estimates(self, cmp: Comparison) -> Estimates:
        """Every figure of this comparison, estimated once (the gate's rules share them)."""
        if id(cmp) not in self._done:
            counted = count(cmp, self.traffic)
            weights = self.traffic.weights()
            has = {"candidate": True, "baseline": True, "fallback": cmp.fallback is not None}
            rates = {
                role: estimate_rate(counted.rates[role], weights, self.settings)
                if has[role] and counted.rates[role]
                else None
                for role in ROLES
            }
            delta = (
                estimate_delta(counted.paired, weights, self.settings) if counted.paired else None
            )
            corrected = None
            if self.calibrated:
                roles = {role: rates[role] is not None for role in ROLES}
                corrected = correct(
                    cmp, counted.rates, counted.paired, weights, self.settings, self.alpha, roles
                )
            self._done[id(cmp)] = Estimates(counted, rates, delta, corrected)
        return self._done[id(cmp)]

    def refusal(self, cmp: Comparison) -> InputError | None:
        """Why no estimate can be made (the weights name an attribute no compared case
        has: a did-you-mean among theirs), naming the file, its header line and field."""
        for u in self.estimates(cmp).counted.names.unknown:
            if u.value is None:
                return InputError(
                    self.traffic.path, u.message(), location=f"line {u.line}", field=u.attribute
                )
        return None

    def measure(self, cmp: Comparison, which: Which, args: Mapping[str, str]) -> Any:
        """A gate metric's value and evidence: the candidate's weighted rate, the paired
        delta, or the candidate's uncovered traffic share, at the rule's bound and basis."""
        refused = self.refusal(cmp)
        if refused is not None:
            raise refused
        est = self.estimates(cmp)
        source = est.delta if which == "delta" else est.rates["candidate"]
        bound = cast(Bound, args.get("bound", "point"))
        evidence: dict[str, Any] = {"traffic_sha256": self.provenance.get("sha256"), "bound": bound}
        if est.corrected is not None and which != "uncovered":
            fixed = est.corrected.delta if which == "delta" else est.corrected.rates["candidate"]
            evidence["calibrated"] = True
            if fixed is not None:
                evidence["calibration"] = used(fixed, "candidate")
            if (why := refusal(fixed)) is not None:
                return None, {**evidence, "refused": why}
            source = None if fixed is None else fixed.estimate
        if source is None:
            return None, {**evidence, "cases": 0}
        fig: Figure | None
        if which == "uncovered":
            fig = source.uncovered_share
        else:
            basis = cast(Basis, args.get("basis", "covered"))
            fig, evidence["basis"] = source.figure(basis), basis
        evidence |= {
            "estimate": None if fig is None else _figure(fig),
            "uncovered_share": round(source.uncovered_share.point, 6),
            "uncovered": [_cell(self.attributes, s.key) for s in source.uncovered][:25],
        }
        return (None if fig is None else fig.at(bound)), evidence

    # -- compare --json --------------------------------------------------------------------

    def as_json(self, cmp: Comparison) -> dict[str, Any]:
        """`production_estimate` of `compare --json` (docs/compare.md)."""
        out: dict[str, Any] = {
            "traffic": self.provenance,
            "note": self.traffic.note,
            "settings": {k: v for k, v in asdict(self.settings).items()},
        }
        refused = self.refusal(cmp)
        if refused is not None:
            return {**out, "refused": refused.message}
        est = self.estimates(cmp)
        first = next((e for e in (*est.rates.values(), est.delta) if e is not None), None)
        out["weights_uncertain"] = first.weights_uncertain if first else None
        for role in ROLES:
            out[role] = estimate_json(est.rates[role], self.attributes)
        out["delta"] = estimate_json(est.delta, self.attributes)
        out["segments"] = self._segments_json(est)
        out["cases_without_attributes"] = est.counted.without
        out["unknown_names"] = [u.message() for u in est.counted.names.unknown]
        if est.corrected is not None:  # only when asked: a key of its own
            out["calibrated"] = corrected_json(est.corrected, self.attributes)
        return out

    def _segments_json(self, est: Estimates) -> list[dict[str, Any]]:
        rows: dict[Key, dict[str, Any]] = {}
        for role in ("candidate", "baseline"):
            e = est.rates[role]
            for s in e.segments if e else ():
                row = rows.setdefault(
                    s.key, {"values": _cell(self.attributes, s.key), "share": round(s.share, 6)}
                )
                row[f"{role}_n"] = s.n
                row[role] = None if s.point is None else round(s.point, 6)
                if role == "candidate":
                    row["status"] = s.status
        if est.delta:
            for s in est.delta.segments:
                if s.key in rows:
                    rows[s.key]["delta"] = None if s.point is None else round(s.point, 6)
        return [rows[k] for k in sorted(rows)]


def from_store(
    store: Store, ref: str | None = None, settings: Settings | None = None
) -> Production | None:
    """The weights `ref` names in the store (default: those in force; `none`: none), ready
    to estimate a comparison with; None when there are none (store/traffic.py keeps them)."""
    if ref is not None and ref.strip().lower() == "none":
        return None
    kept = traffic.resolve(store, ref) if ref is not None else traffic.in_force(store)
    if kept is None:
        return None
    return Production(traffic.weights(store, kept), kept.provenance(), settings or Settings())


def _cell(attributes: Sequence[str], key: Key) -> dict[str, str]:
    return dict(zip(attributes, key, strict=True))


def _figure(f: Figure) -> dict[str, float]:
    return {"point": round(f.point, 6), "lower": round(f.lower, 6), "upper": round(f.upper, 6)}


def estimate_json(e: Estimate | None, attributes: Sequence[str]) -> dict[str, Any] | None:
    """One figure's estimate as JSON (`compare --json`, the decision record)."""
    if e is None:
        return None
    return {
        "covered": None if e.covered is None else _figure(e.covered),
        "worst": _figure(e.worst),
        "best": _figure(e.best),
        "uncovered_share": _figure(e.uncovered_share),
        "uncovered": [_cell(attributes, s.key) for s in e.uncovered],
    }


def corrected_json(c: Corrected, attributes: Sequence[str]) -> dict[str, Any]:
    """`production_estimate.calibrated`: each figure corrected for the grader's errors (or
    why not), the calibrations used and the assumption (docs/production.md)."""
    out: dict[str, Any] = {
        "criterion": "verdict",
        "assumption": ASSUMPTION,
        "calibrations": {role: calibration_json(f) for role, f in c.figures.items()},
    }
    for role, e in (*c.rates.items(), ("delta", c.delta)):
        if e is None:
            out[role] = None
            continue
        entry: dict[str, Any] = {"calibration": used(e, role)}
        why = refusal(e)
        out[role] = (
            {**entry, "refused": why}
            if why
            else {
                **entry,
                **(estimate_json(e.estimate, attributes) or {}),
            }
        )
    return out


# -- for people: one line under "all" (the CLI, the app's scoreboard) ----------------------


def _range(f: dict[str, float], points: bool = False) -> str:
    if points:
        return f"{f['point'] * 100:+.1f} pts ({f['lower'] * 100:+.1f} to {f['upper'] * 100:+.1f})"
    return f"{f['point']:.1%} ({f['lower']:.1%}-{f['upper']:.1%})"


def weights_name(t: Mapping[str, Any]) -> str:
    """The weights by their provenance: kept ones by name and id, a policy's by its file."""
    return f"{t['name']} #{t['id']}" if "id" in t else str(t.get("source_path", ""))


def headline(pe: Mapping[str, Any]) -> list[str]:
    """`production_estimate` (as_json) in words: the figures over covered traffic with
    their 95% intervals, then the uncovered share and which cells it is."""
    t = pe["traffic"]
    head = f"production estimate (traffic {weights_name(t)}, {t.get('period', '')})"
    if pe.get("refused"):
        return [f"{head}: none: {pe['refused']}"]
    figures = []
    for role in ("candidate", "baseline", "fallback"):
        e = pe.get(role)
        if e and e["covered"]:
            figures.append(f"{role} {_range(e['covered'])}")
    d = pe.get("delta")
    if d and d["covered"]:
        figures.append(f"delta {_range(d['covered'], points=True)}")
    lines = [f"{head}: " + ("; ".join(figures) if figures else "no covered traffic")]
    if pe.get("calibrated") is not None:
        lines.append(corrected_line(pe["calibrated"]))
    cand = pe.get("candidate") or pe.get("baseline")
    if cand:
        u = cand["uncovered_share"]["point"]
        cells = [", ".join(f"{a}={v}" for a, v in cell.items()) for cell in cand["uncovered"]]
        shown = "; ".join(cells[:4]) + (f"; {len(cells) - 4} more" if len(cells) > 4 else "")
        lines.append(
            f"uncovered traffic {u:.1%}"
            + (f" ({shown})" if shown else "")
            + f"; all traffic, uncovered at worst-best: {cand['worst']['point']:.1%}-"
            f"{cand['best']['point']:.1%}"
        )
    if pe.get("note"):
        lines.append(f"note: {pe['note']}")
    if pe.get("calibrated") is not None:
        lines.append(f"assumption: {pe['calibrated']['assumption']}")
    lines += [f"note: {m}" for m in pe.get("unknown_names", [])[:5]]
    return lines


def corrected_line(c: Mapping[str, Any]) -> str:
    """The corrected figures in words, or why there are none."""
    figures = []
    for role in ("candidate", "baseline", "fallback", "delta"):
        e = c.get(role)
        if not e:
            continue
        if e.get("refused"):
            figures.append(f"{role} none ({e['refused']})")
        elif e.get("covered"):
            figures.append(f"{role} {_range(e['covered'], points=role == 'delta')}")
    shown = "; ".join(figures) if figures else "none"
    return f"corrected for the grader's errors (verdict calibration): {shown}"


# the assumption in short, for a line that has no room for ASSUMPTION (the app's header)
SHORT = "corrected for grader errors (assumes errors alike in every cell)"
SHORTEST = "corrected (grader errs alike in every cell)"
NONE = "corrected for grader errors: none"


def corrected_short(c: Mapping[str, Any]) -> list[str]:
    """`corrected_line` for a narrow place, longest wording first: every figure, then the
    candidate's and the delta's, then the candidate's alone. Without a corrected figure
    for the candidate: none, and why (the assumption is then beside the point)."""

    def why(role: str) -> str | None:
        e = c.get(role)
        found = e.get("refused") if e else None
        return None if found is None else str(found).removeprefix("no corrected estimate: ")

    def said(role: str) -> str | None:
        e = c.get(role)
        if not e:
            return None
        if (reason := why(role)) is not None:
            return f"{role} none ({reason})"
        return f"{role} {_range(e['covered'], points=role == 'delta')}" if e["covered"] else None

    first = said("candidate")
    if first is None or why("candidate") is not None:
        reason = why("candidate") or "no case of the candidate in a covered cell"
        return [f"{NONE}: {reason}"]
    every = [x for r in ("candidate", "baseline", "fallback", "delta") if (x := said(r))]
    main = [x for r in ("candidate", "delta") if (x := said(r))]
    out = [f"{SHORT}: " + "; ".join(every), f"{SHORT}: " + "; ".join(main)]
    return list(dict.fromkeys([*out, f"{SHORTEST}: {first}"]))
