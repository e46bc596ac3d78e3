import Foundation
import Hummingbird
import HummingbirdTLS
import KnotConfig
import KnotErrors
import KnotServiceKit
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle

/// The admission webhook's own HTTPS listener (the API server only calls
/// webhooks over TLS, and it is the only caller, so it is not on the
/// service's internal port): `POST /admission/v1/mutate-pods` and
/// `POST /admission/v1/validate-pods`, AdmissionReview v1 in and out.
///
/// Failure policy (the webhook configurations ship with the chart; an example
/// is docs/examples/admission-webhooks.yaml):
/// - both hooks `failurePolicy: Fail`, with a `namespaceSelector` on
///   `app.kubernetes.io/managed-by: knot` and `knot.io/user` (only users'
///   namespaces carry both). A webhook that is down therefore stops pod
///   creation in users' namespaces only (controllers retry, so pods appear
///   once it is back), never creates a pod there without its mounts or
///   unchecked, and never touches any other namespace of the cluster, Knot's
///   own included (the users service's own pods must never wait for it);
/// - `timeoutSeconds: 5`, `sideEffects: None` (so dry runs reach it),
///   `admissionReviewVersions: ["v1"]`;
/// - the mutating hook `reinvocationPolicy: IfNeeded`: its patch is
///   idempotent, so it can run again after another webhook adds containers.
struct AdmissionSettings: Sendable {
    var certificatePath: String?
    var privateKeyPath: String?
    var host: String
    var port: Int
    var policy: PodPolicy

    /// `KNOT_WEBHOOK_TLS_CERT` / `KNOT_WEBHOOK_TLS_KEY` (PEM files; the
    /// certificate file may hold the chain), `KNOT_WEBHOOK_HOST` (default
    /// 0.0.0.0: the API server calls in through a Service), `KNOT_WEBHOOK_PORT`
    /// (default 9443), and the policy's `KNOT_WEBHOOK_*`.
    static func fromEnvironment(_ environment: [String: String]) throws -> AdmissionSettings {
        let env = KnotEnvironment(environment)
        let certificate = env.optionalString("KNOT_WEBHOOK_TLS_CERT")
        let key = env.optionalString("KNOT_WEBHOOK_TLS_KEY")
        if (certificate == nil) != (key == nil) {
            throw ConfigurationError(
                key: certificate == nil ? "KNOT_WEBHOOK_TLS_CERT" : "KNOT_WEBHOOK_TLS_KEY",
                problem: "the admission webhook needs both KNOT_WEBHOOK_TLS_CERT and KNOT_WEBHOOK_TLS_KEY")
        }
        return AdmissionSettings(
            certificatePath: certificate, privateKeyPath: key, host: env.string("KNOT_WEBHOOK_HOST", default: "0.0.0.0"),
            port: try env.port("KNOT_WEBHOOK_PORT", default: 9443), policy: try PodPolicy.fromEnvironment(environment))
    }

    /// The server's TLS configuration from the PEM files; nil when none are configured.
    func tlsConfiguration() throws -> TLSConfiguration? {
        guard let certificatePath, let privateKeyPath else { return nil }
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw ConfigurationError(key: "KNOT_WEBHOOK_TLS_CERT", problem: "cannot read a PEM certificate from \(certificatePath)")
        }
        guard !chain.isEmpty else {
            throw ConfigurationError(key: "KNOT_WEBHOOK_TLS_CERT", problem: "\(certificatePath) holds no certificate")
        }
        do {
            key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
        } catch {
            throw ConfigurationError(key: "KNOT_WEBHOOK_TLS_KEY", problem: "cannot read a PEM private key from \(privateKeyPath)")
        }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        return tls
    }
}

enum AdmissionServer {
    static let mutatePath = "/admission/v1/mutate-pods"
    static let validatePath = "/admission/v1/validate-pods"

    /// The webhook listener for the users service's background services, or
    /// nil when no certificate is configured (the local runtime, or a cluster
    /// without the webhook). A configuration that is present but wrong throws.
    static func make(
        host: ServiceHost, store: UserStore, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> (any Service)? {
        let settings = try AdmissionSettings.fromEnvironment(environment)
        guard settings.certificatePath != nil else {
            host.logger.info("admission webhook off: KNOT_WEBHOOK_TLS_CERT is not set")
            return nil
        }
        let webhook = AdmissionWebhook(
            policy: settings.policy, publicURL: host.settings.publicURL, lookup: { try await store.find(username: $0) },
            logger: host.logger)
        return try application(settings: settings, webhook: webhook, logger: host.logger)
    }

    /// The HTTPS application itself (tests call this with a stubbed lookup).
    static func application(
        settings: AdmissionSettings, webhook: AdmissionWebhook, logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) throws -> Application<RouterResponder<BasicRequestContext>> {
        guard let tls = try settings.tlsConfiguration() else {
            throw ConfigurationError(key: "KNOT_WEBHOOK_TLS_CERT", problem: "the admission webhook is served over HTTPS only")
        }
        return Application(
            router: router(webhook),
            server: try .tls(.http1(), tlsConfiguration: tls),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "knot-users-admission"),
            onServerRunning: onServerRunning,
            logger: logger)
    }

    static func router(_ webhook: AdmissionWebhook) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: TraceMiddleware())
        router.add(middleware: JSONErrorMiddleware())
        router.get("/healthz") { _, _ in JSONResponse(.ok, ["status": "alive"]) }
        router.post(RouterPath(mutatePath)) { request, _ in try await answer(request, webhook: webhook, hook: .mutate) }
        router.post(RouterPath(validatePath)) { request, _ in try await answer(request, webhook: webhook, hook: .validate) }
        return router
    }

    static func answer(_ request: Request, webhook: AdmissionWebhook, hook: AdmissionWebhook.Hook) async throws -> Response {
        if let contentType = request.headers[.contentType] {
            let media = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard media == "application/json" else {
                throw KnotError.unsupportedMediaType("expected Content-Type application/json, got \(contentType)")
            }
        }
        let body = try await request.collectBody(limit: AdmissionWebhook.bodyLimit)
        let answer: Data
        do {
            answer = try await webhook.respond(to: Data(buffer: body), hook: hook)
        } catch let error as MalformedReview {
            throw KnotError.badRequest("not an AdmissionReview: \(error.description)", code: "invalid_admission_review")
        }
        return Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(data: answer)))
    }
}
