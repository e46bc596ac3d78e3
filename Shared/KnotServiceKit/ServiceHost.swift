import HTTPTypes
import AsyncHTTPClient
import Foundation
import Hummingbird
import JWTKit
import KnotAuth
import KnotConfig
import KnotDatabase
import KnotErrors
import KnotInternalClient
import KnotLogging
import Logging
import Metrics
import NIOConcurrencyHelpers
import Prometheus
import ServiceLifecycle

/// Everything a Knot service is made of besides its own routes: settings,
/// logging, metrics, its database and schema, service tokens, clients for the
/// other services, and the health, readiness and metrics endpoints.
public struct ServiceHost: Sendable {
    public let settings: KnotSettings
    public let logger: Logger
    public let database: Database
    public let tokens: ServiceTokens
    public let http: HTTPClient
    public let readiness: Readiness
    public let metrics: PrometheusCollectorRegistry
    /// Checks identity assertions against identity's published keys; one per process, so one JWKS cache.
    public let assertionVerifier: AssertionVerifier

    /// Runs a service's start-up and life. An error that ends it (a bad
    /// setting, a port already taken) is reported as one critical log line and
    /// exit status 1, not as Swift's crash report for an error thrown out of `main`.
    public static func exitOnFailure(service: String, _ start: () async throws -> Void) async {
        do {
            try await start()
        } catch {
            Logger(label: "knot.\(service)").critical("stopped", metadata: ["error": "\(String(reflecting: error))"])
            exit(1)
        }
    }

    /// Sets up a service from the environment. Call once per process.
    public static func bootstrap(
        service: String, environment: KnotEnvironment = KnotEnvironment(), logToStandardError: Bool = false
    ) async throws -> ServiceHost {
        let settings = try KnotSettings(service: service, environment: environment)
        KnotLogging.bootstrap(service: service, level: settings.logLevel, toStandardError: logToStandardError)
        return await ServiceHost(settings: settings)
    }

    public init(settings: KnotSettings) async {
        self.settings = settings
        var logger = Logger(label: "knot.\(settings.serviceName)")
        logger.logLevel = Logger.Level(rawValue: settings.logLevel) ?? .info
        self.logger = logger
        self.metrics = MetricsBootstrap.registry()
        self.database = Database(settings: settings.database, logger: logger)
        self.tokens = await ServiceTokens(secret: settings.internalSecret, service: settings.serviceName)
        self.http = HTTPClient.shared
        self.readiness = Readiness()
        let identity = InternalClient(baseURL: settings.identityURL, target: "identity", http: http, tokens: tokens)
        self.assertionVerifier = AssertionVerifier { try await identity.get("/internal/v1/jwks", as: JWKS.self) }
    }

    /// A client for another service's internal API.
    public func client(for target: String) -> InternalClient {
        let base: String
        switch target {
        case "identity": base = settings.identityURL
        case "users": base = settings.usersURL
        case "launcher": base = settings.launcherURL
        case "files": base = settings.filesURL
        default: preconditionFailure("unknown service \(target)")
        }
        return InternalClient(baseURL: base, target: target, http: http, tokens: tokens)
    }

