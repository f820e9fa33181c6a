"""The gate: policy parsing, metrics, decisions, exit codes, the record, exports, verify."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from evaltui import exporters, gate, service
from evaltui.cli import cli
from evaltui.errors import InputError
from evaltui.review import lifecycle, triage
from evaltui.review.taxonomy import default_taxonomy

from .conftest import FIXTURES, ROOT
from .helpers import write_jsonl

POLICY = FIXTURES / "policies" / "support-assistant.toml"
SCHEMA = json.loads((ROOT / "docs" / "decision.schema.json").read_text())
GOLDEN = FIXTURES / "golden"
FIXED = {"decided_at": "2026-11-23T12:00:00+00:00", "decided_by": "release-captain"}


def policy_file(tmp_path, rules: str, head: str = 'promise = "p"\n') -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(head + rules)
    return path


def rule(metric: str, threshold: str, action: str = "hold", extra: str = "") -> str:
    return (f'\n[[rule]]\nid = "{metric}"\nmetric = "{metric}"\n{threshold}\naction = "{action}"\n'
            f'owner = "team"\nwhy = "because"\n{extra}')  # fmt: skip


# -- policy -------------------------------------------------------------------------------------


def test_the_example_policy_parses():
    loaded = gate.load_policy(POLICY)
    assert len(loaded.policy.rule) == 10 and loaded.policy.actions[-1] == "rollback"
    assert len(loaded.sha256) == 64


@pytest.mark.parametrize(
    ("body", "location", "field", "message"),
    [
        (rule("pass_rate", "min = 0.5", action="panic"), "rule 1 (pass_rate), line 3", "action", "unknown action"),
        (rule("pass_rate", 'min = "high"'), "rule 1 (pass_rate), line 6", "min", "valid number"),
        (rule("pass_rate", "min = 0.5\nmax = 0.9"), "rule 1 (pass_rate), line 3", None, "exactly one of min or max"),
        (rule("colour", "min = 1"), "rule 1 (colour), line 5", "metric", "unknown metric 'colour'; the metrics are 'pass_rate'"),
        (rule("pass_rat", "min = 1"), "rule 1 (pass_rat), line 5", "metric", "unknown metric 'pass_rat'; did you mean 'pass_rate'"),
        (rule("regressions", "max = 0") + 'tool = "t"\n', "rule 1 (regressions), line 10", "tool", "tool applies to findings_of_class only"),
        (rule("regressions", "max = inf"), "rule 1 (regressions), line 6", "max", "finite number"),
        (rule("pass_rate", "min = nan"), "rule 1 (pass_rate), line 6", "min", "finite number"),
        (rule("findings_of_class", "max = 0") + "class = 7\n", "rule 1 (findings_of_class), line 10", "class", "valid string"),
        (rule("findings_of_class", "max = 0"), "rule 1 (findings_of_class), line 3", None, "needs class"),
        ('\n[[rule]]\nid = "x"\nmetric = "regressions"\nmax = 0\naction = "hold"\nowner = "o"\n',
         "rule 1 (x), line 3", "why", "Field required"),
        (rule("regressions", "max = 0") + 'colour = "red"\n', "rule 1 (regressions), line 10", "colour", "Extra inputs"),
    ],
)  # fmt: skip
def test_bad_policies_name_line_and_key(tmp_path, body, location, field, message):
    path = policy_file(tmp_path, body)
    with pytest.raises(InputError) as info:
        gate.load_policy(path)
    err = info.value
    assert (err.location, err.field) == (location, field), err.message
    assert message in err.message and str(path) in str(err)


def test_bad_policy_top_level(tmp_path):
    path = policy_file(
        tmp_path, rule("regressions", "max = 0"), head='promise = "p"\nactions = ["ship", "hold"]\n'
    )
    with pytest.raises(InputError) as info:
        gate.load_policy(path)
    assert (info.value.location, info.value.field) == ("line 2", "actions")
    path.write_text('promise = "p"\n[[rule]\n')
    with pytest.raises(InputError) as info:
        gate.load_policy(path)
    assert info.value.location == "line 2" and "not valid TOML" in info.value.message


# -- metrics on a crafted comparison -------------------------------------------------------------


@pytest.fixture
def crafted(store, tmp_path):
    """6 cases: a, b high risk; latency and cost; b regresses, c improves, d dropped, e added."""

    def rows(side):
        spec = {  # key: (baseline verdict, candidate verdict, fallback verdict)
            "a": ("pass", "pass", "pass"), "b": ("pass", "fail", "pass"), "c": ("fail", "pass", "fail"),
            "d": ("pass", None, "pass"), "e": (None, "pass", "fail"), "f": ("pass", "pass", "fail"),
        }  # fmt: skip
        out = []
        for i, (k, v) in enumerate(spec.items()):
            if v[side] is None:
                continue
            out.append({"suite": "s", "case_key": k, "verdict": v[side], "output": f"{side}{k}",
                        "attributes": {"risk": "high" if k in "ab" else "low", "task": "t1" if i % 2 else "t2"},
                        "latency_ms": 100.0 * (i + 1) + (50 if side == 1 else 0), "cost": 0.01 * (side + 1)})  # fmt: skip
        return out

    ids = []
    for side, name in enumerate(("base", "cand", "fb")):
        (out,) = service.import_path(
            store, write_jsonl(tmp_path / f"{name}.jsonl", rows(side), header={"name": name})
        )
        ids.append(out.run_id)
    return ids


def value_of(
    store, tmp_path, ids, metric, threshold="max = 1000", extra="", scope=None, fallback=True
):
    body = rule(metric, threshold, extra=extra + (f"scope = {scope}\n" if scope else ""))
    rec = gate.evaluate(store, gate.load_policy(policy_file(tmp_path, body)), ids[0], ids[1],
                        ids[2] if fallback else None, **FIXED)  # fmt: skip
    return rec.as_dict()["rules"][0]


def test_each_metric_on_a_crafted_comparison(store, tmp_path, crafted):
    v = lambda *a, **k: value_of(store, tmp_path, crafted, *a, **k)["value"]  # noqa: E731
    # candidate: a b c e f present -> passes a c e f = 4/5
    assert v("pass_rate") == 0.8
    assert v("pass_rate", scope='{ risk = "high" }') == 0.5
    assert v("worst_of_n_pass_rate") == 0.8
    # paired a b c f: baseline 3/4, candidate 3/4 -> delta 0
    assert v("pass_rate_delta") == 0.0
    assert v("regressions") == 1 and v("dropped_cases") == 1
    assert v("untriaged_regressions") == 1
    assert v("significant_regression") == 0  # one flip each way: p = 1
    assert v("candidate_vs_fallback") == round(
        (4 - 2) / 5, 6
    )  # a c e f vs a b (fallback passes a b d)
    # latency: candidate samples 150 250 350 550 650 -> p95 nearest rank = 650; baseline 100 200 300 400 600 -> 600
    assert v("p95_latency") == 650.0 and v("p95_latency_delta") == 50.0
    assert v("cost_delta") == 1.0  # paired a b c f cost 0.02 vs 0.01 each
    assert v("disagreements") == 0 and v("open_findings") == 0
    assert v("unscored_cases") == 0 and v("limit_hits") == 0 and v("unverified_findings") == 0
    assert v("findings_of_class", extra='class = "unsafe_tool_action"\n') == 0
    b_id = store.conn.execute("SELECT id FROM cases WHERE case_key = 'b'").fetchone()[0]
    tax = default_taxonomy()
    triage.label(
        store,
        crafted[0],
        crafted[1],
        b_id,
        failure_class=tax.get("unsafe_tool_action"),
        reviewer="x",
    )
    assert v("findings_of_class", extra='class = "unsafe_tool_action"\n') == 1
    assert v("untriaged_regressions") == 0 and v("open_findings") == 1
    assert v("open_findings", extra='for_owner = "safety"\n') == 1  # the class's owner
    assert v("open_findings", extra='for_owner = "retrieval"\n') == 0  # a class's owner: no finding
    with pytest.raises(InputError, match="owned by 'team'"):  # a rule's own owner label: not a name
        v("open_findings", extra='for_owner = "team"\n')
    with pytest.raises(InputError, match="owned by 'legal-ops'"):  # neither: never an empty match
        v("open_findings", extra='for_owner = "legal-ops"\n')
    triage.label(store, crafted[0], crafted[1], b_id, verdict="flaky", reviewer="y")
    assert v("disagreements") == 1
    r = value_of(store, tmp_path, crafted, "candidate_vs_fallback", fallback=False)
    assert r["value"] is None and not r["passed"] and r["result"].startswith("no data")
    r = value_of(
        store,
        tmp_path,
        crafted,
        "candidate_vs_fallback",
        extra='missing = "pass"\n',
        fallback=False,
    )
    assert r["passed"]


def test_significant_regression_uses_mcnemar(demo_store, tmp_path):
    sel = service.get_selection(demo_store)
    r = value_of(demo_store, tmp_path, [sel["baseline"], sel["candidate"], None], "significant_regression",
                 "max = 0", scope='{ risk = "high" }', fallback=False)  # fmt: skip
    assert (
        r["value"] == 1 and r["evidence"]["pass_to_fail"] == 34 and r["evidence"]["p_value"] < 0.05
    )


def test_severity_ordering_and_reordering(store, tmp_path, crafted):
    body = rule("regressions", "max = 0", "repair") + rule("dropped_cases", "max = 0", "hold").replace(
        'id = "dropped_cases"', 'id = "coverage"')  # fmt: skip
    rec = gate.evaluate(
        store, gate.load_policy(policy_file(tmp_path, body)), crafted[0], crafted[1], **FIXED
    )
    assert rec.decision == "hold" and rec.exit_code == 12
    assert rec.why.startswith("coverage (hold")  # most severe first
    head = 'promise = "p"\nactions = ["ship", "narrow_rollout", "hold", "rollback", "repair"]\n'
    rec = gate.evaluate(
        store, gate.load_policy(policy_file(tmp_path, body, head)), crafted[0], crafted[1], **FIXED
    )
    assert rec.decision == "repair"
    rec = gate.evaluate(store, gate.load_policy(policy_file(tmp_path, rule("regressions", "max = 5"))),
                        crafted[0], crafted[1], **FIXED)  # fmt: skip
    assert (rec.decision, rec.why) == ("ship", "no rule is violated")


# -- CLI, exit codes, record -------------------------------------------------------------------------


def test_exit_codes(store, db_path, tmp_path, crafted):
    run = CliRunner()
    base = ["--db", str(db_path), "gate", "base", "cand", "--no-record"]
    for action, code in gate.EXIT_CODES.items():
        path = policy_file(
            tmp_path, rule("regressions", "max = 0", "rollback" if action == "ship" else action)
        )
        if action == "ship":
            path.write_text(path.read_text().replace("max = 0", "max = 9"))
        r = run.invoke(cli, [*base, "--policy", str(path)])
        assert r.exit_code == code, (action, r.output)
    path.write_text("promise = 1\n")
    r = run.invoke(cli, [*base, "--policy", str(path)])
    assert r.exit_code == 2 and "Error:" in r.output


def test_record_is_valid_against_its_schema_and_hash(demo_store, db_path, tmp_path):
    out, md, junit = tmp_path / "d.json", tmp_path / "d.md", tmp_path / "j.xml"
    r = CliRunner().invoke(cli, ["--db", str(db_path), "gate", "prod-2026-11-02", "cand-2026-11-20", "--fallback",
                                 "fallback-2026-11-20", "--policy", str(POLICY), "--out", str(out), "--md", str(md),
                                 "--junit", str(junit)])  # fmt: skip
    assert r.exit_code == 12, r.output
    record = json.loads(out.read_text())
    jsonschema.validate(record, SCHEMA)
    assert record["content_hash"] == gate.content_hash(record)
    assert record["decision"] == "hold" and len(record["untriaged_regressions"]) == 37
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "4" and len(root.findall(".//testcase")) == 10
    assert "## Release gate: **HOLD**" in md.read_text()
    assert gate.list_decisions(demo_store)[0].content_hash == record["content_hash"]
    assert demo_store.events()[-1].action == "decision"


def _normalise(text: str, tmp: Path) -> str:
    return text.replace(str(ROOT), "<repo>").replace(str(tmp), "<tmp>")


def test_golden_json_and_markdown(demo_store, tmp_path):
    sel = service.get_selection(demo_store)
    rec = gate.evaluate(
        demo_store,
        gate.load_policy(POLICY),
        sel["baseline"],
        sel["candidate"],
        sel["fallback"],
        **FIXED,
    )
    data = {k: v for k, v in rec.as_dict().items() if k != "content_hash"}
    assert len(data["provenance"]["event_log_head"]) == 64
    data["provenance"]["event_log_head"] = "<event log head: depends on when the demo was loaded>"
    got_json = _normalise(json.dumps(data, indent=2, sort_keys=True), tmp_path)
    got_md = _normalise(exporters.to_markdown(rec), tmp_path)
    got_md = got_md.replace(rec.content_hash, "<content hash>")
    if os.environ.get("UPDATE_GOLDEN"):
        (GOLDEN / "decision.json").write_text(got_json + "\n")
        (GOLDEN / "decision.md").write_text(got_md)
    assert got_json + "\n" == (GOLDEN / "decision.json").read_text()
    assert got_md == (GOLDEN / "decision.md").read_text()


# -- verify ------------------------------------------------------------------------------------------


def test_verify_detects_each_kind_of_change(demo_store, tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY.read_text())
    sel = service.get_selection(demo_store)
    rec = gate.evaluate(
        demo_store, gate.load_policy(policy), sel["baseline"], sel["candidate"], sel["fallback"]
    )
    assert any("not kept in this store" in p for p in gate.verify(demo_store, rec))  # a dry run
    gate.record_decision(demo_store, rec)
    assert gate.verify(demo_store, rec) == []
    # an edited record
    edited = rec.as_dict()
    edited["decision"] = "ship"
    assert any("record itself was edited" in p for p in gate.verify(demo_store, edited))
    # a new finding
    cid = demo_store.conn.execute(
        "SELECT id FROM cases WHERE case_key = ?", (rec.untriaged_regressions[0],)
    ).fetchone()[0]
    triage.label(demo_store, sel["baseline"], sel["candidate"], cid, verdict="flaky", reviewer="z")
    problems = gate.verify(demo_store, rec)
    assert any("findings changed" in p for p in problems) and any(
        "triage-complete" in p for p in problems
    )
    # a retired case
    lifecycle.retire(demo_store, [cid], "bad_case")
    assert any("reference set changed" in p for p in gate.verify(demo_store, rec))
    # a tampered policy
    policy.write_text(policy.read_text().replace("min = 0.60", "min = 0.30"))
    problems = gate.verify(demo_store, rec)
    assert any("the policy changed" in p for p in problems)
    assert any("the decision changed: hold ->" in p for p in problems) or any(
        "high-risk-pass-rate" in p for p in problems
    )


def test_cli_verify_and_decisions(demo_store, db_path, tmp_path):
    run = CliRunner()
    out = tmp_path / "d.json"
    run.invoke(
        cli, ["--db", str(db_path), "gate", "1", "2", "--policy", str(POLICY), "--out", str(out)]
    )
    r = run.invoke(cli, ["--db", str(db_path), "verify", str(out)])
    assert r.exit_code == 0 and "unchanged" in r.output
    run.invoke(cli, ["--db", str(db_path), "retire", "billing-001", "--reason", "bad_case"])
    r = run.invoke(cli, ["--db", str(db_path), "verify", str(out)])
    assert r.exit_code == 5 and "reference set changed" in r.output
    r = run.invoke(cli, ["--db", str(db_path), "decisions", "--json"])
    assert [d["decision"] for d in json.loads(r.output)] == ["hold"]
    r = run.invoke(cli, ["--db", str(db_path), "decisions", "--show", "1"])
    assert json.loads(r.output)["schema"] == gate.SCHEMA


# -- exports escape data ---------------------------------------------------------------------------


def test_exports_escape_text_from_data(store, tmp_path, crafted):
    hostile = "evil](javascript:alert(1)) <script>|x| **bold** \x1b]52;c;SGVsbG8=\x07 \x1b[31mred"
    store.conn.execute("UPDATE runs SET name = ? WHERE id = ?", (hostile, crafted[1]))
    body = rule("regressions", "max = 0").replace('owner = "team"', 'owner = "<b>team</b> | x"')
    rec = gate.evaluate(
        store, gate.load_policy(policy_file(tmp_path, body)), crafted[0], crafted[1], **FIXED
    )
    md = exporters.to_markdown(rec)
    assert "\x1b" not in md and "\x07" not in md
    assert "<script>" not in md and "](javascript:" not in md and "\\<b\\>team\\</b\\> \\| x" in md
    assert "␛" in md  # the escape is shown, not sent
    xml = exporters.to_junit(rec)
    assert "\x1b" not in xml and "<b>" not in xml
    assert ET.fromstring(xml).find(".//failure").text.endswith("(owner <b>team</b> | x)")
