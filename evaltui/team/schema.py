"""The shared schema, as SQL: tables, group roles, row-level security, triggers.

Everything lives in one PostgreSQL schema (default `evaltui`). The database is the
authorizer: each member connects as their own PostgreSQL role, and the policies
below decide what that role may insert and read. The server is never a trusted
author: clients recompute every event's hash and check its chain (team/events.py).

Run by `admin.init` in one transaction; every statement is idempotent (tables IF NOT
EXISTS, functions and triggers OR REPLACE, policies dropped and made again), so a
second `team init` re-asserts the policies as written here.
"""

from __future__ import annotations

import hashlib
import re

FORMAT = "evaltui-team 1"

ROLES = ("reviewer", "adjudicator", "release_owner", "viewer")

# What each role may insert. The database enforces it (events_insert); the client
# checks it first to name the event.
ROLE_KINDS: dict[str, tuple[str, ...]] = {
    "reviewer": ("label", "undo"),
    "adjudicator": ("label", "undo", "adjudication", "gold", "case_status"),
    "release_owner": ("label", "undo", "decision", "case_status"),
    "viewer": (),
}
KINDS = ("label", "undo", "adjudication", "gold", "decision", "case_status")

# Every kind lives under one subject prefix, so what a member may read is decided per
# (author, subject) stream, and a stream is either wholly visible or not at all: a
# client can always check the chain of what it sees.
KIND_SUBJECT = {
    "label": "case",
    "undo": "case",
    "adjudication": "case",
    "gold": "gold",
    "decision": "comparison",
    "case_status": "casestatus",  # retire, quarantine, restore: `casestatus:[suite, case key]`
}
BLIND_KINDS = ("label", "undo", "adjudication")  # hidden in blind mode until you label

POLICIES = (
    ("projects", "projects_select"),
    ("members", "members_select"),
    ("spoken", "spoken_select"),
    ("events", "events_select"),
    ("events", "events_insert"),
    ("run_digests", "run_digests_select"),
    ("run_digests", "run_digests_insert"),
)
TABLES = ("meta", "projects", "members", "events", "spoken", "run_digests")
VIEWS = ("project_members",)

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")
PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_PAYLOAD_BYTES = 65536
MAX_SUBJECT = 1000
MAX_NAME = 200


def group_role(schema: str, role: str) -> str:
    """The PostgreSQL group role a member of that evaltui role is granted."""
    return f"{schema}_{role}"


def channel(schema: str, project: str) -> str:
    """The NOTIFY channel of a project (an identifier under 63 bytes whatever the name).
    The payload is the newest server sequence number, nothing else: PostgreSQL does not
    restrict who may LISTEN on a channel."""
    return f"{schema}_{hashlib.md5(project.encode('utf-8')).hexdigest()[:20]}"


def _q(items: tuple[str, ...]) -> str:
    return ", ".join(f"'{i}'" for i in items)


def _role_kind_pairs() -> str:
    return ", ".join(f"('{r}', '{k}')" for r, kinds in ROLE_KINDS.items() for k in kinds)


