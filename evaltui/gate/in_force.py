"""The production estimate the app shows for a store (#28): the policy in force for the
store (the one the app's gate screen last used, `history.policy_path`; the team's policy
hash is checked against the same file) decides whether the estimate is also corrected
for the grader's errors, as `evaltui gate` decides it: `[production] calibrated = true`
read through `production.prepare`, so the app estimates with the very weights, settings
and alpha a decision on that policy would. Otherwise the weights in force, as
`evaltui compare` reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from evaltui.compare.production import Production, from_store
from evaltui.errors import EvaltuiError
from evaltui.gate.history import policy_path
from evaltui.gate.policy import load_policy
from evaltui.gate.production import prepare
from evaltui.store.store import Store


@dataclass(frozen=True)
class InForce:
    """The estimate to show (None: no weights) and whether the policy asks for it
    corrected; `refused`: asked, and no estimate can be made (why, in words)."""

    production: Production | None
    calibrated: bool = False
    refused: str | None = None


def production_in_force(store: Store) -> InForce:
    """What the app estimates with: the policy's reading of `[production]` when the
    policy in force asks for the corrected estimate, else the weights in force. A policy
    that cannot be read asks nothing here (the gate screen says what is wrong with it)."""
    path = policy_path(store)
    loaded = None
    if path:
        try:
            loaded = load_policy(Path(path))
        except EvaltuiError:
            loaded = None
    conf = loaded.policy.production if loaded is not None else None
    if loaded is None or conf is None or not conf.calibrated:
        return InForce(from_store(store))
    try:
        found = prepare(store, loaded)
    except EvaltuiError as exc:  # the policy's weights: a file gone or bad, a name unknown
        return InForce(None, True, f"the policy's traffic weights: {exc.message}")
    if found is None:
        return InForce(
            None, True, "no traffic weights are in force (`evaltui traffic import FILE`)"
        )
    return InForce(found, True)
