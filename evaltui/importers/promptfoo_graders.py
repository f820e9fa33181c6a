"""The grading provider of promptfoo's model-graded assertions (`llm-rubric` and its kin):
kept as a run's `grader_models`, the grader's identity in a decision record's calibration.

promptfoo picks it as its grader (`getGradingProvider`) does: the assertion's own
`provider`, else the test's `options.provider` (where `defaultTest.options.provider` is
merged into every test), else, in a JSON that holds the config, `config.defaultTest`'s
`provider`, `options.provider.text` or `options.provider`. A provider written as a string
is that id; as an object, its `text` entry (a per-type map) or else its `id`. Where none
is named promptfoo grades with its built-in default, which the file does not name: left out.
"""

from __future__ import annotations

from typing import Any

# assertion types graded by promptfoo's text grading provider (getAndCheckProvider("text"))
MODEL_GRADED = frozenset(
    {"llm-rubric", "g-eval", "model-graded-closedqa", "factuality", "model-graded-factuality"}
)
ID_CHARS = 200  # a provider id kept, at most (as Inspect's grading models)
IDS_PER_CRITERION = 16  # distinct providers kept per criterion: memory stays bounded


def provider_id(value: Any) -> str | None:
    """The provider id a grading `provider` value names, or None."""
    if isinstance(value, str):
        return value[:ID_CHARS] or None
    if isinstance(value, dict):
        if value.get("text"):
            return provider_id(value["text"])
        if isinstance(value.get("id"), str):
            return value["id"][:ID_CHARS] or None
    return None


def default_grader(config: dict[str, Any] | None) -> str | None:
    """The grader a JSON's `config.defaultTest` names, for assertions no row names one for."""
    default = (config or {}).get("defaultTest")
    if not isinstance(default, dict):
        return None
    options = default.get("options")
    named = options.get("provider") if isinstance(options, dict) else None
    text = named.get("text") if isinstance(named, dict) else None
    for candidate in (default.get("provider"), text, named):
        if candidate:
            return provider_id(candidate)
    return None


class GraderIndex:
    """Each column's criteria and the providers that graded them, gathered row by row."""

    def __init__(self, default: str | None = None) -> None:
        self.default = default
        self.columns: dict[Any, dict[str, list[str]]] = {}

    def add(self, column: Any, criterion: str, assertion_type: str, own: Any, test: Any) -> None:
        """One assertion of a row: its type, its own `provider` and its test's."""
        if assertion_type not in MODEL_GRADED:
            return
        name = provider_id(own or test) if (own or test) else self.default
        if name is None:
            return
        kept = self.columns.setdefault(column, {}).setdefault(criterion[:ID_CHARS], [])
        if name not in kept and len(kept) < IDS_PER_CRITERION:
            kept.append(name)

    def of(self, column: Any) -> dict[str, str]:
        """criterion -> its grading providers (several joined by commas, sorted)."""
        return {k: ",".join(sorted(v)) for k, v in sorted(self.columns.get(column, {}).items())}