def statements(schema: str) -> list[str]:
    """The schema's statements, in order. `schema` must match SCHEMA_NAME (checked by the
    caller): it is written into the SQL as an identifier."""
    if not SCHEMA_NAME.match(schema):
        raise ValueError(f"not a schema name evaltui makes: {schema!r}")
    s = f'"{schema}"'
    hex64 = "'^[0-9a-f]{64}$'"
    kind_subject = " OR ".join(
        f"(kind = '{k}' AND subject LIKE '{p}:%')" for k, p in KIND_SUBJECT.items()
    )
    member = (
        f"SELECT 1 FROM {s}.members m WHERE m.project = {{t}}.project "
        "AND m.role_name = current_user::text"
    )
    writers = tuple(r for r, kinds in ROLE_KINDS.items() if kinds)
    everyone = [group_role(schema, r) for r in ROLES]
    writer_groups = [group_role(schema, r) for r in writers]
    return [
        f"CREATE SCHEMA IF NOT EXISTS {s}",
        f"REVOKE ALL ON SCHEMA {s} FROM PUBLIC",
        f"CREATE TABLE IF NOT EXISTS {s}.meta (key text PRIMARY KEY, value text NOT NULL)",
        f"INSERT INTO {s}.meta (key, value) VALUES ('format', '{FORMAT}') "
        "ON CONFLICT (key) DO NOTHING",
        f"""CREATE TABLE IF NOT EXISTS {s}.projects (
            project text PRIMARY KEY CHECK (project ~ '{PROJECT_NAME.pattern}'),
            blind boolean NOT NULL DEFAULT false,
            taxonomy_sha256 text CHECK (taxonomy_sha256 ~ {hex64}),
            policy_sha256 text CHECK (policy_sha256 ~ {hex64}),
            created_at timestamptz NOT NULL DEFAULT now())""",
        f"""CREATE TABLE IF NOT EXISTS {s}.members (
            project text NOT NULL REFERENCES {s}.projects,
            role_name text NOT NULL CHECK (length(role_name) BETWEEN 1 AND 63),
            reviewer text NOT NULL CHECK (length(reviewer) BETWEEN 1 AND {MAX_NAME}),
            role text NOT NULL CHECK (role IN ({_q(ROLES)})),
            added_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (project, role_name),
            UNIQUE (project, reviewer))""",
        # added by later versions (a schema made before them gains them at `team init`)
        f"ALTER TABLE {s}.projects ADD COLUMN IF NOT EXISTS signed boolean NOT NULL DEFAULT false",
        f"ALTER TABLE {s}.members ADD COLUMN IF NOT EXISTS signing_key text "
        "CHECK (length(signing_key) <= 20000)",
        f"""CREATE TABLE IF NOT EXISTS {s}.events (
            hash text PRIMARY KEY CHECK (hash ~ {hex64}),
            project text NOT NULL REFERENCES {s}.projects,
            author text NOT NULL CHECK (length(author) BETWEEN 1 AND {MAX_NAME}),
            kind text NOT NULL CHECK (kind IN ({_q(KINDS)})),
            subject text NOT NULL CHECK (length(subject) <= {MAX_SUBJECT}),
            payload jsonb NOT NULL CHECK (octet_length(payload::text) <= {MAX_PAYLOAD_BYTES}),
            prev text CHECK (prev ~ {hex64}),
            signature text CHECK (length(signature) <= 20000),
            client_at text NOT NULL CHECK (length(client_at) <= 64),
            server_seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
            received_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT events_kind_subject CHECK ({kind_subject}),
            CONSTRAINT events_stream UNIQUE (project, author, subject, hash),
            CONSTRAINT events_chain FOREIGN KEY (project, author, subject, prev)
                REFERENCES {s}.events (project, author, subject, hash))""",
        # the kinds as this version knows them (a schema made before gains the new ones)
        f"ALTER TABLE {s}.events DROP CONSTRAINT IF EXISTS events_kind_check, "
        f"ADD CONSTRAINT events_kind_check CHECK (kind IN ({_q(KINDS)})), "
        "DROP CONSTRAINT IF EXISTS events_kind_subject, "
        f"ADD CONSTRAINT events_kind_subject CHECK ({kind_subject})",
        # one successor per link: a chain never forks (two devices, or a forger)
        f"CREATE UNIQUE INDEX IF NOT EXISTS events_one_successor "
        f"ON {s}.events (project, author, subject, coalesce(prev, ''))",
        f"CREATE INDEX IF NOT EXISTS events_by_seq ON {s}.events (project, server_seq)",
        f"CREATE INDEX IF NOT EXISTS events_by_subject ON {s}.events (project, subject)",
        f"""CREATE TABLE IF NOT EXISTS {s}.spoken (
            project text NOT NULL, reviewer text NOT NULL, subject text NOT NULL,
            PRIMARY KEY (project, reviewer, subject))""",
        f"""CREATE TABLE IF NOT EXISTS {s}.run_digests (
            project text NOT NULL REFERENCES {s}.projects,
            run_sha256 text NOT NULL CHECK (run_sha256 ~ {hex64}),
            tool_run_id text CHECK (length(tool_run_id) <= 500),
            reviewer text NOT NULL,
            received_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (project, run_sha256, reviewer))""",
        f"""CREATE OR REPLACE VIEW {s}.project_members WITH (security_barrier) AS
            SELECT m.project, m.reviewer, m.role, m.added_at, m.signing_key FROM {s}.members m
            WHERE m.project IN (SELECT o.project FROM {s}.members o
                                WHERE o.role_name = current_user::text)""",
        # -- triggers: append-only (a belt under the revoked privileges and the policies),
        # commit order = server order, blind-mode bookkeeping, NOTIFY
        f"""CREATE OR REPLACE FUNCTION {s}.append_only() RETURNS trigger LANGUAGE plpgsql
            AS $$ BEGIN
              RAISE EXCEPTION 'evaltui: % on %.% refused: the table is append-only',
                TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
            END $$""",
        *[
            f"CREATE OR REPLACE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
            f"ON {s}.{t} FOR EACH STATEMENT EXECUTE FUNCTION {s}.append_only()"
            for t in ("events", "spoken", "run_digests")
        ],
        # Every insert into events waits for the one before it to commit: the identity
        # values are handed out in commit order, so `server_seq > cursor` never skips a
        # row that commits late.
        f"""CREATE OR REPLACE FUNCTION {s}.in_commit_order() RETURNS trigger LANGUAGE plpgsql
            AS $$ BEGIN
              PERFORM pg_advisory_xact_lock(hashtext('evaltui-team:{schema}'));
              RETURN NULL;
            END $$""",
        f"CREATE OR REPLACE TRIGGER events_in_commit_order BEFORE INSERT ON {s}.events "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {s}.in_commit_order()",
        f"""CREATE OR REPLACE FUNCTION {s}.after_insert() RETURNS trigger LANGUAGE plpgsql
            SECURITY DEFINER SET search_path = pg_catalog, pg_temp
            AS $$ DECLARE r record; BEGIN
              INSERT INTO {s}.spoken (project, reviewer, subject)
                SELECT DISTINCT n.project, n.author, n.subject FROM new_rows n
                WHERE n.kind = 'label' ON CONFLICT DO NOTHING;
              FOR r IN SELECT n.project, max(n.server_seq) AS seq FROM new_rows n
                       GROUP BY n.project LOOP
                PERFORM pg_notify('{schema}_' || left(md5(r.project), 20), r.seq::text);
              END LOOP;
              RETURN NULL;
            END $$""",
        f"CREATE OR REPLACE TRIGGER events_after_insert AFTER INSERT ON {s}.events "
        f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {s}.after_insert()",
        f"REVOKE ALL ON FUNCTION {s}.append_only(), {s}.in_commit_order(), {s}.after_insert() "
        "FROM PUBLIC",
        # -- row-level security
        *[f"ALTER TABLE {s}.{t} ENABLE ROW LEVEL SECURITY" for t in TABLES if t != "meta"],
        *[f"ALTER TABLE {s}.{t} FORCE ROW LEVEL SECURITY" for t in ("events", "run_digests")],
        *[f"DROP POLICY IF EXISTS {name} ON {s}.{table}" for table, name in POLICIES],
        f"CREATE POLICY projects_select ON {s}.projects FOR SELECT "
        f"USING (EXISTS ({member.format(t='projects')}))",
        # your own memberships only (the view project_members lists your projects' members)
        f"CREATE POLICY members_select ON {s}.members FOR SELECT "
        "USING (role_name = current_user::text)",
        f"CREATE POLICY spoken_select ON {s}.spoken FOR SELECT "
        f"USING (EXISTS ({member.format(t='spoken')} AND m.reviewer = spoken.reviewer))",
        f"""CREATE POLICY events_insert ON {s}.events FOR INSERT WITH CHECK (EXISTS (
              {member.format(t="events")} AND m.reviewer = events.author
              AND (m.role, events.kind) IN (VALUES {_role_kind_pairs()})))""",
        f"""CREATE POLICY events_select ON {s}.events FOR SELECT USING (EXISTS (
              {member.format(t="events")} AND (
                events.author = m.reviewer
                OR m.role = 'adjudicator'
                OR (events.kind <> 'gold' AND (
                  events.kind NOT IN ({_q(BLIND_KINDS)})
                  OR NOT EXISTS (SELECT 1 FROM {s}.projects p
                                 WHERE p.project = events.project AND p.blind)
                  OR EXISTS (SELECT 1 FROM {s}.spoken o
                             WHERE o.project = events.project AND o.reviewer = m.reviewer
                               AND o.subject = events.subject))))))""",
        f"CREATE POLICY run_digests_select ON {s}.run_digests FOR SELECT "
        f"USING (EXISTS ({member.format(t='run_digests')}))",
        f"""CREATE POLICY run_digests_insert ON {s}.run_digests FOR INSERT WITH CHECK (EXISTS (
              {member.format(t="run_digests")} AND m.reviewer = run_digests.reviewer
              AND m.role <> 'viewer'))""",
        # -- privileges: nobody updates or deletes, the owner included
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {s}.events, {s}.spoken, {s}.run_digests "
        "FROM CURRENT_USER",
        # The chain's foreign key locks the event it links to (FOR KEY SHARE), which
        # PostgreSQL allows only to a role with an UPDATE privilege on some column: the
        # owner keeps it on received_at alone. Its UPDATE still meets the trigger, and the
        # forced policies, which allow no UPDATE at all.
        f"GRANT UPDATE (received_at) ON {s}.events TO CURRENT_USER",
        f"GRANT USAGE ON SCHEMA {s} TO {', '.join(everyone)}",
        f"GRANT SELECT ON {', '.join(f'{s}.{t}' for t in (*TABLES, *VIEWS))} "
        f"TO {', '.join(everyone)}",
        # named columns only: server_seq and received_at are the server's
        f"GRANT INSERT (hash, project, author, kind, subject, payload, prev, signature, "
        f"client_at) ON {s}.events TO {', '.join(writer_groups)}",
        f"GRANT INSERT (project, run_sha256, tool_run_id, reviewer) ON {s}.run_digests "
        f"TO {', '.join(writer_groups)}",
    ]
