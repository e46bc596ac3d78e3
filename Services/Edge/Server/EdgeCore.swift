import KnotConfig
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// What every connection of the edge shares: the routing, sign-on cache,
/// dashboard assets, limits and logs. Built once at start-up.
final class EdgeCore: Sendable {
    let settings: KnotSettings
    let limits: EdgeLimits
    let router: EdgeRouter
    let sessions: SessionCache
    let assets: WebAssets
    let accessLog: AccessLog
    let logger: Logger
    /// Last traffic per user-service host, for the launcher's idle culling.
    let activity = ServiceActivity()
    private let pools = NIOLockedValueBox<[ObjectIdentifier: NIOLoopBound<UpstreamPool>]>([:])

    init(settings: KnotSettings, limits: EdgeLimits, router: EdgeRouter, sessions: SessionCache, assets: WebAssets, accessLog: AccessLog, logger: Logger) {
        self.settings = settings
        self.limits = limits
        self.router = router
        self.sessions = sessions
        self.assets = assets
        self.accessLog = accessLog
        self.logger = logger
    }

    /// The upstream pool of the event loop the caller runs on.
    func pool(for eventLoop: EventLoop) -> UpstreamPool {
        let key = ObjectIdentifier(eventLoop)
        if let pool = pools.withLockedValue({ $0[key] }) { return pool.value }
        let pool = UpstreamPool(eventLoop: eventLoop)
        pools.withLockedValue { $0[key] = NIOLoopBound(pool, eventLoop: eventLoop) }
        return pool
    }
}
