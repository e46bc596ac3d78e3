import Foundation
import HTTPTypes
import Hummingbird
import KnotConfig
import KnotDatabase
import KnotModels
import KnotServiceKit
import NIOCore
import ServiceLifecycle

@main
struct EdgeMain {
    static func main() async { await ServiceHost.exitOnFailure(service: "edge", start) }

    static func start() async throws {
        let host = try await ServiceHost.bootstrap(service: "edge")
        let edge = try EdgeSettings()
        let settings = host.settings

        let tlsPaths: (String, String)
        if let certificate = edge.certificatePath, let key = edge.privateKeyPath {
            tlsPaths = (certificate, key)
        } else {
            let local = try LocalCertificates.ensure(folder: settings.dataDirectory + "/tls", domain: settings.domain)
            tlsPaths = (local.certificate, local.privateKey)
        }
        let tls = try TLSContextStore(certificatePath: tlsPaths.0, keyPath: tlsPaths.1, logger: host.logger)

        let routes = RouteTable()
        let launcher = host.client(for: "launcher")
        struct RouteList: Decodable { var routes: [RouteEntry] }
        // The launcher may be restarting when it notifies (it resumes services
        // before it answers), so a fetch is retried for a while before giving up.
        let syncRoutes: @Sendable () async throws -> Void = {
            var delay: Duration = .milliseconds(100)
            let deadline = ContinuousClock.now + .seconds(15)
            while true {
                do {
                    let list = try await launcher.get("/internal/v1/routes", as: RouteList.self)
                    for unusable in routes.replace(with: list.routes) {
                        host.logger.warning("route with an unusable upstream left out", metadata: ["host": "\(unusable.host)", "upstream": "\(unusable.upstream)"])
                    }
                    host.logger.debug("route table loaded", metadata: ["routes": "\(list.routes.count)"])
                    return
                } catch {
                    guard ContinuousClock.now + delay < deadline else { throw error }
                    try await Task.sleep(for: delay)
                    delay = min(delay * 2, .seconds(1))
                }
            }
        }
        let listener = ChannelListener(
            database: host.database, channel: "knot_routes", resync: syncRoutes, onNotify: { _ in try await syncRoutes() })
        // A slow full resync as a backstop; notifications do the real work.
        let backstop = PeriodicTask(interval: .seconds(30)) { try? await syncRoutes() }

        let core = EdgeCore(
            settings: settings, limits: edge.limits, router: try EdgeRouter(settings: settings, limits: edge.limits, routes: routes),
            sessions: SessionCache(identity: host.client(for: "identity")), assets: WebAssets(root: edge.webRoot),
            accessLog: try AccessLog(path: edge.accessLogPath, enabled: edge.accessLog), logger: host.logger)
        let publicHost = settings.listenHost == "127.0.0.1" ? "0.0.0.0" : settings.listenHost
        let server = EdgeServer(
            core: core, tls: tls, host: publicHost, port: edge.httpsPort, group: .singleton)

        let redirect = Router(context: BasicRequestContext.self)
        redirect.get("/healthz") { _, _ in "alive" }
        redirect.add(middleware: RedirectToHTTPSMiddleware(settings: settings))
        let redirectApp = Application(
            router: redirect,
            configuration: .init(address: .hostname(publicHost, port: edge.httpPort), serverName: "knot-edge"),
            logger: host.logger)

        // The operational endpoints stay on their own (internal) port, not on the public listener.
        let opsApp = Application(
            router: host.makeRouter(extraReadiness: [("routes", { routes.isLoaded ? nil : "the route table has not been loaded yet" })]),
            configuration: host.applicationConfiguration(), logger: host.logger)
        // The edge keeps no data of its own: it has no schema to migrate.
        await host.readiness.markMigrated()

        let activityReport = ServiceActivityReport(
            activity: core.activity, launcher: launcher, interval: .seconds(edge.activityReportSeconds), logger: host.logger)
        try await host.run(
            opsApp, background: [listener, backstop, redirectApp, server, activityReport, AccessLogFlush(log: core.accessLog)])
    }
}

/// The plain-HTTP listener does one thing: send people to HTTPS.
struct RedirectToHTTPSMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let settings: KnotSettings

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Only Knot's own names are redirected, so this listener is no open redirect to anywhere else.
        guard let authority = request.head.authority,
            let host = try? RequestCheck.host(ofAuthority: authority),
            host == settings.domain || host.hasSuffix("." + settings.domain)
        else { return Response(status: .badRequest) }
        let target = request.uri.string.hasPrefix("/") ? request.uri.string : "/"
        return Response(status: .permanentRedirect, headers: [.location: settings.publicURL(forHost: host) + target])
    }
}

/// Writes out the last access-log lines when the edge stops.
struct AccessLogFlush: Service {
    let log: AccessLog
    func run() async throws {
        try? await gracefulShutdown()
        log.flush()
    }
}

/// Runs `work` every `interval` until shutdown.
struct PeriodicTask: Service {
    let interval: Duration
    let work: @Sendable () async -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                await work()
            }
        }
    }
}
