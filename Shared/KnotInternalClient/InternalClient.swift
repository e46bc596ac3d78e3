import AsyncHTTPClient
import Foundation
import HTTPTypes
import KnotAuth
import KnotErrors
import KnotLogging
import KnotModels
import NIOCore
import NIOHTTP1

/// JSON over HTTP to another Knot service's `/internal/v1` API. Every call
/// carries a service token naming the caller and the current request id and
/// trace context; an error answer comes back as the callee's own `KnotError`
/// so a 4xx from deep down reaches the user unchanged.
public struct InternalClient: Sendable {
    public let baseURL: String
    public let target: String
    private let http: HTTPClient
    private let tokens: ServiceTokens
    private let timeout: TimeAmount

    public init(baseURL: String, target: String, http: HTTPClient, tokens: ServiceTokens, timeout: TimeAmount = .seconds(10)) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.target = target
        self.http = http
        self.tokens = tokens
        self.timeout = timeout
    }

    public func get<Response: Decodable>(_ path: String, as: Response.Type = Response.self, assertion: String? = nil) async throws -> Response {
        try await send(.GET, path, body: Optional<Empty>.none, as: Response.self, assertion: assertion)
    }

    public func post<Body: Encodable, Response: Decodable>(
        _ path: String, body: Body, as: Response.Type = Response.self, assertion: String? = nil
    ) async throws -> Response {
        try await send(.POST, path, body: body, as: Response.self, assertion: assertion)
    }

    public func delete(_ path: String, assertion: String? = nil) async throws {
        _ = try await send(.DELETE, path, body: Optional<Empty>.none, as: Empty.self, assertion: assertion)
    }

    public func send<Body: Encodable, Response: Decodable>(
        _ method: HTTPMethod, _ path: String, body: Body?, as: Response.Type, assertion: String?
    ) async throws -> Response {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        request.headers.add(name: KnotHeader.serviceToken, value: try await tokens.token())
        request.headers.add(name: "Accept", value: "application/json")
        if let trace = RequestTrace.current {
            request.headers.add(name: KnotHeader.requestID, value: trace.requestID)
            request.headers.add(name: KnotHeader.traceparent, value: trace.traceparent)
        }
        if let assertion { request.headers.add(name: KnotHeader.assertion, value: assertion) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: try JSONEncoder.knot.encode(body)))
        }

        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: timeout)
        } catch {
            throw KnotError.unavailable("the \(target) service is unreachable")
        }
        let bytes = try await response.body.collect(upTo: 16 * 1024 * 1024)
        let data = Data(buffer: bytes)
        guard (200..<300).contains(response.status.code) else {
            if let envelope = try? JSONDecoder.knot.decode(ErrorEnvelope.self, from: data) {
                throw KnotError(
                    HTTPResponse.Status(code: Int(response.status.code)), code: envelope.error.code,
                    message: envelope.error.message)
            }
            throw KnotError.unavailable("the \(target) service answered \(response.status.code)")
        }
        if Response.self == Empty.self { return Empty() as! Response }
        do {
            return try JSONDecoder.knot.decode(Response.self, from: data)
        } catch {
            throw KnotError.internalError("the \(target) service sent an answer that could not be read")
        }
    }
}

/// A body or answer with nothing in it.
public struct Empty: Codable, Sendable {
    public init() {}
}

extension JSONEncoder {
    /// The encoding every Knot API uses: ISO 8601 dates, stable key order.
    /// One instance, made once: it is consulted for every answer.
    public static let knot: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}

extension JSONDecoder {
    public static var knot: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
