import KnotDatabase

/// Identity's own schema: credentials, browser sessions, signing keys.
enum IdentitySchema {
    static let migrations = MigrationRunner(
        schema: "identity",
        migrations: [
            Migration(
                1, "credentials, sessions, signing keys",
                [
                    """
                    CREATE TABLE identity.credentials (
                        user_id uuid PRIMARY KEY,
                        password_hash text NOT NULL,
                        updated_at timestamptz NOT NULL DEFAULT now())
                    """,
                    """
                    CREATE TABLE identity.sessions (
                        token_hash bytea PRIMARY KEY,
                        user_id uuid NOT NULL,
                        created_at timestamptz NOT NULL DEFAULT now(),
                        expires_at timestamptz NOT NULL,
                        revoked_at timestamptz)
                    """,
                    "CREATE INDEX sessions_user ON identity.sessions (user_id)",
                    """
                    CREATE TABLE identity.signing_keys (
                        kid text PRIMARY KEY,
                        algorithm text NOT NULL,
                        sealed_private_key bytea NOT NULL,
                        created_at timestamptz NOT NULL DEFAULT now(),
                        retired_at timestamptz)
                    """,
                ])
        ])
}
