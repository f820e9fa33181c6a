"""The calibration a decision rests on: the record's Calibration section, the policy's
`[calibration]` standard, and what `verify` says when the judgment set changed.

A decision records the calibration used whenever its policy has a `[calibration]` table or
a rule on a calibration metric: per criterion, the judgments (count, who, the SHA-256 of
the set), the samples they were drawn in (seed, frame), the grader's TPR and TNR with their
exact lower bounds, and whether it meets the policy's standard. A rule whose metric rests on
the grader's verdicts on a criterion the policy requires, and that is not calibrated to
standard, lacks evidence (docs/gate.md, docs/calibration.md).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from evaltui.compare.measures import CALIBRATION_METRICS, METRICS, READS_GRADER
from evaltui.errors import InputError
from evaltui.gate.policy import LoadedPolicy, Rule
from evaltui.review.calibration.judgments import criterion_name, criterion_word
from evaltui.store.runs.grader import run_identity
from evaltui.store.store import Store

if TYPE_CHECKING:  # a type only: the samples module loads with the section
    from evaltui.review.calibration.samples import SampleRecord


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class SampleUsed(_Model):
    id: int
    uid: str
    run_sha256: str
    seed: int
    drawn: int
    allocation: str
    dimension: str | None
    frame_sha256: str
    frame_size: int


class CriterionCalibration(_Model):
    """One criterion's grader, as measured on the compared runs' judgments."""

    criterion: str
    grader: str  # the criterion and who scored it, as far as the candidate's log says
    judged: int  # agreed judged results (both runs)
    judged_baseline: int
    judged_candidate: int
    human_passes: int
    human_fails: int
    disputed: int
    unsure: int
    reviewers: list[str]
    tpr: float | None
    tpr_lower: float | None  # Clopper-Pearson
    tnr: float | None
    tnr_lower: float | None
    youden: float | None
    informative: bool
    kappa: float | None
    ac1: float | None
    judgment_set_sha256: str
    samples: list[SampleUsed]
    required: bool  # named by the policy's [calibration]
    calibrated: bool  # meets the policy's standard (or, with none, is informative)
    why_not: str | None


class CalibrationRecord(_Model):
    """The record's Calibration section."""

    min_judgments: int | None
    min_tpr: float | None
    min_tnr: float | None
    judgments: int  # judgments in force that the figures use, every criterion
    judgment_set_sha256: str  # over every criterion's set
    criteria: list[CriterionCalibration]

    def lacking(self, rule: Rule) -> str | None:
        """Why a rule lacks evidence for want of calibration, or None."""
        if rule.metric not in READS_GRADER:
            return None
        word = criterion_word(criterion_name(rule.params.get("criterion")))
        found = next((c for c in self.criteria if c.criterion == word), None)
        if found is None or not found.required or found.calibrated:
            return None
        return f"the grader of {word} is not calibrated: {found.why_not}"