    /// A router with Knot's middleware chain and the operational endpoints.
    public func makeRouter(extraReadiness: [(String, ReadinessCheck)] = []) -> Router<KnotRequestContext> {
        let router = Router(context: KnotRequestContext.self)
        router.add(middleware: TraceMiddleware())
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: JSONErrorMiddleware())
        addOperationalRoutes(to: router, extraReadiness: extraReadiness)
        return router
    }

    /// A group of public routes: answered only after start-up, and only with a valid identity assertion.
    public func userAPI(_ router: Router<KnotRequestContext>, _ path: RouterPath) -> RouterGroup<KnotRequestContext> {
        router.group(path)
            .add(middleware: ReadyGateMiddleware(readiness: readiness))
            .add(middleware: UserAuthMiddleware(verifier: assertionVerifier))
    }

    /// A group of internal routes: only for other Knot services (optionally only some of them).
    public func internalAPI(
        _ router: Router<KnotRequestContext>, _ path: RouterPath, allowed: Set<String>? = nil
    ) -> RouterGroup<KnotRequestContext> {
        router.group(path)
            .add(middleware: ReadyGateMiddleware(readiness: readiness))
            .add(middleware: ServiceAuthMiddleware(tokens: tokens, allowed: allowed))
    }

    /// The service's HTTP application on its configured address.
    public func application(_ router: Router<KnotRequestContext>) -> some ApplicationProtocol {
        Application(router: router, configuration: applicationConfiguration(), logger: logger)
    }

    public func addOperationalRoutes<Context: RequestContext>(
        to router: Router<Context>, extraReadiness: [(String, ReadinessCheck)] = []
    ) {
        let database = self.database
        let readiness = self.readiness
        let metrics = self.metrics
        router.get("/healthz") { _, _ in JSONResponse(.ok, ["status": "alive"]) }
        router.get("/readyz") { _, _ -> JSONResponse<[String: String]> in
            var checks: [String: String] = [:]
            checks["migrations"] = await readiness.isMigrated ? "ok" : "pending"
            checks["database"] = await database.isReachable() ? "ok" : "unreachable"
            for (name, check) in extraReadiness {
                checks[name] = await check() ?? "ok"
            }
            let ready = checks.values.allSatisfy { $0 == "ok" }
            checks["status"] = ready ? "ready" : "not ready"
            return JSONResponse(ready ? .ok : .serviceUnavailable, checks)
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.emitToBuffer())))
        }
    }

    /// Applies the service's migrations (retrying while the database is away),
    /// then marks the service ready. Runs beside the server so that `/healthz`
    /// answers from the first moment and `/readyz` tells the truth.
    public func migrationService(_ runner: MigrationRunner, then: (@Sendable () async throws -> Void)? = nil) -> some Service {
        MigrationService(runner: runner, database: database, readiness: readiness, logger: logger, then: then)
    }

    /// Runs the HTTP application and the given background services until
    /// SIGTERM or SIGINT, then shuts everything down gracefully.
    public func run(_ application: some Service, background: [any Service]) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: [database.client as any Service] + background + [application],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }

    public func applicationConfiguration() -> ApplicationConfiguration {
        ApplicationConfiguration(
            address: .hostname(settings.listenHost, port: settings.listenPort), serverName: "knot-\(settings.serviceName)")
    }
}

/// One more thing `/readyz` checks: nil when fine, else what is wrong, in words.
public typealias ReadinessCheck = @Sendable () async -> String?

/// What `/readyz` reports beyond the database: whether this replica finished start-up.
public actor Readiness {
    public private(set) var isMigrated = false
    public init() {}
    public func markMigrated() { isMigrated = true }
}

struct MigrationService: Service {
    let runner: MigrationRunner
    let database: Database
    let readiness: Readiness
    let logger: Logger
    let then: (@Sendable () async throws -> Void)?

    func run() async throws {
        var delay: Duration = .milliseconds(250)
        while !Task.isCancelled {
            do {
                try await runner.run(on: database)
                try await then?()
                await readiness.markMigrated()
                logger.info("schema up to date", metadata: ["schema": "\(runner.schema)"])
                break
            } catch {
                logger.warning("start-up step failed; retrying", metadata: ["error": "\(String(reflecting: error))"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
        // A service in a ServiceGroup must not return early, or the group ends.
        try await gracefulShutdown()
    }
}

/// Metrics can be bootstrapped once per process; tests build several hosts.
enum MetricsBootstrap {
    private static let shared = NIOLockedValueBox<PrometheusCollectorRegistry?>(nil)

    static func registry() -> PrometheusCollectorRegistry {
        shared.withLockedValue { existing in
            if let existing { return existing }
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            existing = registry
            return registry
        }
    }
}

/// Only requests after start-up reach handlers that touch the schema.
public struct ReadyGateMiddleware<Context: RequestContext>: RouterMiddleware {
    let readiness: Readiness
    public init(readiness: Readiness) { self.readiness = readiness }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard await readiness.isMigrated else {
            throw KnotError(.serviceUnavailable, code: "starting", message: "the service is starting; try again shortly", headers: [.retryAfter: "1"])
        }
        return try await next(request, context)
    }
}
