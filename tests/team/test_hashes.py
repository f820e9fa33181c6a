"""The project's taxonomy and gate policy hashes, compared between the team store and each
member's store: a difference is said by `team status`, `evaltui sync` and the app's team
line, and a pulled finding of a class this store's taxonomy lacks is not folded (it waits,
said on stderr at every sync) until the team's taxonomy is imported here."""

from __future__ import annotations

import hashlib
from pathlib import Path

from click.testing import CliRunner

from evaltui.cli import cli
from evaltui.gate import history
from evaltui.review import taxonomy, triage
from evaltui.team import hashes, member
from evaltui.team.live import LinkState

from .conftest import Team
from .stores import make_locals

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
EXTRA = '\n[[class]]\nkey = "team_only"\nname = "Team only"\ndescription = "x"\nowner = "qa"\n'


def team_taxonomy(folder: Path) -> Path:
    path = folder / "team-taxonomy.toml"
    path.write_text(taxonomy.to_toml(taxonomy.default_taxonomy()) + EXTRA, encoding="utf-8")
    return path


def run(*args: str, db: Path):
    return CliRunner().invoke(cli, ["--db", str(db), *args], env={"EVALTUI_REVIEWER": "bo"})


def test_a_taxonomy_not_the_teams_is_said_and_its_unknown_classes_are_not_folded(
    team: Team, tmp_path
):
    team.init()
    tax_file = team_taxonomy(tmp_path)
    policy = FIXTURES / "policies" / "grounded.toml"
    got = run("team", "set-project", "--project", "p", "--taxonomy", str(tax_file),
              "--policy", str(policy), "--url", team.dsn("team_admin"), db=tmp_path / "x.db")  # fmt: skip
    assert got.exit_code == 0, got.output
    team_tax = taxonomy.parse_toml(tax_file).sha256
    assert f"taxonomy {team_tax}" in got.output
    assert hashlib.sha256(policy.read_bytes()).hexdigest() in got.output

    ana, bo = make_locals(team, tmp_path, [("ana", "reviewer"), ("bo", "reviewer")])
    with ana.store() as store:
        taxonomy.save(store, taxonomy.parse_toml(tax_file))
        history.set_policy_path(store, str(policy))
        team_only = taxonomy.load(store).get("team_only")
    b, c = ana.ids()
    with ana.store() as store:
        triage.label(store, b, c, ana.case(1), failure_class=team_only, reviewer="ana")
    ana.label(2, 0)
    first = ana.sync()
    assert first.mismatch == [] and first.pushed == 2  # ana's store is the team's

    result = bo.sync()  # bo: the built-in taxonomy, no policy file
    assert [m.split(":")[0] for m in result.mismatch] == ["taxonomy", "gate policy"]
    assert f"the team's is sha256 {team_tax[:12]}, this store's (version 1)" in result.mismatch[0]
    assert "this store has no gate policy file set" in result.mismatch[1]
    assert result.outcome.statuses == {"folded": 1, "waiting": 1}
    assert dict(result.outcome.not_in_taxonomy) == {"team_only": 1}
    assert "team_only" not in {f[2] for f in bo.state()["findings"]}
    with bo.store() as store:
        status = member.status(store, team.connect("bo"))
    assert [m.split(":")[0] for m in status["server"]["mismatch"]] == ["taxonomy", "gate policy"]
    assert status["last_sync"]["mismatch"] == result.mismatch
    (waiting,) = status["waiting_for"]
    assert "the class 'team_only' is not in this store's taxonomy (version 1)" in waiting["reason"]
    shown = LinkState("p", "connected", 0, mismatch=hashes.short(result.mismatch)).text()
    assert (
        shown == "team p · connected · pending 0 · taxonomy and gate policy differ from the team's"
    )

    # loudly, at every sync on the command line; the status says it too
    synced = run("sync", db=bo.db)
    assert synced.exit_code == 0
    assert "Warning: taxonomy: the team's is sha256" in synced.stderr
    assert "Warning: 1 finding(s) of the class 'team_only' not folded" in synced.stderr
    said = run("team", "status", db=bo.db)
    assert "Warning: taxonomy: the team's is sha256" in said.output

    # bo imports the team's taxonomy and uses its policy: folded, nothing differs
    with bo.store() as store:
        taxonomy.save(store, taxonomy.parse_toml(tax_file))
        history.set_policy_path(store, str(policy))
    after = bo.sync()
    assert after.mismatch == [] and after.outcome.statuses == {"folded": 1}
    assert ana.state() == bo.state()
