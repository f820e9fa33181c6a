"""A team event: its content hash, its chain link, and the client-side check of both.

An event's hash is the local event log's own link hash (`store.events.chain_hash`) over
the previous event of its stream and its content: project, author, kind, subject, the
payload as canonical JSON, and the client's time. The signature signs the hash and is
not part of it. Each (project, author, subject) is one stream, chained by `prev`.

The server is a transport and an authorizer, never a trusted author: `ChainCheck`
recomputes every pulled event's hash and follows its link, and refuses, by name, an
event whose content does not match its hash, whose link leads to no event this client
holds or to another stream's, or that forks a stream.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from evaltui.store.events import chain_hash, now_iso
from evaltui.team.schema import (
    KIND_SUBJECT,
    KINDS,
    MAX_NAME,
    MAX_PAYLOAD_BYTES,
    MAX_SUBJECT,
)

_MAX_DEPTH = 32
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def canonical_json(payload: Any) -> str:
    """The payload as the hash sees it: sorted keys, no spaces, UTF-8 (as the local log)."""
    return json.dumps(
        payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    )


def check_payload(payload: Any, where: str = "payload", depth: int = 0) -> None:
    """Refuse what would not come back from PostgreSQL's jsonb exactly as it went in
    (so its hash would no longer match): NUL characters, lone surrogates, numbers that
    jsonb rewrites (exponent form, -0.0, NaN, infinities), non-string keys, deep nesting."""
    if depth > _MAX_DEPTH:
        raise ValueError(f"{where}: nested more than {_MAX_DEPTH} deep")
    if isinstance(payload, dict):
        for key, value in payload.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: a key is not a string ({key!r})")
            check_payload(key, f"{where} key", depth + 1)
            check_payload(value, f"{where}.{key}", depth + 1)
    elif isinstance(payload, list):
        for i, value in enumerate(payload):
            check_payload(value, f"{where}[{i}]", depth + 1)
    elif isinstance(payload, str):
        if "\x00" in payload:
            raise ValueError(f"{where}: holds a NUL character (jsonb cannot store it)")
        try:
            payload.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{where}: holds a lone surrogate (not UTF-8)") from None
    elif isinstance(payload, float):
        negative_zero = payload == 0 and math.copysign(1.0, payload) < 0
        if not math.isfinite(payload) or "e" in repr(payload) or negative_zero:
            raise ValueError(f"{where}: {payload!r} would not come back from jsonb as written")
    elif payload is not None and not isinstance(payload, (bool, int)):
        raise ValueError(f"{where}: a {type(payload).__name__} is not JSON")


def case_subject(baseline_sha256: str, candidate_sha256: str, suite: str, case_key: str) -> str:
    """The subject of labels, undos and adjudications on one case of one comparison."""
    return "case:" + canonical_json([baseline_sha256, candidate_sha256, suite, case_key])


def run_identity(sha256: str, part: str) -> str:
    """A run as the team names it: its file's sha256, `#part` for one of a file's runs."""
    return f"{sha256}#{part}" if part else sha256


def parse_run_identity(identity: str) -> tuple[str, str] | None:
    sha, _, part = identity.partition("#")
    return (sha, part) if _HEX64.match(sha) else None


@dataclass(frozen=True)
class GoldSubject:
    """What a gold answer is on: one result (the run by its identity, the case, the
    epoch) and one criterion (its stored name: "" is the result's own verdict)."""

    run: str
    suite: str
    case_key: str
    epoch: int
    criterion: str


def gold_subject(run: str, suite: str, case_key: str, epoch: int, criterion: str) -> str:
    """The subject of a result's hidden gold answer on a criterion (read by adjudicators
    only): `gold:[run identity, suite, case key, epoch, criterion]`."""
    return "gold:" + canonical_json([run, suite, case_key, epoch, criterion])


def first_problem(exc: ValidationError, whole: str = "payload") -> str:
    """A payload's first validation error as a reason says it: `where: what`."""
    first = exc.errors()[0]
    where = ".".join(str(x) for x in first["loc"]) or whole
    return f"{where}: {first['msg']}"


def subject_parts(subject: str, prefix: str) -> list[Any] | None:
    """The JSON list after `prefix:` when the subject is exactly its canonical form, as
    the subject makers write it (None: not one)."""
    head = prefix + ":"
    if not subject.startswith(head):
        return None
    try:
        parts = json.loads(subject[len(head) :])
        if not isinstance(parts, list) or head + canonical_json(parts) != subject:
            return None
    except ValueError:  # not JSON, or not as canonical_json writes it (NaN)
        return None
    return parts


def string_parts(subject: str, prefix: str, count: int) -> list[str] | None:
    """The `count` strings of a `prefix:[...]` subject in its canonical form."""
    parts = subject_parts(subject, prefix)
    if parts is None or len(parts) != count or not all(isinstance(p, str) for p in parts):
        return None
    return parts


def parse_gold_subject(subject: str) -> GoldSubject | None:
    """The parts of a gold subject in its canonical form (None: not one)."""
    parts = subject_parts(subject, "gold")
    if parts is None or len(parts) != 5:
        return None
    run, suite, key, epoch, criterion = parts
    if (
        not all(isinstance(p, str) for p in (run, suite, key, criterion))
        or type(epoch) is not int
        or not 0 <= epoch <= 2**53
        or parse_run_identity(run) is None
    ):
        return None
    return GoldSubject(run, suite, key, epoch, criterion)


def shown(subject: str) -> str:
    """A subject as a message names it: a gold answer's never says which result (the
    CLI gives no gold away, docs/security.md), the others' first 80 characters."""
    return "a gold answer" if subject.startswith("gold:") else subject[:80]


def comparison_subject(baseline_sha256: str, candidate_sha256: str) -> str:
    """The subject of a release decision on a comparison."""
    return "comparison:" + canonical_json([baseline_sha256, candidate_sha256])


@dataclass(frozen=True)
class TeamEvent:
    """One event as written by its author; `server_seq` and `received_at` are the server's."""

    hash: str
    project: str
    author: str
    kind: str
    subject: str
    payload: Any
    prev: str | None
    client_at: str
    signature: str | None = None
    server_seq: int | None = None
    received_at: datetime | None = None

    @classmethod
    def make(
        cls,
        project: str,
        author: str,
        kind: str,
        subject: str,
        payload: Any,
        prev: str | None = None,
        client_at: str | None = None,
    ) -> TeamEvent:
        """A new event, hashed. Refuses what the shared store would refuse or alter."""
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}; one of {', '.join(KINDS)}")
        if not subject.startswith(KIND_SUBJECT[kind] + ":"):
            raise ValueError(f"a {kind} event's subject starts with '{KIND_SUBJECT[kind]}:'")
        if not 0 < len(author) <= MAX_NAME or len(subject) > MAX_SUBJECT:
            raise ValueError("author or subject too long (or the author empty)")
        check_payload(payload)
        if len(canonical_json(payload).encode("utf-8")) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"payload over {MAX_PAYLOAD_BYTES} bytes")
        at = client_at or now_iso()
        event = cls("", project, author, kind, subject, payload, prev, at)
        return replace(event, hash=event.content_hash())

    def content_hash(self) -> str:
        """The hash recomputed from the content (the local event log's link hash)."""
        row = (
            self.project,
            self.author,
            self.kind,
            self.subject,
            canonical_json(self.payload),
            self.client_at,
        )
        return chain_hash(self.prev or "", row)

    def named(self) -> str:
        """The event in words, for a refusal: hash, server position, kind, author, subject."""
        seq = f"seq {self.server_seq}, " if self.server_seq is not None else ""
        return (
            f"event {self.hash[:16]} ({seq}{self.kind} by {self.author!r} on {shown(self.subject)})"
        )


