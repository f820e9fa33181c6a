"""Two families of gate metrics measured by modules of their own: figures corrected for the
grader's errors (compare/calibrated.py, docs/calibration.md) and figures weighted by
production traffic (compare/production.py, docs/production.md). Their registry entries;
compare/measures.py takes them into `METRICS`."""

from __future__ import annotations

from collections.abc import Callable

from evaltui.compare.metric import Measured, Metric, Param, Scoped, labelled_audit
from evaltui.compare.production import Which
from evaltui.errors import InputError

# -- calibration ---------------------------------------------------------------------------------

_CRITERION = Param(
    "criterion",
    "criterion",
    "the criterion people judged; `verdict` (the default) is the result's own verdict",
)


def _calibration(name: str) -> Callable[[Scoped], Measured]:
    """The measure `name` of compare/calibrated.py, loaded when a rule first measures one."""

    def measure(q: Scoped) -> Measured:
        from evaltui.compare import calibrated  # load time: judgments and estimators when used

        fn: Callable[..., Measured] = getattr(calibrated, name)
        return fn(q.cmp, q.where, q.sql_params, q.args, q.alpha)

    return measure


CALIBRATION = (
    Metric("calibrated_pass_rate", "candidate pass rate on `criterion` corrected for the grader's errors (Rogan-Gladen, from the candidate's judged results); no data when refused",
           "rate", _calibration("calibrated_pass_rate"), (_CRITERION,)),
    Metric("calibrated_pass_rate_delta", "candidate minus baseline pass rate on `criterion` over paired results, each corrected for the grader's errors; no data when refused",
           "points", _calibration("calibrated_pass_rate_delta"), (_CRITERION,)),
    Metric("grader_pass_rate_delta", "candidate minus baseline pass rate on `criterion` over paired results, as the grader scored it (the raw twin of calibrated_pass_rate_delta)",
           "points", _calibration("grader_pass_rate_delta"), (_CRITERION,)),
    Metric("verified_pass_rate_delta", "net change the triage audits support: confirmed regressions and improvements, the unaudited ones estimated from the audited share",
           "points", _calibration("verified_pass_rate_delta"), labelled=labelled_audit),
    Metric("grader_tpr_lower", "Clopper-Pearson lower bound of the grader's TPR on `criterion`, from the judgments of both runs",
           "rate", _calibration("grader_tpr_lower"), (_CRITERION,)),
    Metric("grader_tnr_lower", "Clopper-Pearson lower bound of the grader's TNR on `criterion`, from the judgments of both runs",
           "rate", _calibration("grader_tnr_lower"), (_CRITERION,)),
    Metric("judged_results", "results in scope with an agreed blind judgment on `criterion` (both runs)",
           "count", _calibration("judged_results"), (_CRITERION,)),
    Metric("reviewer_accuracy_lower", "lowest Wilson lower bound of accuracy on hidden gold among the reviewers whose judgments calibrate `criterion` (0 for one who answered no gold)",
           "rate", _calibration("reviewer_accuracy_lower"), (_CRITERION,)),
)  # fmt: skip

# -- production (#28) ---------------------------------------------------------------------------

_BOUND = Param("bound", "bound", "which end of the estimate's 95% interval the rule reads")
_BASIS = Param(
    "basis",
    "basis",
    "`covered`: traffic the eval cases cover, renormalised; "
    "`worst` / `best`: all traffic, the uncovered share counted at its worst / best",
)


def _production(which: Which) -> Callable[[Scoped], Measured]:
    def measure(q: Scoped) -> Measured:
        if q.production is None:  # gate/production.py refuses such a rule first
            raise InputError("policy", "a weighted metric needs traffic weights")
        return q.production.measure(q.cmp, which, q.args)

    return measure


PRODUCTION = (
    Metric("weighted_pass_rate", "candidate pass rate weighted by production traffic: each segment's rate times its share of the traffic weights (Monte Carlo 95% interval)",
           "rate", _production("rate"), (_BOUND, _BASIS)),
    Metric("weighted_pass_rate_delta", "paired candidate minus baseline pass rate weighted by production traffic",
           "points", _production("delta"), (_BOUND, _BASIS)),
    Metric("uncovered_traffic", "share of production traffic in segments with no eval case (or fewer than [production] min_n)",
           "rate", _production("uncovered"), (_BOUND,)),
)  # fmt: skip

WHICH: tuple[Which, ...] = ("rate", "delta", "uncovered")
