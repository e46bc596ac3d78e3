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
                ])
        ])
}
