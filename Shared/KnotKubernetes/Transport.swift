import AsyncHTTPClient
import Foundation
import KnotModels
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// How hard the client tries again. Only answers that say "not now" (429,
/// 5xx) and lost connections are retried, never a 4xx: those will not change.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration
    /// The most a `Retry-After` header may make the client wait.
    public var maxRetryAfter: Duration

    public init(maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(5), maxRetryAfter: Duration = .seconds(30)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }

    public static let standard = RetryPolicy()
    /// A single attempt (named so that it never reads as `Optional.none`).
    public static let once = RetryPolicy(maxAttempts: 1)

    /// Exponential, with jitter so that many clients do not come back in step.
    func delay(afterAttempt attempt: Int, retryAfter: Duration?) -> Duration {
        if let retryAfter { return min(retryAfter, maxRetryAfter) }
        let exponential = baseDelay * (1 << min(attempt, 16))
        let capped = min(exponential, maxDelay)
        return capped * Double.random(in: 0.5...1.0)
    }

    static func isRetryable(status: Int) -> Bool { status == 429 || status == 500 || status == 502 || status == 503 || status == 504 }
}

/// The request as the transport sends it.
struct APIRequest: Sendable {
    var method: HTTPMethod
    var path: String
    var query: [(String, String)] = []
    var body: [UInt8]?
    var contentType: String?
    var accept = "application/json"

    func url(base: String) -> String {
        guard !query.isEmpty else { return base + path }
        let encoded = query.map { key, value in "\(key)=\(value.percentEncodedComponent)" }
        return base + path + "?" + encoded.joined(separator: "&")
    }
}

/// Reads a bearer token from a file, again whenever the file changes (service
/// account tokens are rotated under a running pod).
final class TokenFile: @unchecked Sendable {
    let path: String
    private let lock = NSLock()
    private var cached: (token: String, modified: Date)?

    init(path: String) { self.path = path }

    func token(forceReload: Bool = false) throws -> String {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let modified = attributes?[.modificationDate] as? Date ?? .distantPast
        if !forceReload, let cached = lock.withLock({ self.cached }), cached.modified == modified {
            return cached.token
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KubernetesConfigError("the token file \(path) cannot be read")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw KubernetesConfigError("the token file \(path) is empty") }
        lock.withLock { cached = (token, modified) }
        return token
    }
}

/// One HTTP connection pool to one API server, with authentication, timeouts and retries.
final class Transport: Sendable {
    let configuration: KubernetesConfiguration
    let http: HTTPClient
    let retry: RetryPolicy
    let requestTimeout: Duration
    let logger: Logger
    private let tokenFile: TokenFile?
    /// Largest body the client reads into memory (a list of many objects).
    static let maxBodyBytes = 256 << 20

