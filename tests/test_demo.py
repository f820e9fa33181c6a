"""The demo generator is deterministic and its data tells a triage story."""

import importlib.util
import json
from collections import Counter

from tests.conftest import DEMO


def _load_generator():
    spec = importlib.util.spec_from_file_location("demo_generate", DEMO / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generator_reproduces_committed_files(tmp_path, monkeypatch):
    gen = _load_generator()
    monkeypatch.setattr(gen, "HERE", tmp_path)
    gen.main()
    for name in ("production.jsonl", "candidate.jsonl", "fallback.jsonl"):
        assert (tmp_path / name).read_bytes() == (DEMO / name).read_bytes(), name


def _lines(name):
    return [json.loads(x) for x in (DEMO / name).read_text().splitlines()[1:]]


def test_demo_reference_set_shape():
    prod = _lines("production.jsonl")
    cases = {x["case_key"]: x["attributes"] for x in prod}
    assert len(cases) >= 300
    assert {a["task"] for a in cases.values()} == {"billing", "refunds", "account_access", "policy"}
    for dim in ("risk", "source_quality", "intent"):
        assert len({a[dim] for a in cases.values()}) >= 3
    epochs = Counter(x["case_key"] for x in prod)
    assert set(epochs.values()) == {1, 3}
    assert any(
        x["verdict"] == "error" and "timeout" in x["error"] for x in _lines("candidate.jsonl")
    )


def test_candidate_regresses_in_high_risk_and_improves_elsewhere():
    def rates(name):
        by = {}
        for x in _lines(name):
            if x["epoch"] == 0:
                by.setdefault(x["attributes"]["risk"], []).append(x["verdict"] == "pass")
        return {k: sum(v) / len(v) for k, v in by.items()}

    prod, cand = rates("production.jsonl"), rates("candidate.jsonl")
    assert cand["high"] < prod["high"] - 0.2
    assert cand["low"] > prod["low"] and cand["medium"] > prod["medium"]
