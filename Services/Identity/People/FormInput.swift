import Foundation
import HTTPTypes
import Hummingbird
import KnotErrors
import KnotServiceKit

/// How identity's pages and scripts send input: an HTML form post or JSON,
/// the same fields either way. Forms must carry a CSRF token; JSON needs no
/// token because no cross-site page can send `application/json`.
enum FormInput {
    static func mediaType(_ request: Request) -> String? {
        request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    }

    static func isForm(_ request: Request) -> Bool { mediaType(request) == "application/x-www-form-urlencoded" }

    static func decode<T: Decodable>(_ type: T.Type, _ request: Request, limit: Int) async throws -> T {
        guard isForm(request) else { return try await request.decodeJSON(T.self, limit: limit) }
        let collected = try await request.collectBody(limit: limit)
        do {
            return try URLEncodedFormDecoder().decode(T.self, from: String(buffer: collected))
        } catch let error as DecodingError {
            throw KnotError.badRequest(Request.describeDecodingError(error), code: "invalid_form")
        } catch {
            throw KnotError.badRequest("the form could not be read", code: "invalid_form")
        }
    }

    /// A state-changing request without a form must be JSON, so a cross-site page cannot forge it.
    static func requireJSON(_ request: Request) throws {
        guard mediaType(request) == "application/json" else {
            throw KnotError.unsupportedMediaType("expected Content-Type application/json")
        }
    }

    /// JSON, or no body at all (a bare POST that no cross-site form can send).
    static func requireJSONOrNothing(_ request: Request) throws {
        guard let media = mediaType(request), media != "application/json" else { return }
        throw KnotError.unsupportedMediaType("expected Content-Type application/json or no body, got \(media.prefix(60))")
    }

    /// The client's address as the edge saw it (the edge replaces any
    /// client-sent X-Forwarded-For), or the peer's when called directly.
    static func clientAddress(_ request: Request) -> String? {
        if let forwarded = request.headers[HTTPField.Name("X-Forwarded-For")!] {
            return forwarded.split(separator: ",").last.map { $0.trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }
}
