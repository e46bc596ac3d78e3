import Foundation
import HTTPTypes
import Hummingbird
import KnotErrors
import KnotServiceKit

/// An error as OAuth 2.0 spells it (RFC 6749 5.2):
/// `{"error": "invalid_grant", "error_description": "..."}`.
struct OAuthError: StandardShapedError, CustomStringConvertible {
    let error: String
    let errorDescription: String
    let status: HTTPResponse.Status
    var headers: HTTPFields = [:]

    init(_ error: String, _ description: String, status: HTTPResponse.Status = .badRequest) {
        self.error = error
        self.errorDescription = description
        self.status = status
    }

    var description: String { "\(error): \(errorDescription)" }

    static func invalidRequest(_ why: String) -> OAuthError { OAuthError("invalid_request", why) }
    static func invalidGrant(_ why: String) -> OAuthError { OAuthError("invalid_grant", why) }
    static func invalidScope(_ why: String) -> OAuthError { OAuthError("invalid_scope", why) }
    static func unauthorizedClient(_ why: String) -> OAuthError { OAuthError("unauthorized_client", why) }

    /// 401 with a challenge when the client tried HTTP Basic, as RFC 6749 asks.
    static func invalidClient(_ why: String, basic: Bool) -> OAuthError {
        var error = OAuthError("invalid_client", why, status: .unauthorized)
        if basic { error.headers[.wwwAuthenticate] = "Basic realm=\"knot\", charset=\"UTF-8\"" }
        return error
    }

    /// A bad bearer token at a resource endpoint (RFC 6750 3.1).
    static func invalidToken(_ why: String) -> OAuthError {
        var error = OAuthError("invalid_token", why, status: .unauthorized)
        error.headers[.wwwAuthenticate] = "Bearer error=\"invalid_token\", error_description=\"\(why.replacingOccurrences(of: "\"", with: "'"))\""
        return error
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        fields[.cacheControl] = "no-store"
        fields[HTTPField.Name("Pragma")!] = "no-cache"
        let body = (try? JSONEncoder().encode(["error": error, "error_description": errorDescription])) ?? Data()
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(data: body)))
    }
}

/// `application/x-www-form-urlencoded` parameters as OAuth reads them: every
/// parameter at most once (RFC 6749 3.1), bounded in size and count.
struct FormParameters: Sendable {
    private(set) var values: [String: String] = [:]

    static let maxValueLength = 4096
    static let maxCount = 64

    subscript(_ name: String) -> String? { values[name] }

    init(_ values: [String: String] = [:]) { self.values = values }

    /// Parses an encoded form or query string.
    init(encoded text: Substring) throws(OAuthError) {
        var count = 0
        // Split on bytes: `&` and `=` are ASCII, and Character-wise splitting is slow.
        for pair in text.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            count += 1
            guard count <= Self.maxCount else { throw .invalidRequest("too many parameters") }
            let equals = pair.firstIndex(of: UInt8(ascii: "="))
            let rawName = Substring(pair[pair.startIndex..<(equals ?? pair.endIndex)])
            let rawValue = equals.map { Substring(pair[pair.index(after: $0)..<pair.endIndex]) } ?? ""
            guard let name = Self.decode(rawName), let value = Self.decode(rawValue) else {
                throw .invalidRequest("a parameter is not valid percent-encoded UTF-8")
            }
            guard value.utf8.count <= Self.maxValueLength else { throw .invalidRequest("the parameter \(name.prefix(40)) is too long") }
            // Empty values count as absent (RFC 6749 3.1).
            if value.isEmpty { continue }
            guard values[name] == nil else { throw .invalidRequest("the parameter \(name.prefix(40)) is repeated") }
            values[name] = value
        }
    }

    /// `+` is a space and `%XY` a byte; the result must be valid UTF-8. Done
    /// on bytes: this runs for every token request, and Foundation's version
    /// was a fifth of an introspection's cost.
    static func decode(_ part: Substring) -> String? {
        var bytes = [UInt8]()
        bytes.reserveCapacity(part.utf8.count)
        var iterator = part.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Reads a form body (or nothing, for an empty one) of at most 64 kB.
    static func body(of request: Request) async throws -> FormParameters {
        let media = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        let collected: ByteBuffer
        do {
            collected = try await request.collectBody(limit: 64 * 1024)
        } catch {
            throw OAuthError("invalid_request", "the request body is larger than 64 kB", status: .contentTooLarge)
        }
        if collected.readableBytes == 0 { return FormParameters() }
        guard media == "application/x-www-form-urlencoded" else {
            throw OAuthError("invalid_request", "the body must be application/x-www-form-urlencoded", status: .unsupportedMediaType)
        }
        return try FormParameters(encoded: Substring(String(buffer: collected)))
    }

    /// The query string of a request, with the same rules.
    static func query(of request: Request) throws -> FormParameters {
        try FormParameters(encoded: Substring(request.uri.query ?? ""))
    }

    /// Query parameters and, for a POST, the form body together; a name in both is repeated.
    static func query(andBodyOf request: Request) async throws -> FormParameters {
        var merged = try query(of: request)
        guard request.method == .post else { return merged }
        for (name, value) in try await body(of: request).values {
            guard merged.values[name] == nil else { throw OAuthError.invalidRequest("the parameter \(name.prefix(40)) is repeated") }
            merged.values[name] = value
        }
        return merged
    }
}
