"""The failure-class taxonomy: what a failure is, and who owns its repair.

Ships with twelve classes; a team edits them in a TOML file (docs/triage.md):

    [[class]]
    key = "unsupported_claim"
    name = "Unsupported claim"
    description = "States something the sources do not support; repair grounding."
    owner = "grounding"
    # examples = ["support/refunds-004"]   # cases the rubric line is read with
    # retired = true   # kept for old findings, no longer offered

`--taxonomy FILE` uses a file for one command or session; `evaltui taxonomy
import FILE` stores it in the store. A store keeps every version of its taxonomy
(append-only, each logged): who changed what, when and why, the classes in full and
their sha256. Its taxonomy is the latest version; version 1 is what was in force before
the first change (the built-in classes, or the copy an earlier evaltui stored), recorded
with that change. This module alone names `taxonomy_versions` in SQL.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evaltui.errors import InputError, StoreError
from evaltui.files import read_toml, table_lines
from evaltui.store.events import now_iso
from evaltui.textsafe import safe_json, visible

if TYPE_CHECKING:
    from evaltui.store import Store

SETTING = "taxonomy"  # the copy an evaltui before versions stored: read until a version is
KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
EXAMPLES_MAX = 20


class FailureClass(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=40)
    name: str = Field(min_length=1, max_length=80)
    description: str = ""
    owner: str = Field(default="unassigned", min_length=1, max_length=80)
    retired: bool = False
    # cases (SUITE/KEY) the rubric line is read with: what the class looks like
    examples: list[Annotated[str, Field(min_length=1, max_length=300)]] = Field(
        default_factory=list, max_length=EXAMPLES_MAX
    )

    def dump(self) -> dict[str, Any]:
        """As JSON and the hash see it: `examples` only when there are some (a class
        without examples is written as before they existed)."""
        out = self.model_dump()
        if not self.examples:
            del out["examples"]
        return out


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
    def __init__(
        self, classes: list[FailureClass], source: str = "built-in", version: int | None = None
    ) -> None:
        self.classes = classes
        self.source = source
        self.version = version  # the store's version it is (None: a file, or not recorded)
        self.by_key = {c.key: c for c in classes}

    @property
    def sha256(self) -> str:
        return fingerprint(self.classes)

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
        return [c.dump() for c in self.classes]


def default_taxonomy() -> Taxonomy:
    return Taxonomy([c.model_copy() for c in DEFAULT_CLASSES])


def parse_toml(path: Path) -> Taxonomy:
    """Read a taxonomy file; errors name the file, the line or the class and the key."""
    data, text, _ = read_toml(path, "taxonomy")
    unknown = set(data) - {"class"}
    if unknown:
        raise InputError(
            str(path),
            "unknown top-level key; a taxonomy has [[class]] tables only",
            field=sorted(unknown)[0],
        )
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
                str(path),
                "a class key is lower_snake_case (letters, digits, _)",
                location=where,
                field="key",
            )
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
        if c.examples:
            out.append(f"examples = [{', '.join(q(e) for e in c.examples)}]")
        if c.retired:
            out.append("retired = true")
        out.append("")
    return "\n".join(out)


def load(store: Any, override: Path | None = None) -> Taxonomy:
    """The taxonomy in force: an override file, else the store's latest version, else the
    copy an earlier evaltui stored, else the built-in one."""
    if override is not None:
        return parse_toml(override)
    return latest(store).taxonomy()


def save(store: Store, taxonomy: Taxonomy, reason: str = "imported") -> dict[str, list[str]]:
    """Keep a taxonomy as the store's next version (logged); what changed by class key."""
    before = load(store)
    record(store, taxonomy, reason=reason)
    old, new = before.by_key, taxonomy.by_key
    return {
        "added": sorted(set(new) - set(old)),
        "removed": sorted(set(old) - set(new)),
        "changed": sorted(k for k in set(old) & set(new) if old[k] != new[k]),
    }


# -- versions ------------------------------------------------------------------------------