def _r6(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def _criteria(loaded: LoadedPolicy) -> tuple[list[str], set[str]]:
    """Every criterion the record covers, in order, and those the policy requires."""
    pol = loaded.policy
    required = [criterion_name(c) for c in (pol.calibration.criteria if pol.calibration else [])]
    used = [
        criterion_name(r.params.get("criterion"))
        for r in pol.rule
        if r.metric in CALIBRATION_METRICS
        and "criterion" in {p.key for p in METRICS[r.metric].params}
    ]
    return list(dict.fromkeys([*required, *used])), set(required)


def section(
    store: Store, loaded: LoadedPolicy, baseline: int, candidate: int, alpha: float
) -> CalibrationRecord | None:
    """The Calibration section of a decision (None when its policy asks nothing of it)."""
    crits, required = _criteria(loaded)
    if not crits:
        return None
    # load time: the judgments and the estimators only for a policy that uses them
    from evaltui.review.calibration.report import check_criterion, figures, grader_identity
    from evaltui.review.calibration.samples import samples_for  # load time: as above

    std = loaded.policy.calibration
    conn = store.conn
    for i, crit in enumerate(c for c in crits if c in required):
        try:
            check_criterion(conn, [baseline, candidate], crit)
        except InputError as exc:
            raise InputError(
                str(loaded.path),
                exc.detail,
                location="[calibration]",
                field=f"calibration.criteria[{i}]",
            ) from None
    out, judgments = [], 0
    for crit in crits:
        fig = figures(conn, [baseline, candidate], crit, alpha)
        cal, c = fig.calibration, fig.confusion
        tpr_lo = None if cal.tpr.exact is None else cal.tpr.exact.low
        tnr_lo = None if cal.tnr.exact is None else cal.tnr.exact.low
        why = _why_not(fig.judged, cal.refusal(), tpr_lo, tnr_lo, std)
        used = samples_for(conn, [baseline, candidate], crit)
        agreed = fig.labels.agreed
        judgments += sum(len(x.said) for x in fig.labels.labels)
        out.append(
            CriterionCalibration(
                criterion=criterion_word(crit),
                grader=grader_identity(conn, candidate, crit),
                judged=fig.judged,
                judged_baseline=sum(1 for x in agreed if x.ref.run_id == baseline),
                judged_candidate=sum(1 for x in agreed if x.ref.run_id == candidate),
                human_passes=c.human_passes,
                human_fails=c.human_fails,
                disputed=fig.labels.disputed,
                unsure=fig.labels.unsure,
                reviewers=fig.labels.reviewers,
                tpr=_r6(cal.tpr.value),
                tpr_lower=_r6(tpr_lo),
                tnr=_r6(cal.tnr.value),
                tnr_lower=_r6(tnr_lo),
                youden=_r6(cal.youden),
                informative=cal.informative,
                kappa=_r6(cal.agreement.kappa),
                ac1=_r6(cal.agreement.ac1),
                judgment_set_sha256=fig.judgment_set_sha256,
                samples=[_sample(store, s) for s in used],
                required=crit in required,
                calibrated=why is None,
                why_not=why,
            )
        )
    joined = "\n".join(f"{c.criterion}\t{c.judgment_set_sha256}" for c in out)
    return CalibrationRecord(
        min_judgments=std.min_judgments if std else None,
        min_tpr=std.min_tpr if std else None,
        min_tnr=std.min_tnr if std else None,
        judgments=judgments,
        judgment_set_sha256=hashlib.sha256(joined.encode("utf-8")).hexdigest(),
        criteria=out,
    )


def _sample(store: Store, s: SampleRecord) -> SampleUsed:
    return SampleUsed(
        id=s.id,
        uid=s.uid,
        run_sha256=run_identity(store.conn, s.run_id)[1],
        seed=s.seed,
        drawn=len(s.items),
        allocation=s.allocation,
        dimension=s.dimension,
        frame_sha256=str(s.frame.get("hash", "")),
        frame_size=int(s.frame.get("size", 0)),
    )


def _why_not(
    judged: int, refused: Any, tpr_lo: float | None, tnr_lo: float | None, std: Any
) -> str | None:
    """Why a criterion's grader falls short of the standard (None: it meets it)."""
    if std is not None and judged < std.min_judgments:
        return f"{judged} agreed judgments, the policy needs {std.min_judgments}"
    if refused is not None:
        return refused.reason
    if std is not None and std.min_tpr is not None and (tpr_lo or 0.0) < std.min_tpr:
        return f"TPR's lower bound {tpr_lo or 0.0:.3f} is below the policy's {std.min_tpr}"
    if std is not None and std.min_tnr is not None and (tnr_lo or 0.0) < std.min_tnr:
        return f"TNR's lower bound {tnr_lo or 0.0:.3f} is below the policy's {std.min_tnr}"
    return None


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What `verify` says when the judgments a decision used are not what they were."""
    a, b = old.get("calibration"), new.get("calibration")
    if a == b:
        return []
    if a is None or b is None:
        return ["the calibration section " + ("appeared" if a is None else "is gone")]
    out = []
    old_by = {c["criterion"]: c for c in a["criteria"]}
    for c in b["criteria"]:
        o = old_by.get(c["criterion"])
        if o is None:
            out.append(f"calibration of {c['criterion']} is new")
        elif o["judgment_set_sha256"] != c["judgment_set_sha256"]:
            out.append(
                f"the judgment set of {c['criterion']} changed: {o['judged']} -> {c['judged']} "
                f"judged results (sha256 {o['judgment_set_sha256'][:12]} -> "
                f"{c['judgment_set_sha256'][:12]})"
            )
        elif o != c:
            out.append(f"the calibration of {c['criterion']} changed")
    return out or ["the calibration section changed"]
