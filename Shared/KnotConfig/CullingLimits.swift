/// How long a launched service may sit idle and how long it may live, in
/// seconds (0: no limit), read from `KNOT_CULL_IDLE_MINUTES` (or, for tests,
/// `KNOT_CULL_IDLE_SECONDS`) and `KNOT_MAX_LIFETIME_HOURS` (or
/// `KNOT_MAX_LIFETIME_SECONDS`). The launcher enforces them; the users service
/// gives the same limits to JupyterHub's idle culler, so one setting governs both.
public struct CullingLimits: Sendable, Equatable {
    public var idleSeconds: Int
    public var lifetimeSeconds: Int

    public init(idleSeconds: Int = 0, lifetimeSeconds: Int = 0) {
        self.idleSeconds = idleSeconds
        self.lifetimeSeconds = lifetimeSeconds
    }

    public static func from(_ environment: [String: String]) throws -> CullingLimits {
        let env = KnotEnvironment(environment)
        func seconds(_ secondsKey: String, or key: String, times unit: Int) throws -> Int {
            let value = env.optionalString(secondsKey) != nil ? try env.int(secondsKey, default: 0) : try env.int(key, default: 0) * unit
            guard value >= 0 else { throw ConfigurationError(key: key, problem: "must be zero (off) or more") }
            return value
        }
        return CullingLimits(
            idleSeconds: try seconds("KNOT_CULL_IDLE_SECONDS", or: "KNOT_CULL_IDLE_MINUTES", times: 60),
            lifetimeSeconds: try seconds("KNOT_MAX_LIFETIME_SECONDS", or: "KNOT_MAX_LIFETIME_HOURS", times: 3600))
    }
}
