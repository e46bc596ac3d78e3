import KnotConfig

/// What only the launcher needs to know, beyond the shared settings.
struct LauncherSettings: Sendable {
    var culling: CullingSettings
    /// How long a start may take before the service counts as failed (with the
    /// reason it was waiting for). Long by default: on a cluster, pulling a
    /// notebook image can take minutes, and meanwhile the status shows why it waits.
    var startTimeoutSeconds: Int
    /// How long a person's merged catalogue is reused before the file domains are read again.
    var catalogueCacheSeconds: Int

    init(environment: [String: String]) throws {
        let env = KnotEnvironment(environment)
        culling = try CullingSettings.from(environment)
        startTimeoutSeconds = try env.int("KNOT_SERVICE_START_TIMEOUT_SECONDS", default: 300)
        catalogueCacheSeconds = try env.int("KNOT_CATALOGUE_CACHE_SECONDS", default: 3)
        for (key, value) in [("KNOT_SERVICE_START_TIMEOUT_SECONDS", startTimeoutSeconds), ("KNOT_CATALOGUE_CACHE_SECONDS", catalogueCacheSeconds)]
        where value < 1 {
            throw ConfigurationError(key: key, problem: "must be at least 1")
        }
    }
}
