"""The database is the authorizer: row-level security, forced, on a real PostgreSQL.

Each test writes raw SQL as a member's own login role, so what refuses is the
database, not the client's early checks.
"""

from __future__ import annotations

import psycopg
import pytest

from evaltui.team import TeamError
from evaltui.team.events import TeamEvent, case_subject, comparison_subject, gold_subject

from .conftest import ADMIN, Team

CASE = case_subject("a" * 64, "b" * 64, "suite", "k1")
CASE2 = case_subject("a" * 64, "b" * 64, "suite", "k2")
GOLD = gold_subject("b" * 64, "suite", "k1", 0, "")  # the candidate's result on k1, its verdict
COLS = "hash, project, author, kind, subject, payload, prev, signature, client_at"


def insert(conn, event: TeamEvent) -> None:
    """The event inserted as the connection's role, with no client in between."""
    from evaltui.team.events import canonical_json

    conn.execute(
        f"INSERT INTO evaltui.events ({COLS}) VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s)",
        (event.hash, event.project, event.author, event.kind, event.subject,
         canonical_json(event.payload), event.prev, event.signature, event.client_at),
    )  # fmt: skip


def label(author: str, subject: str = CASE, project: str = "p", **payload) -> TeamEvent:
    return TeamEvent.make(project, author, "label", subject, payload or {"verdict": "accepted"})


def visible(conn, where: str = "true") -> list[tuple[str, str]]:
    return [
        (r[0], r[1])
        for r in conn.execute(
            f"SELECT author, kind FROM evaltui.events WHERE {where} ORDER BY server_seq"
        )
    ]


RLS_REFUSED = "violates row-level security policy"


def test_a_reviewer_cannot_insert_an_event_authored_as_another(team: Team):
    team.init()
    ana, bo = team.member("ana"), team.member("bo")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=RLS_REFUSED):
        insert(ana.conn, label("bo"))
    insert(ana.conn, label("ana"))  # as herself it goes in
    assert team.count() == 1
    assert visible(bo.conn) == [("ana", "label")]
    # the client names the event before the database is asked
    with pytest.raises(TeamError, match=r"written as 'bo', and this login is 'ana'"):
        ana.push([label("bo", CASE2)])


def test_update_delete_and_truncate_are_refused_for_every_role_including_the_owner(team: Team):
    team.init()
    members = {role: team.member(f"m_{role}", role) for role in
               ("reviewer", "adjudicator", "release_owner", "viewer")}  # fmt: skip
    members["reviewer"].push([label("m_reviewer")])
    before = team.su.execute("SELECT hash, payload::text FROM evaltui.events").fetchall()
    conns = {**{r: m.conn for r, m in members.items()}, "owner": team.admin}
    for who, conn in conns.items():
        for statement in (
            'UPDATE evaltui.events SET payload = \'{"verdict": "flaky"}\'',
            "DELETE FROM evaltui.events",
            "TRUNCATE evaltui.events",
            "UPDATE evaltui.run_digests SET reviewer = 'x'",
            "DELETE FROM evaltui.spoken",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            assert team.su.execute("SELECT hash, payload::text FROM evaltui.events").fetchall() == before, (who, statement)  # fmt: skip
    # the owner keeps UPDATE on received_at (the chain's foreign key needs it): refused still
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        team.admin.execute("UPDATE evaltui.events SET received_at = now()")
    # the owner can give itself the privileges back; the trigger still refuses, loudly,
    # even where the forced policies would let the statement match no row at all
    team.admin.execute("GRANT UPDATE, DELETE, TRUNCATE ON evaltui.events TO CURRENT_USER")
    for statement in ("UPDATE evaltui.events SET kind = 'undo'", "DELETE FROM evaltui.events",
                      "TRUNCATE evaltui.events"):  # fmt: skip
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            team.admin.execute(statement)
    assert team.su.execute("SELECT hash, payload::text FROM evaltui.events").fetchall() == before


def test_the_owner_is_bound_by_the_policies_too(team: Team):
    """Forced row-level security: the schema's owner, not a member, reads and writes nothing."""
    team.init()
    team.member("ana").push([label("ana")])
    assert visible(team.admin) == []
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match=RLS_REFUSED):
        insert(team.admin, label(ADMIN))
    # made a member, it writes as its member name only
    owner = team.member(ADMIN)
    owner.push([label(ADMIN)])
    assert visible(team.admin) == [("ana", "label"), (ADMIN, "label")]


def test_a_viewer_inserts_nothing(team: Team):
    team.init()
    viewer = team.member("vi", "viewer")
    for kind, subject in (("label", CASE), ("undo", CASE), ("adjudication", CASE),
                          ("gold", GOLD),
                          ("decision", comparison_subject("a" * 64, "b" * 64))):  # fmt: skip
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            insert(viewer.conn, TeamEvent.make("p", "vi", kind, subject, {}))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        viewer.conn.execute(
            "INSERT INTO evaltui.run_digests (project, run_sha256, reviewer) VALUES ('p', %s, 'vi')",
            ("c" * 64,),
        )
    assert team.count() == 0
    with pytest.raises(TeamError, match="a viewer may write nothing, not label"):
        viewer.push([label("vi")])


