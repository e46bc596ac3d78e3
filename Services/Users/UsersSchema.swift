import KnotDatabase

/// The users service's own schema: people (and later teams) and their state.
enum UsersSchema {
    static let migrations = MigrationRunner(
        schema: "users",
        migrations: [
            Migration(
                1, "users",
                [
                    """
                    CREATE TABLE users.users (
                        id uuid PRIMARY KEY,
                        username text NOT NULL UNIQUE,
                        email text NOT NULL,
                        full_name text NOT NULL DEFAULT '',
                        active boolean NOT NULL DEFAULT false,
                        admin boolean NOT NULL DEFAULT false,
                        created_at timestamptz NOT NULL DEFAULT now(),
                        last_login timestamptz)
                    """,
                    "CREATE UNIQUE INDEX users_email_key ON users.users (lower(email))",
                ]),
            Migration(
                2, "audit log",
                [
                    """
                    CREATE TABLE users.audit (
                        id bigserial PRIMARY KEY,
                        at timestamptz NOT NULL DEFAULT now(),
                        actor text NOT NULL,
                        action text NOT NULL,
                        subject text NOT NULL DEFAULT '',
                        outcome text NOT NULL DEFAULT 'ok',
                        detail text NOT NULL DEFAULT '')
                    """,
                    "CREATE INDEX audit_actor ON users.audit (actor, at DESC)",
                    "CREATE INDEX audit_subject ON users.audit (subject, at DESC)",
                ]),
            Migration(
                3, "teams, memberships, messages, the state of each space",
                [
                    // A team is a profile like a person (its own namespace and folder), so names never clash.
                    "ALTER TABLE users.users ADD COLUMN kind text NOT NULL DEFAULT 'person' CHECK (kind IN ('person', 'team'))",
                    "DROP INDEX users.users_email_key",
                    "CREATE UNIQUE INDEX users_email_key ON users.users (lower(email)) WHERE kind = 'person'",
                    // Whether the user's space in the runtime matches what it should be.
                    "ALTER TABLE users.users ADD COLUMN space_state text NOT NULL DEFAULT 'none'",
                    "ALTER TABLE users.users ADD COLUMN space_detail text NOT NULL DEFAULT ''",
                    "ALTER TABLE users.users ADD COLUMN space_checked_at timestamptz",
                    """
                    CREATE TABLE users.memberships (
                        team_id uuid NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
                        user_id uuid NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
                        role text NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
                        added_at timestamptz NOT NULL DEFAULT now(),
                        PRIMARY KEY (team_id, user_id))
                    """,
                    "CREATE INDEX memberships_user ON users.memberships (user_id)",
                    """
                    CREATE TABLE users.messages (
                        id bigserial PRIMARY KEY,
                        user_id uuid NOT NULL REFERENCES users.users (id) ON DELETE CASCADE,
                        kind text NOT NULL,
                        text text NOT NULL,
                        created_at timestamptz NOT NULL DEFAULT now(),
                        read_at timestamptz)
                    """,
                    "CREATE INDEX messages_user ON users.messages (user_id, created_at DESC)",
                ]),
        ])
}
