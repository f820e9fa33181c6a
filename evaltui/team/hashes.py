"""The project's taxonomy and gate policy, compared between the team store and this store.

The admin records in the team store the sha256 of the taxonomy and of the gate policy
file the team works with (`team set-project --taxonomy FILE --policy FILE`). This store's
are its taxonomy in force (the latest version: `review.taxonomy`, fingerprinted as
`taxonomy import` does) and the gate policy file the app last used on it (the store's
`gate.policy` setting; its bytes hashed, as a decision record's `policy_sha256`).

A difference is said in `team status`, in `evaltui sync` and in the app's team line. It
does not stop a sync; but a pulled finding whose class this store's taxonomy lacks is
not folded (it waits, said loudly, until the team's taxonomy is imported here).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaltui.gate import history
from evaltui.review import taxonomy
from evaltui.store.store import Store

MAX_POLICY_BYTES = 1 << 20


@dataclass(frozen=True)
class Local:
    taxonomy_sha256: str
    taxonomy_version: int
    policy_sha256: str | None
    policy_path: str | None
    policy_error: str | None = None


def local(store: Store) -> Local:
    """This store's taxonomy and gate policy hashes."""
    current = taxonomy.latest(store)
    path = history.policy_path(store)
    sha = error = None
    if path is not None:
        try:
            with Path(path).open("rb") as fh:
                sha = hashlib.sha256(fh.read(MAX_POLICY_BYTES + 1)).hexdigest()
        except OSError as exc:
            error = f"{path}: {exc.strerror or exc}"
    return Local(current.sha256, current.version, sha, path, error)


def mismatches(store: Store, info: dict[str, Any]) -> list[str]:
    """Each difference between the team's hashes (`TeamClient.project_info`) and this
    store's, in words; empty when they agree or the team recorded none."""
    here = local(store)
    out = []
    team_tax = info.get("taxonomy_sha256")
    if team_tax and team_tax != here.taxonomy_sha256:
        out.append(
            f"taxonomy: the team's is sha256 {team_tax[:12]}, this store's (version "
            f"{here.taxonomy_version}) is {here.taxonomy_sha256[:12]}: import the team's "
            "taxonomy (`evaltui taxonomy import FILE`); findings of a class this store lacks "
            "are not folded until then"
        )
    team_policy = info.get("policy_sha256")
    if team_policy and team_policy != here.policy_sha256:
        if here.policy_path is None:
            mine = "this store has no gate policy file set (the app's policy)"
        elif here.policy_error is not None:
            mine = f"this store's gate policy file cannot be read ({here.policy_error})"
        else:
            mine = f"this store's ({here.policy_path[:120]}) is {(here.policy_sha256 or '')[:12]}"
        out.append(
            f"gate policy: the team's is sha256 {team_policy[:12]}, {mine}: gate decisions "
            "here may differ from the team's"
        )
    return out


def short(problems: list[str]) -> str | None:
    """The app's team line: which differ, in two words each."""
    if not problems:
        return None
    names = [p.split(":", 1)[0] for p in problems]
    return f"{' and '.join(names)} differ{'s' if len(names) == 1 else ''} from the team's"
