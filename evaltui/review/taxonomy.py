"""The failure-class taxonomy: what a failure is, and who owns its repair.

Ships with twelve classes; a team edits them in a TOML file (docs/triage.md):

    [[class]]
    key = "unsupported_claim"
    name = "Unsupported claim"
    description = "States something the sources do not support; repair grounding."
    owner = "grounding"
    # retired = true   # kept for old findings, no longer offered

`--taxonomy FILE` uses a file for one command or session; `evaltui taxonomy
import FILE` stores it in the store (recorded in the event log).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evaltui.errors import InputError
from evaltui.files import read_toml, table_lines
from evaltui.textsafe import safe_json

SETTING = "taxonomy"
KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")


class FailureClass(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=80)
    description: str = ""
    owner: str = Field(default="unassigned", min_length=1, max_length=80)
    retired: bool = False


DEFAULT_CLASSES: list[FailureClass] = [
    FailureClass(key="unsupported_claim", name="Unsupported claim", owner="grounding",
                 description="Asserts something the sources do not support. Repair: grounding and citation prompts."),
    FailureClass(key="wrong_source", name="Wrong source", owner="retrieval",
                 description="Answers from the wrong document or section. Repair: retrieval ranking and filters."),
    FailureClass(key="missing_source", name="Missing source", owner="knowledge-base",
                 description="The needed source is absent or was not retrieved. Repair: add or index the content."),
    FailureClass(key="source_conflict", name="Source conflict", owner="knowledge-base",
                 description="Sources disagree and the answer picked one. Repair: reconcile or retire the stale source."),
    FailureClass(key="policy_ambiguity", name="Policy ambiguity", owner="policy",
                 description="The policy itself is unclear for this case. Repair: clarify the policy, then the case."),
    FailureClass(key="unsafe_tool_action", name="Unsafe tool action", owner="safety",
                 description="Took or proposed an action it must not (payments, account changes). Repair: tool guards."),
    FailureClass(key="refusal_failure", name="Refusal failure", owner="safety",
                 description="Complied where it should have refused. Repair: safety policy and refusal training."),
    FailureClass(key="over_refusal", name="Over-refusal", owner="assistant-behaviour",
                 description="Refused a legitimate request. Repair: refusal thresholds and examples."),
    FailureClass(key="format_violation", name="Format violation", owner="prompting",
                 description="Right content, wrong shape (JSON, length, structure). Repair: prompt or output parser."),
    FailureClass(key="latency_timeout", name="Latency or timeout", owner="platform",
                 description="Too slow or timed out. Repair: serving, timeouts, model size."),
    FailureClass(key="reviewer_disagreement", name="Reviewer disagreement", owner="eval-team",
                 description="Graders or reviewers disagree on the outcome. Repair: rubric or grader."),
    FailureClass(key="scope_mismatch", name="Scope mismatch", owner="product",
                 description="The case asks for something outside the product's scope. Repair: scope or the case."),
]  # fmt: skip


class Taxonomy:
    def __init__(self, classes: list[FailureClass], source: str = "built-in") -> None:
        self.classes = classes
        self.source = source
        self.by_key = {c.key: c for c in classes}

    @property
    def active(self) -> list[FailureClass]:
        """Classes offered for new findings, in order (keys 1..9 assign the first nine)."""
        return [c for c in self.classes if not c.retired]

    def get(self, key: str) -> FailureClass:
        cls = self.by_key.get(key)
        if cls is None:
            raise InputError(
                "--class",
                f"unknown failure class {key!r}; known: {', '.join(c.key for c in self.active)}",
            )
        return cls

    def resolve(self, text: str) -> FailureClass:
        """A class by key, by its number (1-based among active), or by name (any case)."""
        t = text.strip()
        if t.isdigit() and 1 <= int(t) <= len(self.active):
            return self.active[int(t) - 1]
        if t in self.by_key:
            return self.by_key[t]
        for c in self.classes:
            if c.name.lower() == t.lower() or c.key == t.lower().replace(" ", "_").replace(
                "-", "_"
            ):
                return c
        return self.get(t)

    def as_list(self) -> list[dict[str, Any]]:
        return [c.model_dump() for c in self.classes]


def default_taxonomy() -> Taxonomy:
    return Taxonomy([c.model_copy() for c in DEFAULT_CLASSES])


def parse_toml(path: Path) -> Taxonomy:
    """Read a taxonomy file; errors name the file, the line or the class and the key."""
    data, text, _ = read_toml(path, "taxonomy")
    unknown = set(data) - {"class"}
    if unknown:
        raise InputError(
            str(path), "unknown top-level key; a taxonomy has [[class]] tables only",
            field=sorted(unknown)[0],
        )  # fmt: skip
    items = data.get("class")
    if not isinstance(items, list) or not items:
        raise InputError(str(path), "no [[class]] tables", field="class")
    classes: list[FailureClass] = []
    seen: set[str] = set()
    starts = table_lines(text, "class")
    for i, item in enumerate(items):
        where = f"class {i + 1}" + (f" (line {starts[i]})" if i < len(starts) else "")
        try:
            cls = FailureClass.model_validate(item)
        except ValidationError as exc:
            err = exc.errors(include_url=False)[0]
            key = ".".join(str(p) for p in err["loc"]) or None
            raise InputError(str(path), err["msg"], location=where, field=key) from None
        if not KEY_RE.match(cls.key):
            raise InputError(
                str(path), "a class key is lower_snake_case (letters, digits, _)",
                location=where, field="key",
            )  # fmt: skip
        if cls.key in seen:
            raise InputError(
                str(path), f"duplicate class key {cls.key!r}", location=where, field="key"
            )
        seen.add(cls.key)
        classes.append(cls)
    return Taxonomy(classes, source=str(path))


def to_toml(taxonomy: Taxonomy) -> str:
    def q(s: str) -> str:
        # a TOML basic string: JSON's escapes are TOML's, and every control, DEL, C1 and
        # bidi character is escaped, so the export is inert and imports again
        return safe_json(s, indent=None)

    out = []
    for c in taxonomy.classes:
        out.append("[[class]]")
        out.append(f"key = {q(c.key)}")
        out.append(f"name = {q(c.name)}")
        out.append(f"description = {q(c.description)}")
        out.append(f"owner = {q(c.owner)}")
        if c.retired:
            out.append("retired = true")
        out.append("")
    return "\n".join(out)


def load(store: Any, override: Path | None = None) -> Taxonomy:
    """The taxonomy in force: an override file, else the store's, else the built-in one."""
    if override is not None:
        return parse_toml(override)
    saved = store.get_setting(SETTING)
    if saved:
        return Taxonomy([FailureClass.model_validate(c) for c in saved], source="store")
    return default_taxonomy()


def save(store: Any, taxonomy: Taxonomy) -> dict[str, list[str]]:
    """Store a taxonomy (logged with before/after); returns what changed by class key."""
    before = load(store)
    after_list = taxonomy.as_list()
    store.set_setting(SETTING, after_list)
    old, new = before.by_key, taxonomy.by_key
    return {
        "added": sorted(set(new) - set(old)),
        "removed": sorted(set(old) - set(new)),
        "changed": sorted(k for k in set(old) & set(new) if old[k] != new[k]),
    }
