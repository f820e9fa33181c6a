"""Gate policies: the TOML file people write (docs/gate.md), parsed and checked."""

from __future__ import annotations

import difflib
import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evaltui.compare.kinds import Reducer
from evaltui.compare.measures import METRICS, PARAMS
from evaltui.errors import InputError
from evaltui.files import read_toml, table_lines
from evaltui.gate.production import ProductionPolicy
from evaltui.stats import ALPHA

Action = Literal["ship", "narrow_rollout", "repair", "hold", "rollback"]
ACTIONS: tuple[Action, ...] = get_args(Action)  # least severe first (a policy may reorder)
EXIT_CODES = {"ship": 0, "narrow_rollout": 10, "repair": 11, "hold": 12, "rollback": 13}
METRIC_NAMES: tuple[str, ...] = tuple(METRICS)  # the registry's (compare/measures.py)


class _KeyedError(ValueError):
    """A rule error that names its key (load_policy then gives the key's line)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


def suggest(wanted: str, known: Sequence[str], what: str = "", shown: int = 12) -> str:
    """ "; did you mean 'x'?" for a near miss, else the known names (the first `shown`), else ""."""
    folded = [k for k in known if k.casefold() == wanted.casefold()]
    close = folded or difflib.get_close_matches(wanted, list(known), n=3, cutoff=0.6)
    if close:
        return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
    if known:
        listed = ", ".join(repr(k) for k in known[:shown]) + (" …" if len(known) > shown else "")
        return f"; {what or 'known:'} {listed}"
    return ""


# -- the policy ------------------------------------------------------------------------------


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=80)
    metric: str
    scope: dict[str, str | int | float | bool | list[str | int | float | bool]] | Literal["all"] = (
        "all"
    )
    min: float | None = Field(default=None, allow_inf_nan=False)
    max: float | None = Field(default=None, allow_inf_nan=False)
    action: str
    owner: str = Field(min_length=1)
    why: str = Field(min_length=1)
    # the metric's parameters by TOML key (`class`, `for_owner`, `tool`...: the registry's
    # PARAMS), gathered from the rule's own keys; each names something checks.py looks up
    params: dict[str, Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=dict
    )
    missing: Literal["fail", "pass"] = "fail"
    # evidence: fewer cases in scope than min_n (the policy's when not given) is
    # "insufficient evidence", never a pass; an empty scope is an error unless allowed
    min_n: int | None = Field(default=None, ge=0)
    allow_empty: bool = False

    @model_validator(mode="before")
    @classmethod
    def _gather_params(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if "params" in data:
                raise _KeyedError(
                    "params", "params is not a rule key; write each parameter as a key"
                )
            found = {k: v for k, v in data.items() if k in PARAMS}
            if found:
                data = {k: v for k, v in data.items() if k not in PARAMS} | {"params": found}
        return data

    @field_validator("metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        if v not in METRICS:
            raise ValueError(
                f"unknown metric {v!r}"
                + suggest(v, METRIC_NAMES, "the metrics are", shown=len(METRIC_NAMES))
            )
        return v

    @model_validator(mode="after")
    def _threshold(self) -> Rule:
        if (self.min is None) == (self.max is None):
            raise ValueError("give exactly one of min or max")
        takes = METRICS[self.metric].params
        for p in takes:
            if p.required and p.key not in self.params:
                raise ValueError(f'{self.metric} needs {p.key} = "<{p.doc}>"')
        for key in self.params:
            if key not in {p.key for p in takes}:
                users = [m.name for m in METRICS.values() if PARAMS[key] in m.params]
                raise _KeyedError(key, f"{key} applies to {', '.join(users)} only")
        return self

    @property
    def threshold(self) -> dict[str, float]:
        return {"min": self.min} if self.min is not None else {"max": self.max}  # type: ignore[dict-item]


class CalibrationPolicy(BaseModel):
    """The policy's `[calibration]` (docs/gate.md, docs/calibration.md): the criteria whose
    grader must be calibrated to this standard, on the judgments of the compared runs; a
    rule resting on one that is not lacks evidence (`insufficient_evidence`)."""

    model_config = ConfigDict(extra="forbid")

    criteria: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1)
    min_judgments: int = Field(default=30, ge=0)  # agreed judged results, both runs
    min_tpr: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)  # exact lower
    min_tnr: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)  # bounds


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    promise: str = Field(min_length=1)
    dimensions: list[str] = Field(default_factory=list)
    reducer: str = "worst"
    alpha: float = Field(default=ALPHA, gt=0, lt=1, allow_inf_nan=False)
    actions: list[str] = Field(default_factory=lambda: [str(a) for a in ACTIONS])
    # a rule whose scope holds fewer cases than this lacks evidence (a rule's min_n overrides)
    min_n: int = Field(default=1, ge=0)
    # the action a rule that lacks evidence triggers, whatever its own action
    insufficient_evidence: Action = "hold"
    # significance across the segments of one comparison: Holm-Bonferroni, or none
    correction: Literal["holm", "none"] = "holm"
    # only findings with a verified signature (or made in this store) may stand: adds a
    # rule `signed-findings` (unverified_findings <= 0, action hold) unless one exists
    require_signed_findings: bool = False
    # an allowed-signers file (relative to the policy) that findings imports and record
    # signatures are verified against when no --allowed-signers is given
    allowed_signers: str | None = None
    rule: list[Rule] = Field(min_length=1)
    calibration: CalibrationPolicy | None = None
    # the traffic weights and estimator the weighted metrics read (#28, gate/production.py)
    production: ProductionPolicy | None = None

    @model_validator(mode="after")
    def _signed(self) -> Policy:
        if self.require_signed_findings and not any(
            r.metric == "unverified_findings" for r in self.rule
        ):
            self.rule.append(
                Rule.model_validate(
                    {
                        "id": "signed-findings",
                        "metric": "unverified_findings",
                        "max": 0,
                        "action": "hold",
                        "owner": "eval-team",
                        "why": "require_signed_findings: a finding whose signature was not verified here "
                        "(an unsigned file, or a signed one with no allowed-signers file to check "
                        "it) may not decide a release",
                    }
                )
            )
        return self

    @field_validator("actions")
    @classmethod
    def _actions(cls, v: list[str]) -> list[str]:
        if sorted(v) != sorted(ACTIONS):
            raise ValueError(
                f"actions is an ordering of exactly {', '.join(ACTIONS)} (least severe first)"
            )
        return v

    @field_validator("reducer")
    @classmethod
    def _reducer(cls, v: str) -> str:
        Reducer.parse(v)
        return v


@dataclass
class LoadedPolicy:
    policy: Policy
    path: Path
    sha256: str
    text: str = ""
    rule_lines: list[int] = field(default_factory=list)  # where each [[rule]] starts

    def where(self, index: int, key: str | None = None) -> str:
        """ "rule N (id), line L": the rule, and the line of `key` in it when it is there."""
        rule = self.policy.rule[index]
        start = self.rule_lines[index] if index < len(self.rule_lines) else None
        line = start
        if key and start:
            end = self.rule_lines[index + 1] if index + 1 < len(self.rule_lines) else 10**9
            for n, row in enumerate(self.text.splitlines(), start=1):
                if start <= n < end and re.match(rf"{re.escape(key)}\s*=", row.strip()):
                    line = n
                    break
        return f"rule {index + 1} ({rule.id})" + (f", line {line}" if line else "")

    @property
    def allowed_signers(self) -> Path | None:
        """The policy's allowed-signers file, resolved against the policy's folder."""
        name = self.policy.allowed_signers
        return None if name is None else (self.path.parent / name).resolve()

    def error(self, index: int, key: str, message: str) -> InputError:
        return InputError(str(self.path), message, location=self.where(index, key), field=key)


def _line_of(text: str, pattern: str, after: int = 0) -> int | None:
    for n, line in enumerate(text.splitlines(), start=1):
        if n > after and re.match(pattern, line.strip()):
            return n
    return None


def load_policy(path: Path) -> LoadedPolicy:
    """Parse a policy; errors name the file, the line and the key."""
    data, text, raw = read_toml(path, "policy")
    starts = table_lines(text, "rule")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = [str(p) for p in err["loc"]]
        msg = err["msg"].removeprefix("Value error, ")
        if loc and loc[0] == "rule" and len(loc) > 1 and loc[1].isdigit():
            i = int(loc[1])
            start = starts[i] if i < len(starts) else None
            key = loc[2] if len(loc) > 2 else None
            if key == "params":  # a metric parameter: its own key
                key = loc[3] if len(loc) > 3 else None
            key = getattr((err.get("ctx") or {}).get("error"), "key", key)
            line = start
            if key and start:
                end = starts[i + 1] if i + 1 < len(starts) else 10**9
                for n, row in enumerate(text.splitlines(), start=1):
                    if start <= n < end and re.match(rf"{re.escape(key)}\s*=", row.strip()):
                        line = n
                        break
            rid = (
                data["rule"][i].get("id")
                if isinstance(data.get("rule"), list) and i < len(data["rule"])
                else None
            )
            where = (
                f"rule {i + 1}" + (f" ({rid})" if rid else "") + (f", line {line}" if line else "")
            )
            raise InputError(str(path), msg, location=where, field=key) from None
        key = loc[0] if loc else None
        line = _line_of(text, rf"{re.escape(key)}\s*=") if key else None
        if key == "calibration":  # a key of [calibration]: named with its table
            inner = loc[1] if len(loc) > 1 and not loc[1].isdigit() else None
            line = (
                _line_of(text, rf"{re.escape(inner)}\s*=")
                if inner
                else _line_of(text, r"\[calibration\]")
            )
            key = f"calibration.{inner}" if inner else key
        if key == "production":  # a key of [production]: named with its table (#28)
            said = getattr((err.get("ctx") or {}).get("error"), "key", None)  # a check's key
            inner = loc[1] if len(loc) > 1 else said
            start = _line_of(text, r"\[production\]") or 0
            line = _line_of(text, rf"{re.escape(inner)}\s*=", after=start) if inner else start
            key = f"production.{inner}" if inner else key
        raise InputError(
            str(path), msg, location=f"line {line}" if line else None, field=key
        ) from None
    check_rules(policy, str(path), starts)
    return LoadedPolicy(policy, path, hashlib.sha256(raw).hexdigest(), text, starts)


def check_rules(policy: Policy, source: str, starts: Sequence[int] = ()) -> None:
    """What the model alone does not check: each rule's action is one of the policy's,
    and no two rules share an id (`source` names the file, or the edit, in the error)."""
    for i, r in enumerate(policy.rule):
        if r.action not in policy.actions:
            where = f"rule {i + 1} ({r.id})" + (f", line {starts[i]}" if i < len(starts) else "")
            raise InputError(
                source,
                f"unknown action {r.action!r}; use one of {', '.join(policy.actions)}",
                location=where,
                field="action",
            )
    ids = Counter(r.id for r in policy.rule)
    dup = [k for k, n in ids.items() if n > 1]
    if dup:
        raise InputError(source, f"rule id {dup[0]!r} is used twice", field="id")


def describe_scope(scope: Any) -> str:
    if scope == "all" or not scope:
        return "all cases"
    return ", ".join(
        f"{k} = {v}" if not isinstance(v, list) else f"{k} in [{', '.join(map(str, v))}]"
        for k, v in scope.items()
    )
