"""What the case list shows, and the one home of the search/filter language (CLI and app)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from evaltui.compare.kinds import CHANGED, CHANGES

# `noted`: a reviewer's note and no class (open coding, #29); a note is not triage
TRIAGE_STATES = ("untriaged", "triaged", "disagreement", "noted")


@dataclass(frozen=True)
class Filter:
    """What the case list shows."""

    changes: frozenset[str] = CHANGED
    segment: tuple[str, str] | None = None  # (dimension, value)
    text: str = ""
    statuses: frozenset[str] | None = None  # None: the comparison's own
    triage: str | None = None  # one of TRIAGE_STATES
    failure_class: str | None = None
    owner: str | None = None
    tool: str | None = None  # cases where either run called this tool
    source: str | None = None  # cases where either run retrieved or cited this source
    divergence: str | None = None  # cases whose paths first part this way (DIVERGENCE_KINDS)

    def with_(self, **changes: Any) -> Filter:
        """A copy with some fields changed."""
        return replace(self, **changes)

    @property
    def plain(self) -> bool:
        """Only change kinds (and statuses): answerable from the comparison's tally."""
        return not (
            self.segment
            or self.text
            or self.triage
            or self.failure_class
            or self.owner
            or self.tool
            or self.source
            or self.divergence
        )

    def describe(self) -> str:
        parts = []
        if self.changes == CHANGED:
            parts.append("changed")
        elif self.changes == frozenset(CHANGES):
            parts.append("all cases")
        else:
            parts.append(",".join(c for c in CHANGES if c in self.changes))
        if self.segment:
            parts.append(f"{self.segment[0]}={self.segment[1]}")
        if self.triage:
            parts.append(self.triage)
        if self.failure_class:
            parts.append(f"class:{self.failure_class}")
        if self.owner:
            parts.append(f"owner:{self.owner}")
        if self.tool:
            parts.append(f"tool:{self.tool}")
        if self.source:
            parts.append(f"source:{self.source}")
        if self.divergence:
            parts.append(f"divergence:{self.divergence}")
        if self.text:
            parts.append(f"/{self.text}")
        return " ".join(parts)

    def search_text(self) -> str:
        """The search-language form of the triage, class, owner and text parts (`parse` reads it back)."""
        return " ".join(
            p
            for p in (
                self.triage or "",
                f"class:{self.failure_class}" if self.failure_class else "",
                f"owner:{self.owner}" if self.owner else "",
                f"tool:{self.tool}" if self.tool else "",
                f"source:{self.source}" if self.source else "",
                f"divergence:{self.divergence}" if self.divergence else "",
                self.text,
            )
            if p
        )

    def parse(self, text: str) -> Filter:
        """The search language: free text, plus `untriaged`, `triaged`, `disagreement`,
        `noted` (a note and no class), `class:KEY`, `owner:NAME`, `tool:NAME` (either run
        called it), `source:ID` (either run retrieved or cited it), `divergence:KIND` (the
        candidate's path first parts from the baseline's this way:
        `divergence.DIVERGENCE_KINDS`) and `tools_changed` tokens. The change kinds and
        segment are kept, unless `tools_changed` names the kind."""
        words, rest = text.split(), []
        triage_state = cls = owner = tool = source = divergence = None
        changes = self.changes
        for w in words:
            lw = w.lower()
            if lw in ("untriaged", "triaged", "disagreement", "disagreements", "noted"):
                triage_state = "disagreement" if lw.startswith("disagree") else lw
            elif lw.startswith("class:") and len(w) > 6:
                cls = w[6:]
            elif lw.startswith("owner:") and len(w) > 6:
                owner = w[6:]
            elif lw.startswith("tool:") and len(w) > 5:
                tool = w[5:]
            elif lw.startswith("source:") and len(w) > 7:
                source = w[7:]
            elif lw.startswith("divergence:") and len(w) > 11:
                divergence = lw[11:]
            elif lw == "tools_changed":
                changes = frozenset({"tools_changed"})
            else:
                rest.append(w)
        return self.with_(
            text=" ".join(rest),
            triage=triage_state,
            failure_class=cls,
            owner=owner,
            tool=tool,
            source=source,
            divergence=divergence,
            changes=changes,
        )


# What the app's `f` key cycles through.
FILTER_CYCLE: list[tuple[str, frozenset[str]]] = [
    ("changed", CHANGED),
    *[(c, frozenset({c})) for c in CHANGES],
    ("all", frozenset(CHANGES)),
]
