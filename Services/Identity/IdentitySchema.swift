import KnotDatabase

/// Identity's own schema: credentials, browser sessions, signing keys, and
/// the OpenID Connect provider's clients, codes, token families, consents,
/// throttling counters and personal API tokens.
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
                ]),
            Migration(
                2, "OpenID Connect provider, session lifetimes, throttling, API tokens",
                [
                    // `id` names a session in tokens (`sid`) without revealing its secret.
                    """
                    ALTER TABLE identity.sessions
                        ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
                        ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now(),
                        ADD COLUMN acting_as uuid
                    """,
                    // A key is published at creation and signs only from `use_after`.
                    "ALTER TABLE identity.signing_keys ADD COLUMN use_after timestamptz NOT NULL DEFAULT now()",
                    """
                    CREATE TABLE identity.clients (
                        client_id text PRIMARY KEY,
                        name text NOT NULL,
                        secret_hash bytea,
                        public boolean NOT NULL,
                        first_party boolean NOT NULL,
                        redirect_uris text[] NOT NULL,
                        post_logout_redirect_uris text[] NOT NULL,
                        grant_types text[] NOT NULL,
                        scopes text[] NOT NULL,
                        access_token_seconds integer,
                        id_token_alg text NOT NULL,
                        introspect_any boolean NOT NULL,
                        knot_claims_in_id_token boolean NOT NULL,
                        configured boolean NOT NULL,
                        created_at timestamptz NOT NULL DEFAULT now(),
                        updated_at timestamptz NOT NULL DEFAULT now())
                    """,
                    // One authorization: every refresh and access token descends from a family.
                    """
                    CREATE TABLE identity.token_families (
                        id uuid PRIMARY KEY,
                        client_id text NOT NULL,
                        user_id uuid,
                        session_id uuid,
                        scope text NOT NULL,
                        offline boolean NOT NULL,
                        auth_time timestamptz NOT NULL,
                        claims text NOT NULL DEFAULT '',
                        created_at timestamptz NOT NULL DEFAULT now(),
                        expires_at timestamptz NOT NULL,
                        revoked_at timestamptz)
                    """,
                    "CREATE INDEX token_families_user ON identity.token_families (user_id)",
                    "CREATE INDEX token_families_session ON identity.token_families (session_id)",
                    """
                    CREATE TABLE identity.codes (
                        code_hash bytea PRIMARY KEY,
                        client_id text NOT NULL,
                        user_id uuid NOT NULL,
                        session_id uuid NOT NULL,
                        redirect_uri text NOT NULL,
                        scope text NOT NULL,
                        nonce text,
                        code_challenge text,
                        auth_time timestamptz NOT NULL,
                        claims text NOT NULL DEFAULT '',
                        family_id uuid NOT NULL,
                        expires_at timestamptz NOT NULL,
                        used_at timestamptz)
                    """,
                    """
                    CREATE TABLE identity.refresh_tokens (
                        token_hash bytea PRIMARY KEY,
                        family_id uuid NOT NULL REFERENCES identity.token_families (id) ON DELETE CASCADE,
                        created_at timestamptz NOT NULL DEFAULT now(),
                        used_at timestamptz)
                    """,
                    "CREATE INDEX refresh_tokens_family ON identity.refresh_tokens (family_id)",
                    """
                    CREATE TABLE identity.revoked_access_tokens (
                        jti text PRIMARY KEY,
                        expires_at timestamptz NOT NULL)
                    """,
                    """
                    CREATE TABLE identity.consents (
                        user_id uuid NOT NULL,
                        client_id text NOT NULL,
                        scopes text[] NOT NULL,
                        granted_at timestamptz NOT NULL DEFAULT now(),
                        PRIMARY KEY (user_id, client_id))
                    """,
                    """
                    CREATE TABLE identity.login_failures (
                        key text PRIMARY KEY,
                        failures integer NOT NULL,
                        last_failure timestamptz NOT NULL)
                    """,
                    """
                    CREATE TABLE identity.api_tokens (
                        id uuid PRIMARY KEY,
                        user_id uuid NOT NULL,
                        name text NOT NULL,
                        scope text NOT NULL,
                        token_hash bytea NOT NULL UNIQUE,
                        created_at timestamptz NOT NULL DEFAULT now(),
                        expires_at timestamptz NOT NULL,
                        last_used_at timestamptz,
                        revoked_at timestamptz)
                    """,
                    "CREATE INDEX api_tokens_user ON identity.api_tokens (user_id)",
                ]),
            Migration(
                3, "accounts at an upstream provider",
                [
                    """
                    CREATE TABLE identity.upstream_links (
                        issuer text NOT NULL,
                        subject text NOT NULL,
                        user_id uuid NOT NULL,
                        created_at timestamptz NOT NULL DEFAULT now(),
                        PRIMARY KEY (issuer, subject))
                    """
                ]),
        ])
}