    init(configuration: KubernetesConfiguration, retry: RetryPolicy, requestTimeout: Duration, logger: Logger) throws {
        self.configuration = configuration
        self.retry = retry
        self.requestTimeout = requestTimeout
        self.logger = logger
        if case .tokenFile(let path) = configuration.credentials {
            tokenFile = TokenFile(path: path)
            _ = try tokenFile?.token()
        } else {
            tokenFile = nil
        }

        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let ca = configuration.certificateAuthorityPEM {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca))
            }
            if case .clientCertificate(let certificate, let key) = configuration.credentials {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificate).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
            }
        } catch {
            throw KubernetesConfigError("\(configuration.source): a certificate or key cannot be read: \(error)")
        }
        if configuration.insecureSkipTLSVerify { tls.certificateVerification = .none }

        var http = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            // No read timeout at the pool: watches and followed logs are quiet for
            // minutes. Each ordinary request has its own deadline instead.
            timeout: .init(connect: .seconds(5), read: nil))
        http.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 16)
        http.decompression = .disabled
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
    }

    func shutdown() async throws { try await http.shutdown() }

    private func authorize(_ request: inout HTTPClientRequest, impersonate: String?, reloadToken: Bool) throws {
        switch configuration.credentials {
        case .token(let token): request.headers.replaceOrAdd(name: "Authorization", value: "Bearer \(token)")
        case .tokenFile: request.headers.replaceOrAdd(name: "Authorization", value: "Bearer \(try tokenFile!.token(forceReload: reloadToken))")
        case .clientCertificate, .none: break
        }
        if let impersonate { request.headers.replaceOrAdd(name: "Impersonate-User", value: impersonate) }
    }

    private func makeRequest(_ api: APIRequest, impersonate: String?, reloadToken: Bool) throws -> HTTPClientRequest {
        var request = HTTPClientRequest(url: api.url(base: configuration.server))
        request.method = api.method
        request.headers.add(name: "Accept", value: api.accept)
        request.headers.add(name: "User-Agent", value: "knot/1 (swift)")
        if let body = api.body {
            request.headers.add(name: "Content-Type", value: api.contentType ?? "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        try authorize(&request, impersonate: impersonate, reloadToken: reloadToken)
        return request
    }

    /// Sends a request and reads the whole answer, retrying what may be retried.
    /// A 4xx or a final 5xx is thrown as `KubernetesAPIError`.
    func perform(_ api: APIRequest, impersonate: String?, timeout: Duration? = nil, retry: RetryPolicy? = nil) async throws -> [UInt8] {
        let retry = retry ?? self.retry
        var attempt = 0
        var reloadedToken = false
        while true {
            attempt += 1
            let last = attempt >= retry.maxAttempts
            let response: HTTPClientResponse
            let body: ByteBuffer
            do {
                let request = try makeRequest(api, impersonate: impersonate, reloadToken: reloadedToken)
                let deadline = NIODeadline.now() + TimeAmount(timeout ?? requestTimeout)
                response = try await http.execute(request, deadline: deadline, logger: nil)
                body = try await response.body.collect(upTo: Self.maxBodyBytes)
            } catch let error as KubernetesConfigError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                guard !last, Self.isRetryable(error) else { throw transportError(error) }
                let delay = retry.delay(afterAttempt: attempt, retryAfter: nil)
                logger.debug("Kubernetes API unreachable; retrying", metadata: ["error": "\(error)", "in": "\(delay)"])
                try await Task.sleep(for: delay)
                continue
            }
            let code = Int(response.status.code)
            if code < 400 { return Array(buffer: body) }
            // A rotated token: read the file again once before giving up.
            if code == 401, tokenFile != nil, !reloadedToken {
                reloadedToken = true
                continue
            }
            if RetryPolicy.isRetryable(status: code), !last {
                let retryAfter = Self.retryAfter(response.headers)
                let delay = retry.delay(afterAttempt: attempt, retryAfter: retryAfter)
                logger.debug("Kubernetes API asked to retry", metadata: ["status": "\(code)", "in": "\(delay)"])
                try await Task.sleep(for: delay)
                continue
            }
            throw Self.apiError(code: code, body: body)
        }
    }

    /// Opens a long-lived streaming request (watch, followed logs). Only getting
    /// the answer's head is retried; the caller reads the body as it comes.
    func stream(_ api: APIRequest, impersonate: String?, deadline: Duration) async throws -> HTTPClientResponse {
        var attempt = 0
        while true {
            attempt += 1
            let last = attempt >= retry.maxAttempts
            let response: HTTPClientResponse
            do {
                let request = try makeRequest(api, impersonate: impersonate, reloadToken: false)
                response = try await http.execute(request, deadline: NIODeadline.now() + TimeAmount(deadline), logger: nil)
            } catch is CancellationError {
                throw CancellationError()
            } catch let error as KubernetesConfigError {
                throw error
            } catch {
                guard !last, Self.isRetryable(error) else { throw transportError(error) }
                try await Task.sleep(for: retry.delay(afterAttempt: attempt, retryAfter: nil))
                continue
            }
            let code = Int(response.status.code)
            if code < 400 { return response }
            let body = (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer()
            if RetryPolicy.isRetryable(status: code), !last {
                let retryAfter = Self.retryAfter(response.headers)
                try await Task.sleep(for: retry.delay(afterAttempt: attempt, retryAfter: retryAfter))
                continue
            }
            throw Self.apiError(code: code, body: body)
        }
    }

    /// `Retry-After` in seconds (the API server never sends the date form).
    static func retryAfter(_ headers: HTTPHeaders) -> Duration? {
        headers.first(name: "Retry-After").flatMap(Int.init).map { Duration.seconds($0) }
    }

    /// The `Status` the server sent, or its text when it sent something else (a proxy's error page).
    static func apiError(code: Int, body: ByteBuffer) -> KubernetesAPIError {
        var status = try? JSONDecoder().decode(APIStatus.self, from: Data(body.readableBytesView))
        if status == nil, body.readableBytes > 0 {
            status = APIStatus(message: String(buffer: body).prefix(300).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        return KubernetesAPIError(code: code, status: status)
    }

    /// Lost connections and timeouts may succeed later; a TLS or configuration problem will not.
    static func isRetryable(_ error: Error) -> Bool {
        if error is NIOSSLError || error is KubernetesConfigError { return false }
        if let error = error as? HTTPClientError {
            if error == .cancelled { return false }
            let name = "\(error)"
            return !["invalidURL", "emptyHost", "unsupportedScheme", "emptyScheme"].contains(where: name.contains)
        }
        return true
    }

    func transportError(_ error: Error) -> Error {
        if error is KubernetesAPIError || error is KubernetesConfigError { return error }
        var reason = "\(error)"
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: reason = "connection timed out"
            case .deadlineExceeded: reason = "no answer in time"
            case .remoteConnectionClosed: reason = "the server closed the connection"
            default: break
            }
        } else if let error = error as? NIOSSLError {
            reason = "TLS failed (\(error)): is the CA right?"
        } else if reason.contains("connectionRefused") || reason.contains("Connection refused") {
            reason = "connection refused"
        }
        return KubernetesTransportError(server: configuration.server, underlying: reason)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
