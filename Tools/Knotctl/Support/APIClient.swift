import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL

/// The public API through the edge, as one person: every request carries
/// `Authorization: Bearer <personal API token>`; any answer that is not a
/// success becomes a `KnotctlError` with the API's own message and the exit
/// status its HTTP status maps to.
final class APIClient: Sendable {
    let baseURL: String
    let token: String?
    let http: HTTPClient

    /// An answer whose body has been read whole.
    struct Answer: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: Data

        func json() throws -> Any {
            guard !body.isEmpty else { return [String: Any]() }
            do {
                return try JSONSerialization.jsonObject(with: body)
            } catch {
                throw KnotctlError("the API's answer is not JSON (HTTP \(status))")
            }
        }

        func object() throws -> [String: Any] {
            guard let object = try json() as? [String: Any] else { throw KnotctlError("the API's answer is not a JSON object") }
            return object
        }
    }

    init(settings: Settings, requireToken: Bool = true) throws {
        baseURL = try settings.requireURL()
        token = requireToken ? try settings.requireToken() : settings.token
        var configuration = HTTPClient.Configuration()
        var tls = TLSConfiguration.makeClientConfiguration()
        if let caFile = settings.caFile {
            guard FileManager.default.isReadableFile(atPath: caFile) else {
                throw KnotctlError("the CA file \(caFile) cannot be read")
            }
            do {
                tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(caFile))]
            } catch {
                throw KnotctlError("the CA file \(caFile) holds no PEM certificate: \(error)")
            }
        }
        configuration.tlsConfiguration = tls
        configuration.timeout = .init(connect: .seconds(15), read: .seconds(120))
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        // `*.localhost` is loopback by definition (RFC 6761) and browsers treat it so; glibc does not.
        if let host = URLComponents(string: baseURL)?.host?.lowercased(), host.hasSuffix(".localhost") {
            configuration.dnsOverride = [host: "127.0.0.1"]
        }
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    func shutdown() async {
        try? await http.shutdown()
    }

    /// Runs `body` with a client and shuts it down afterwards, whatever happens.
    static func with<T>(_ settings: Settings, requireToken: Bool = true, _ body: (APIClient) async throws -> T) async throws -> T {
        let client = try APIClient(settings: settings, requireToken: requireToken)
        do {
            let result = try await body(client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }

    func request(_ method: HTTPMethod, _ path: String, query: [(String, String)] = []) -> HTTPClientRequest {
        var target = baseURL + path
        if !query.isEmpty {
            var components = URLComponents()
            components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) }
            target += "?" + (components.percentEncodedQuery ?? "")
        }
        var request = HTTPClientRequest(url: target)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "knotctl/\(Knotctl.version)")
        return request
    }

    /// Sends a request and returns the answer's head with its body still to read; not-success answers throw.
    func stream(_ request: HTTPClientRequest, timeout: TimeAmount? = .seconds(120)) async throws -> HTTPClientResponse {
        let response: HTTPClientResponse
        do {
            if let timeout {
                response = try await http.execute(request, timeout: timeout)
            } else {
                response = try await http.execute(request, deadline: .distantFuture)
            }
        } catch let error as KnotctlError {
            throw error
        } catch {
            throw KnotctlError("cannot reach \(baseURL): \(Self.describe(error))")
        }
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            let body = (try? await response.body.collect(upTo: 1 << 20)).map { Data(buffer: $0) } ?? Data()
            throw KnotctlError.fromAPI(status: status, body: body)
        }
        return response
    }

    /// Sends a request and reads the whole answer (at most `limit` bytes).
    func send(_ request: HTTPClientRequest, limit: Int = 64 << 20, timeout: TimeAmount = .seconds(120)) async throws -> Answer {
        let response = try await stream(request, timeout: timeout)
        do {
            let body = try await response.body.collect(upTo: limit)
            return Answer(status: Int(response.status.code), headers: response.headers, body: Data(buffer: body))
        } catch {
            throw KnotctlError("the answer could not be read: \(Self.describe(error))")
        }
    }

    func call(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], json: Any? = nil) async throws -> Answer {
        var request = self.request(method, path, query: query)
        if let json {
            let data = try JSONSerialization.data(withJSONObject: json)
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: data))
        }
        return try await send(request)
    }

    func get(_ path: String, query: [(String, String)] = []) async throws -> Answer { try await call(.GET, path, query: query) }
    func post(_ path: String, _ json: Any? = nil, query: [(String, String)] = []) async throws -> Answer {
        try await call(.POST, path, query: query, json: json ?? [String: Any]())
    }
    func delete(_ path: String, query: [(String, String)] = []) async throws -> Answer { try await call(.DELETE, path, query: query) }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout: return "timed out"
            case .connectTimeout: return "the connection timed out"
            default: return "\(error)"
            }
        }
        if let error = error as? NIOSSLError { return "TLS failed (\(error)); give the CA with --ca-file or KNOT_CA_FILE" }
        if let error = error as? BoringSSLError { return "TLS failed (\(error)); give the CA with --ca-file or KNOT_CA_FILE" }
        let text = "\(error)"
        if text.contains("certificate") || text.contains("handshake") {
            return "TLS failed (\(text)); give the CA with --ca-file or KNOT_CA_FILE"
        }
        return text
    }
}

/// A path segment for the API (service, template, user and team names).
func segment(_ name: String) -> String { RemotePath.encode(name) }
