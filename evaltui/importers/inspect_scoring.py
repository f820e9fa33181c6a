"""What an Inspect log says of its scoring: a digest of its scorers and `results` (a log
re-scored with `inspect score` keeps its ids, and differs here) and each model-graded
scorer's grading model (the grader's identity in a decision record's calibration)."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def scores_digest(obj: Any) -> str | None:
    """What the log's scoring gave (its scorers and `results`): a log re-scored with
    `inspect score` keeps its ids, and differs here (docs/formats.md)."""
    if not isinstance(obj, dict):
        return None
    spec = obj.get("eval")
    scorers = spec.get("scorers") if isinstance(spec, dict) else None
    scoring = {"scorers": scorers, "results": obj.get("results")}
    text = json.dumps(scoring, sort_keys=True, ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _model_name(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("model"), str):
        return value["model"]
    return None


def grader_models(obj: Any) -> dict[str, str]:
    """Each model-graded scorer's grading model(s), as the log's `eval.scorers[].options.model`
    names them (one model, or a panel: joined by commas); scorers with none are left out."""
    spec = obj.get("eval") if isinstance(obj, dict) else None
    scorers = spec.get("scorers") if isinstance(spec, dict) else None
    out: dict[str, str] = {}
    for scorer in scorers if isinstance(scorers, list) else []:
        if not isinstance(scorer, dict) or not isinstance(scorer.get("name"), str):
            continue
        options = scorer.get("options")
        model = options.get("model") if isinstance(options, dict) else None
        names = [_model_name(m) for m in (model if isinstance(model, list) else [model])]
        if kept := [n[:200] for n in names if n]:
            out[scorer["name"][:200]] = ",".join(kept)
    return out
