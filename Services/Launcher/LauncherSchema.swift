import KnotDatabase

/// The launcher's own schema: services people run and the route table the edge serves.
enum LauncherSchema {
    /// Notified (inside the same transaction) whenever the route table changes.
    static let routesChannel = "knot_routes"
    /// Notified on commit whenever a service is added, changes (its status,
    /// values, version…; not its last activity alone) or goes; the payload is
    /// `{"owner", "name", "op"}` so each launcher replica tells the owner's
    /// open event streams.
    static let servicesChannel = "knot_services"

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
            // Lifecycle: `running` is now `ready`; the live status the supervisor keeps
            // (replicas, restarts, a reason code); the template's version and the
            // rendered spec (so a restart or start runs what was launched, not a newer
            // template); culling (a template's own limits, the last request the edge saw);
            // stopped routes; and a notification on every change for the event streams.
            Migration(
                3, "service lifecycle",
                [
                    "UPDATE launcher.services SET status = 'ready' WHERE status = 'running'",
                    """
                    ALTER TABLE launcher.services
                        ADD COLUMN template_version text NOT NULL DEFAULT '',
                        ADD COLUMN reason text NOT NULL DEFAULT '',
                        ADD COLUMN ready_replicas integer NOT NULL DEFAULT 0,
                        ADD COLUMN desired_replicas integer NOT NULL DEFAULT 0,
                        ADD COLUMN restarts integer NOT NULL DEFAULT 0,
                        ADD COLUMN spec jsonb,
                        ADD COLUMN idle_limit_seconds integer,
                        ADD COLUMN lifetime_limit_seconds integer,
                        ADD COLUMN started_at timestamptz NOT NULL DEFAULT now(),
                        ADD COLUMN last_activity timestamptz
                    """,
                    "ALTER TABLE launcher.routes ADD COLUMN stopped boolean NOT NULL DEFAULT false",
                    """
                    CREATE FUNCTION launcher.notify_service_change() RETURNS trigger LANGUAGE plpgsql AS $$
                    DECLARE
                        changed launcher.services;
                    BEGIN
                        IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - 'last_activity' - 'updated_at')
                            = (to_jsonb(OLD) - 'last_activity' - 'updated_at') THEN
                            RETURN NULL;
                        END IF;
                        IF TG_OP = 'DELETE' THEN changed := OLD; ELSE changed := NEW; END IF;
                        PERFORM pg_notify('knot_services',
                            json_build_object('owner', changed.owner, 'name', changed.name, 'op', lower(TG_OP))::text);
                        RETURN NULL;
                    END
                    $$
                    """,
                    """
                    CREATE TRIGGER services_changed AFTER INSERT OR UPDATE OR DELETE ON launcher.services
                    FOR EACH ROW EXECUTE FUNCTION launcher.notify_service_change()
                    """,
                ]),
        ])
}