def fingerprint(classes: list[FailureClass]) -> str:
    """sha256 of the classes' canonical JSON (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(
        [c.dump() for c in classes], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class TaxonomyVersion(BaseModel):
    """One version of a store's taxonomy; `at` None: in force, not recorded yet (it is
    recorded as version 1 with the first change)."""

    model_config = ConfigDict(frozen=True)

    version: int
    at: str | None
    actor: str | None
    reason: str
    sha256: str
    classes: list[FailureClass]

    def taxonomy(self) -> Taxonomy:
        source = f"store, version {self.version}" if self.at else self.reason_source
        return Taxonomy([c.model_copy() for c in self.classes], source, self.version)

    @property
    def reason_source(self) -> str:
        return "store" if self.reason == _STORED else "built-in"


_STORED = "in force before versions were kept (the taxonomy an earlier evaltui stored)"
_BUILT_IN = "in force before the first change (the built-in classes)"
_COLS = "version, at, actor, reason, classes, sha256"


def _row(r: tuple[Any, ...]) -> TaxonomyVersion:
    """A stored version; one a hand edit made unreadable is a StoreError naming it."""
    try:
        return TaxonomyVersion(
            version=r[0],
            at=r[1],
            actor=r[2],
            reason=r[3],
            sha256=r[5],
            classes=[FailureClass.model_validate(c) for c in json.loads(r[4])],
        )
    except (ValueError, TypeError, RecursionError) as exc:  # ValidationError is a ValueError
        why = visible(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, limit=120)
        raise StoreError(f"taxonomy version {r[0]} in the store is unreadable: {why}") from None


def _unrecorded(store: Store) -> TaxonomyVersion:
    saved = store.get_setting(SETTING)
    if saved:
        classes, reason = [FailureClass.model_validate(c) for c in saved], _STORED
    else:
        classes, reason = [c.model_copy() for c in DEFAULT_CLASSES], _BUILT_IN
    return TaxonomyVersion(
        version=1, at=None, actor=None, reason=reason, sha256=fingerprint(classes), classes=classes
    )


def versions(store: Store) -> list[TaxonomyVersion]:
    """Every version, oldest first (only version 1, unrecorded, before the first change)."""
    rows = store.conn.execute(f"SELECT {_COLS} FROM taxonomy_versions ORDER BY version")
    return [_row(r) for r in rows] or [_unrecorded(store)]


def latest(store: Store) -> TaxonomyVersion:
    row = store.conn.execute(
        f"SELECT {_COLS} FROM taxonomy_versions ORDER BY version DESC LIMIT 1"
    ).fetchone()
    return _row(row) if row else _unrecorded(store)


def version(store: Store, number: int, field: str = "VERSION") -> TaxonomyVersion:
    """One version by number; an unknown one is refused naming the versions there are."""
    row = store.conn.execute(
        f"SELECT {_COLS} FROM taxonomy_versions WHERE version = ?", (number,)
    ).fetchone()
    if row is not None:
        return _row(row)
    last = latest(store)
    if number == 1 and last.at is None:
        return last
    raise InputError(field, f"no taxonomy version {number}; this store has 1 to {last.version}")


def record(
    store: Store, taxonomy: Taxonomy, *, reason: str, in_transaction: bool = False
) -> TaxonomyVersion | None:
    """Keep `taxonomy` as the store's next version, logged (`taxonomy.version`); None when
    it is the version in force already. The first change records what was in force before
    as version 1. `in_transaction`: inside the caller's write (committed with its work)."""
    if not in_transaction:
        with store.transaction():
            return record(store, taxonomy, reason=reason, in_transaction=True)
    _check(taxonomy)
    current, sha = latest(store), fingerprint(taxonomy.classes)
    if sha == current.sha256:
        return None
    if current.at is None:
        current = _insert(store, current.model_copy(update={"at": now_iso(), "actor": store.actor}))
    new = TaxonomyVersion(
        version=current.version + 1,
        at=now_iso(),
        actor=store.actor,
        reason=reason,
        sha256=sha,
        classes=[c.model_copy() for c in taxonomy.classes],
    )
    return _insert(store, new, current)


def _check(taxonomy: Taxonomy) -> None:
    seen: set[str] = set()
    for c in taxonomy.classes:
        if not KEY_RE.match(c.key) or c.key in seen:
            raise InputError(
                "taxonomy",
                f"class key {visible(c.key)!r} is not lower_snake_case or is taken twice",
                field="key",
            )
        seen.add(c.key)


def _insert(
    store: Store, v: TaxonomyVersion, before: TaxonomyVersion | None = None
) -> TaxonomyVersion:
    store.conn.execute(
        f"INSERT INTO taxonomy_versions ({_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
        (v.version, v.at, v.actor, v.reason, json.dumps([c.dump() for c in v.classes]), v.sha256),
    )
    changes = diff(before, v).summary() if before else {"classes": len(v.classes)}
    store.log_event(
        "taxonomy.version",
        "taxonomy",
        "taxonomy",
        before=None if before is None else {"version": before.version, "sha256": before.sha256},
        after={"version": v.version, "sha256": v.sha256, **changes},
        context={"reason": v.reason},
    )
    return v


class ClassChange(BaseModel):
    """A class both versions hold, and each field that differs: [before, after]."""

    key: str
    fields: dict[str, list[Any]]


class TaxonomyDiff(BaseModel):
    """What changed from one version to another (`evaltui taxonomy diff`)."""

    old: int
    new: int
    old_sha256: str
    new_sha256: str
    added: list[FailureClass]
    removed: list[FailureClass]
    changed: list[ClassChange]

    def summary(self) -> dict[str, list[str]]:
        return {
            "added": [c.key for c in self.added],
            "removed": [c.key for c in self.removed],
            "changed": [c.key for c in self.changed],
        }


def diff(old: TaxonomyVersion, new: TaxonomyVersion) -> TaxonomyDiff:
    """Classes added, removed and changed (field by field), in each version's order."""
    a, b = {c.key: c for c in old.classes}, {c.key: c for c in new.classes}
    changed = []
    for c in new.classes:
        if c.key in a and a[c.key] != c:
            was, now = a[c.key].model_dump(), c.model_dump()
            fields = {f: [was[f], now[f]] for f in now if was[f] != now[f]}
            changed.append(ClassChange(key=c.key, fields=fields))
    return TaxonomyDiff(
        old=old.version,
        new=new.version,
        old_sha256=old.sha256,
        new_sha256=new.sha256,
        added=[c for c in new.classes if c.key not in a],
        removed=[c for c in old.classes if c.key not in b],
        changed=changed,
    )
