import KnotDatabase

/// The launcher's own schema: services people run and the route table the edge serves.
enum LauncherSchema {
    /// Notified (inside the same transaction) whenever the route table changes.
    static let routesChannel = "knot_routes"

    static let migrations = MigrationRunner(
        schema: "launcher",
        migrations: [
            Migration(
                1, "services and routes",
                [
                    """
                    CREATE TABLE launcher.services (
                        id uuid PRIMARY KEY,
                        owner text NOT NULL,
                        name text NOT NULL,
                        template text NOT NULL,
                        host text NOT NULL UNIQUE,
                        values jsonb NOT NULL,
                        status text NOT NULL,
                        message text NOT NULL DEFAULT '',
                        created_at timestamptz NOT NULL DEFAULT now(),
                        updated_at timestamptz NOT NULL DEFAULT now(),
                        UNIQUE (owner, name))
                    """,
                    """
                    CREATE TABLE launcher.routes (
                        host text PRIMARY KEY,
                        service_id uuid NOT NULL UNIQUE REFERENCES launcher.services (id) ON DELETE CASCADE,
                        owner text NOT NULL,
                        upstream text NOT NULL)
                    """,
                ]),
            // Karvdash's `auth: no`: the service is public, the edge asks for no sign-on.
            // Kept on the service (fixed at launch, like its values) and copied to its route.
            Migration(
                2, "public services",
                [
                    "ALTER TABLE launcher.services ADD COLUMN public boolean NOT NULL DEFAULT false",
                    "ALTER TABLE launcher.routes ADD COLUMN public boolean NOT NULL DEFAULT false",
                ]),
        ])
}
