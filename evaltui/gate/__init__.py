"""The gate: a policy turns a comparison into a decision, kept in the store and exported.

`policy` parses and checks the TOML; `decide` measures and builds the record;
`verify` checks one against the store; `record` is the typed record; `history` keeps decisions.
"""

from evaltui.gate import formats
from evaltui.gate.decide import evaluate
from evaltui.gate.history import (
    POLICY_SETTING,
    DecisionRow,
    KeptDecision,
    TeamDecisionRow,
    get_decision,
    get_team_decision,
    list_decisions,
    list_team_decisions,
    policy_path,
    record_decision,
    set_policy_path,
)
from evaltui.gate.policy import (
    ACTIONS,
    EXIT_CODES,
    LoadedPolicy,
    Policy,
    Rule,
    describe_scope,
    load_policy,
)
from evaltui.gate.record import SCHEMA, DecisionRecord, canonical, content_hash, json_schema
from evaltui.gate.verify import check_signature, note_signed, verify

__all__ = [
    "ACTIONS",
    "EXIT_CODES",
    "POLICY_SETTING",
    "SCHEMA",
    "DecisionRecord",
    "DecisionRow",
    "KeptDecision",
    "LoadedPolicy",
    "Policy",
    "Rule",
    "TeamDecisionRow",
    "canonical",
    "check_signature",
    "content_hash",
    "describe_scope",
    "evaluate",
    "formats",
    "get_decision",
    "get_team_decision",
    "json_schema",
    "list_decisions",
    "list_team_decisions",
    "load_policy",
    "note_signed",
    "policy_path",
    "record_decision",
    "set_policy_path",
    "verify",
]