@dataclass(frozen=True)
class Refusal:
    """A pulled event the client will not take, and why."""

    event: TeamEvent
    reason: str

    def __str__(self) -> str:
        return f"{self.event.named()} refused: {self.reason}"


@dataclass
class ChainCheck:
    """What this client holds: every verified event's stream and each link's successor.
    Seed it with the events already held (`add`), then `check` each pulled event in
    server order. The lookups (`stream`, `follower`, `refusal`) are what a check backed
    by the local store overrides (team.ledger.LedgerCheck), so it need not hold every
    event in memory."""

    streams: dict[str, tuple[str, str, str]] = field(default_factory=dict)  # hash -> stream
    successor: dict[tuple[str, str, str, str], TeamEvent] = field(default_factory=dict)
    refused: dict[str, Refusal] = field(default_factory=dict)
    # after the hash and chain: the signature check (team.signatures), None: not checked
    signatures: Callable[[TeamEvent], str | None] | None = None

    def add(self, event: TeamEvent) -> None:
        self.streams[event.hash] = (event.project, event.author, event.subject)
        self.successor[(event.project, event.author, event.subject, event.prev or "")] = event

    def stream(self, hash_: str) -> tuple[str, str, str] | None:
        """The (project, author, subject) of a held event; None when not held."""
        return self.streams.get(hash_)

    def follower(self, link: tuple[str, str, str, str]) -> TeamEvent | None:
        """The held event that follows `link` (project, author, subject, prev or '')."""
        return self.successor.get(link)

    def refusal(self, hash_: str) -> Refusal | None:
        return self.refused.get(hash_)

    def holds(self, hash_: str) -> bool:
        return self.stream(hash_) is not None

    def is_refused(self, hash_: str) -> bool:
        return self.refusal(hash_) is not None

    def check(self, event: TeamEvent) -> Refusal | None:
        """None when the event is sound (then it is held); else the refusal, recorded."""
        reason = self._reason(event)
        if reason is None:
            self.add(event)
            return None
        refusal = Refusal(event, reason)
        self.refused[event.hash] = refusal
        return refusal

    def _reason(self, event: TeamEvent) -> str | None:
        recomputed = event.content_hash()
        if recomputed != event.hash:
            return (
                f"its content does not match its hash (the content hashes to "
                f"{recomputed[:16]}): it was changed on the server after its author wrote it"
            )
        prev = event.prev
        if prev is not None:
            refused = self.refusal(prev)
            if refused is not None:
                return f"it follows {refused.event.named()}, which was refused"
            stream = self.stream(prev)
            if stream is None:
                return (
                    f"its chain link {prev[:16]} is no event this client holds or could "
                    "read: deleted on the server, or never written"
                )
            project, author, subject = stream
            if (project, author, subject) != (event.project, event.author, event.subject):
                return (
                    f"its chain link {prev[:16]} is {author!r}'s event on {shown(subject)} in "
                    f"project {project!r}: an event follows only its own author's on its own "
                    "subject, so its author, subject or project was changed"
                )
        other = self.follower((event.project, event.author, event.subject, prev or ""))
        if other is not None and other.hash != event.hash:
            return (
                f"it forks {event.author!r}'s chain on {shown(event.subject)}: {other.named()} "
                f"already follows {'its start' if prev is None else prev[:16]}. The server "
                "refuses a fork, so one of the two was written past its checks (by a "
                "database superuser), and the one taken first is in doubt too"
            )
        if self.signatures is not None:
            return self.signatures(event)
        return None
