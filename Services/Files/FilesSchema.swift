import KnotDatabase

/// The files service's schema. Files live on disk; the schema holds what
/// later versions add on top (share links, upload sessions). Version 1 only
/// records the domains so that start-up exercises the same path as the others.
enum FilesSchema {
    static let migrations = MigrationRunner(
        schema: "files",
        migrations: [
            Migration(
                1, "domains",
                [
                    "CREATE TABLE files.domains (name text PRIMARY KEY, description text NOT NULL)",
                    """
                    INSERT INTO files.domains (name, description) VALUES
                    ('private', 'each user''s own folder'), ('shared', 'every active user'), ('admin', 'administrators')
                    """,
                ]),
            Migration(
                2, "resumable uploads",
                [
                    // The bytes live in a hidden file beside the target; its size is the offset.
                    """
                    CREATE TABLE files.uploads (
                        id uuid PRIMARY KEY,
                        owner text NOT NULL,
                        domain text NOT NULL,
                        folder text[] NOT NULL,
                        name text NOT NULL,
                        length bigint NOT NULL CHECK (length >= 0),
                        overwrite boolean NOT NULL,
                        created_at timestamptz NOT NULL DEFAULT now(),
                        touched_at timestamptz NOT NULL DEFAULT now())
                    """,
                    "CREATE INDEX uploads_touched ON files.uploads (touched_at)",
                ]),
            Migration(
                3, "share links",
                [
                    """
                    CREATE TABLE files.shares (
                        id uuid PRIMARY KEY,
                        token_hash bytea NOT NULL UNIQUE,
                        owner text NOT NULL,
                        domain text NOT NULL,
                        path text[] NOT NULL,
                        kind text NOT NULL CHECK (kind IN ('file', 'folder')),
                        created_at timestamptz NOT NULL DEFAULT now(),
                        expires_at timestamptz NOT NULL,
                        revoked_at timestamptz)
                    """,
                    "CREATE INDEX shares_owner ON files.shares (owner)",
                ]),
        ])
}
