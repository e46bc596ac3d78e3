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
        ])
}