@pytest.mark.parametrize(
    "kind, subject, allowed",
    [
        ("adjudication", CASE, {"adjudicator"}),
        ("gold", GOLD, {"adjudicator"}),
        ("decision", comparison_subject("a" * 64, "b" * 64), {"release_owner"}),
        ("label", CASE, {"reviewer", "adjudicator", "release_owner"}),
    ],
)
def test_each_kind_is_written_only_by_the_roles_it_belongs_to(team: Team, kind, subject, allowed):
    """Only adjudicators adjudicate (and write gold answers); only release owners record
    decisions."""
    team.init()
    for role in ("reviewer", "adjudicator", "release_owner", "viewer"):
        member = team.member(f"m_{role}", role)
        event = TeamEvent.make("p", f"m_{role}", kind, subject, {"verdict": "accepted"})
        if role in allowed:
            insert(member.conn, event)
        else:  # a viewer has no INSERT privilege at all; the others meet the policy
            refused = RLS_REFUSED if role != "viewer" else "permission denied"
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match=refused):
                insert(member.conn, event)
    assert team.count() == len(allowed)
    assert {r[0] for r in team.su.execute("SELECT author FROM evaltui.events")} == {
        f"m_{r}" for r in allowed
    }


def test_the_server_alone_sets_the_sequence_and_the_time_received(team: Team):
    team.init()
    ana = team.member("ana")
    e = label("ana")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        ana.conn.execute(
            f"INSERT INTO evaltui.events ({COLS}, server_seq) OVERRIDING SYSTEM VALUE "
            "VALUES (%s, 'p', 'ana', 'label', %s, '{}', NULL, NULL, %s, 0)",
            (e.hash, e.subject, e.client_at),
        )
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        ana.conn.execute(
            f"INSERT INTO evaltui.events ({COLS}, received_at) "
            "VALUES (%s, 'p', 'ana', 'label', %s, '{}', NULL, NULL, %s, '2000-01-01')",
            (e.hash, e.subject, e.client_at),
        )
    assert team.count() == 0


def test_blind_mode_hides_others_verdicts_until_you_label_the_case(team: Team):
    team.init("p", blind=True)
    ana, bo = team.member("ana"), team.member("bo")
    adj, viewer = team.member("adj", "adjudicator"), team.member("vi", "viewer")
    bo_label = label("bo", verdict="real_regression")
    bo.push([bo_label])
    bo.push([label("bo", CASE2)])
    # ana has not labelled k1: she reads none of bo's labels, nor does the viewer
    assert visible(ana.conn) == []
    assert ana.pull(0).events == []
    assert visible(viewer.conn) == []
    # an adjudicator reads everything; bo reads his own
    assert visible(adj.conn) == [("bo", "label"), ("bo", "label")]
    assert len(visible(bo.conn)) == 2
    # ana labels k1: bo's label on k1 (only) becomes readable to her
    ana.push([label("ana", verdict="accepted")])
    assert visible(ana.conn, f"subject = '{CASE}'") == [("bo", "label"), ("ana", "label")]
    assert visible(ana.conn, f"subject = '{CASE2}'") == []
    revealed = ana.pull_subject(CASE)
    assert [e.hash for e in revealed.events] == [bo_label.hash]  # her own she holds already
    assert revealed.refused == []
    # the same project without blind mode shows bo's labels at once
    team.admin.execute("UPDATE evaltui.projects SET blind = false")
    assert len(visible(viewer.conn)) == 3


@pytest.mark.parametrize("blind", [False, True])
def test_gold_answers_are_read_only_by_adjudicators(team: Team, blind: bool):
    """Keyed on the kind, whatever the subject names (a result and a criterion) and
    whether blind review is on; a reviewer who labels the case still reads no gold."""
    team.init(blind=blind)
    adj, adj2 = team.member("adj", "adjudicator"), team.member("adj2", "adjudicator")
    others = [team.member("ana"), team.member("ro", "release_owner"), team.member("vi", "viewer")]
    payload = {"uid": "u" * 32, "answer": "fail", "note": None}
    adj.push([TeamEvent.make("p", "adj", "gold", GOLD, payload)])
    others[0].push([label("ana")])
    assert visible(adj2.conn, "kind = 'gold'") == [("adj", "gold")]
    for member in others:
        assert visible(member.conn, "kind = 'gold'") == []
        assert "gold" not in {e.kind for e in member.pull(0).events}
        assert member.pull_subject(GOLD).events == []


def test_two_projects_in_one_database_do_not_see_each_other(team: Team):
    team.init("a", "b")
    ana = team.member("ana", "adjudicator", project="a")
    cy = team.member("cy", "adjudicator", project="b")
    ana.push([label("ana", project="a")])
    cy.push([label("cy", project="b")])
    ana.record_run("c" * 64, "run-1")
    for conn, mine in ((ana.conn, "a"), (cy.conn, "b")):
        assert {r[0] for r in conn.execute("SELECT project FROM evaltui.events")} == {mine}
        assert [r[0] for r in conn.execute("SELECT project FROM evaltui.projects")] == [mine]
        assert {r[0] for r in conn.execute("SELECT project FROM evaltui.members")} == {mine}
        assert {r[0] for r in conn.execute("SELECT project FROM evaltui.project_members")} == {mine}
        assert {r[0] for r in conn.execute("SELECT project FROM evaltui.spoken")} == {mine}
        assert {r[0] for r in conn.execute("SELECT project FROM evaltui.run_digests")} <= {mine}
    # nor write into the other (as a name that is a member there, or as itself)
    for author in ("cy", "ana"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match=RLS_REFUSED):
            insert(ana.conn, label(author, project="b"))
    assert visible(cy.conn) == [("cy", "label")]
