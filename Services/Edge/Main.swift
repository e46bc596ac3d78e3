import HTTPTypes
import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdHTTP2
import KnotConfig
import KnotDatabase
import KnotModels
import KnotServiceKit
import NIOCore
import NIOSSL
import ServiceLifecycle

@main
struct EdgeMain {
    static func main() async throws {
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
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(tlsPaths.0).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: tlsPaths.1, format: .pem)))
        tls.minimumTLSVersion = .tlsv12

        let upstreams = HTTPClient(
            eventLoopGroupProvider: .singleton,
            configuration: .init(
                redirectConfiguration: .disallow, timeout: .init(connect: .seconds(2), read: .seconds(Int64(edge.upstreamTimeout))),
                connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64),
                decompression: .disabled))

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
                    routes.replace(with: list.routes)
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

        let router = Router(context: EdgeContext.self)
        router.add(middleware: TraceMiddleware(trustIncoming: false))
        router.add(middleware: JSONErrorMiddleware())
        router.add(
            middleware: EdgeMiddleware(
                settings: settings,
                areas: ["identity": settings.identityURL, "users": settings.usersURL, "launcher": settings.launcherURL, "files": settings.filesURL],
                routes: routes, sessions: SessionCache(identity: host.client(for: "identity")),
                forwarder: Forwarder(client: upstreams, timeout: .seconds(Int64(edge.upstreamTimeout)))))
        router.add(middleware: SecurityHeadersMiddleware())
        router.add(
            middleware: FileMiddleware(
                edge.webRoot, cacheControl: .init([(MediaType(type: .any), [.noCache, .private])]), searchForIndexHtml: true, logger: host.logger))

        let publicApp = Application(
            router: router,
            server: try .http2Upgrade(tlsConfiguration: tls),
            configuration: .init(address: .hostname(settings.listenHost == "127.0.0.1" ? "0.0.0.0" : settings.listenHost, port: edge.httpsPort), serverName: "knot-edge"),
            logger: host.logger)

        let redirect = Router(context: BasicRequestContext.self)
        redirect.get("/healthz") { _, _ in "alive" }
        redirect.add(middleware: RedirectToHTTPSMiddleware(settings: settings))
        let redirectApp = Application(
            router: redirect,
            configuration: .init(address: .hostname(settings.listenHost == "127.0.0.1" ? "0.0.0.0" : settings.listenHost, port: edge.httpPort), serverName: "knot-edge"),
            logger: host.logger)

        // The operational endpoints stay on their own (internal) port, not on the public listener.
        let opsApp = Application(
            router: host.makeRouter(extraReadiness: [("routes", { routes.isLoaded ? nil : "the route table has not been loaded yet" })]),
            configuration: host.applicationConfiguration(), logger: host.logger)
        // The edge keeps no data of its own: it has no schema to migrate.
        await host.readiness.markMigrated()

        try await host.run(publicApp, background: [listener, backstop, redirectApp, opsApp, HTTPClientShutdown(client: upstreams)])
    }
}

/// The plain-HTTP listener does one thing: send people to HTTPS.
struct RedirectToHTTPSMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let settings: KnotSettings

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let host = EdgeMiddleware.host(of: request) else { return Response(status: .badRequest) }
        return Response(status: .permanentRedirect, headers: [.location: settings.publicURL(forHost: host) + request.uri.string])
    }
}

/// Headers every dashboard response carries.
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = EdgeContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.strictTransportSecurity] = "max-age=31536000"
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[.contentSecurityPolicy] = "default-src 'self'; frame-ancestors 'none'"
        return response
    }
}

/// Closes the upstream connection pool when the edge shuts down.
struct HTTPClientShutdown: Service {
    let client: HTTPClient
    func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
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
