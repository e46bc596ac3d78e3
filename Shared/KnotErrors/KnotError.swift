import Foundation
import HTTPTypes
import Hummingbird

/// The one error shape every Knot API answers with:
/// `{"error": {"code": "...", "message": "..."}}` and the matching status.
public struct KnotError: Error, HTTPResponseError, CustomStringConvertible {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, code: String, message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        fields[.cacheControl] = "no-store"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(data: body)))
    }

    public var body: Data {
        (try? JSONEncoder().encode(ErrorEnvelope(error: .init(code: code, message: message)))) ?? Data()
    }

    public static func badRequest(_ message: String, code: String = "bad_request") -> KnotError {
        KnotError(.badRequest, code: code, message: message)
    }
    public static func unauthorized(_ message: String = "authentication required") -> KnotError {
        KnotError(.unauthorized, code: "unauthorized", message: message)
    }
    public static func forbidden(_ message: String) -> KnotError {
        KnotError(.forbidden, code: "forbidden", message: message)
    }
    public static func notFound(_ message: String) -> KnotError {
        KnotError(.notFound, code: "not_found", message: message)
    }
    public static func conflict(_ message: String, code: String = "conflict") -> KnotError {
        KnotError(.conflict, code: code, message: message)
    }
    public static func tooLarge(_ message: String) -> KnotError {
        KnotError(.contentTooLarge, code: "too_large", message: message)
    }
    public static func unsupportedMediaType(_ message: String) -> KnotError {
        KnotError(.unsupportedMediaType, code: "unsupported_media_type", message: message)
    }
    public static func unavailable(_ message: String) -> KnotError {
        KnotError(.serviceUnavailable, code: "unavailable", message: message)
    }
    public static func internalError(_ message: String = "internal error") -> KnotError {
        KnotError(.internalServerError, code: "internal", message: message)
    }
}

public struct ErrorEnvelope: Codable, Sendable {
    public struct Detail: Codable, Sendable {
        public var code: String
        public var message: String
    }
    public var error: Detail
}

/// An error that renders its own answer in a shape a standard prescribes
/// (OAuth's `{"error": "...", "error_description": "..."}`, say); the error
/// middleware passes it through instead of reshaping it as a `KnotError`.
public protocol StandardShapedError: HTTPResponseError {}
