import HTTPTypes
import Foundation
import Hummingbird
import KnotErrors
import KnotInternalClient

extension Request {
    /// Reads and decodes a JSON body of at most `limit` bytes. Every way the
    /// body can be wrong becomes a 4xx naming the problem: the wrong media
    /// type, too large, not JSON, a missing field, a value of the wrong type.
    public func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int) async throws -> T {
        if let contentType = headers[.contentType] {
            let media = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard media == "application/json" else {
                throw KnotError.unsupportedMediaType("expected Content-Type application/json, got \(contentType)")
            }
        }
        let collected = try await collectBody(limit: limit)
        guard collected.readableBytes > 0 else {
            throw KnotError.badRequest("the body is empty; a JSON object is expected")
        }
        do {
            return try JSONDecoder.knot.decode(T.self, from: Data(buffer: collected))
        } catch let error as DecodingError {
            throw KnotError.badRequest(Self.describeDecodingError(error), code: "invalid_json")
        } catch let error as KnotError {
            throw error
        } catch {
            throw KnotError.badRequest("the body is not valid JSON", code: "invalid_json")
        }
    }

    /// The whole body, refused with 413 as soon as it is known to exceed `limit`
    /// (from `Content-Length`, or while reading when there is none).
    public func collectBody(limit: Int) async throws -> ByteBuffer {
        if let length = headers[.contentLength].flatMap(Int.init), length > limit {
            throw KnotError.tooLarge("the body is \(length) bytes; at most \(limit) are accepted")
        }
        var collected = ByteBuffer()
        for try await chunk in body {
            guard collected.readableBytes + chunk.readableBytes <= limit else {
                throw KnotError.tooLarge("the body is larger than \(limit) bytes")
            }
            var chunk = chunk
            collected.writeBuffer(&chunk)
        }
        return collected
    }

    public static func describeDecodingError(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            var joined = ""
            for key in keys {
                if let index = key.intValue {
                    joined += "[\(index)]"
                } else {
                    joined += joined.isEmpty ? key.stringValue : "." + key.stringValue
                }
            }
            return joined.isEmpty ? "the body" : "\"\(joined)\""
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing field \(path(context.codingPath + [key]))"
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)) must be \(Self.typeName(type))"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)) must be \(Self.typeName(type)), not null"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "the body is not valid JSON" }
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "the body could not be read"
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        case is Int.Type, is Int64.Type, is Double.Type: return "a number"
        default:
            // Dictionaries are collections too, so they are told apart by name first.
            if String(describing: type).hasPrefix("Dictionary") { return "an object" }
            return type is any Collection.Type ? "an array" : "an object"
        }
    }
}

/// A value whose Codable form is its own JSON, answered with a chosen status.
public struct JSONResponse<Value: Encodable & Sendable>: ResponseGenerator {
    public var status: HTTPResponse.Status
    public var value: Value

    public init(_ status: HTTPResponse.Status = .ok, _ value: Value) {
        self.status = status
        self.value = value
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try makeResponse()
    }

    public func makeResponse() throws -> Response {
        let data = try JSONEncoder.knot.encode(value)
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(data: data)))
    }
}
