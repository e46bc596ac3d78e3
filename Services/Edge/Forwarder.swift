import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import KnotErrors
import KnotLogging
import KnotModels
import NIOCore
import NIOHTTP1

/// Sends a request on to an upstream and streams the answer back, both
/// bodies flowing through without being held whole. It decides which headers
/// cross: hop-by-hop headers never do, Knot's internal headers only when the
/// edge itself set them, and the session cookie never reaches a user service.
struct Forwarder: Sendable {
    let client: HTTPClient
    let timeout: TimeAmount

    static let maxHeadBytes = 32 * 1024

    /// Headers that describe one connection, not the message (RFC 9110 §7.6.1).
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "host",
    ]

    /// Headers only Knot sets; whatever a client sends under these names is dropped.
    static func isKnotHeader(_ name: String) -> Bool {
        name.hasPrefix("knot-") || name.hasPrefix("x-knot-") || name.hasPrefix("x-forwarded-") || name == "forwarded"
            || name == "x-real-ip" || name == "x-request-id" || name == "traceparent" || name == "tracestate"
    }

    struct Identity {
        var assertion: String?
        var username: String?
    }

    func forward(
        _ request: Request, context: EdgeContext, to base: String, publicHost: String, identity: Identity, dropSessionCookie: Bool,
        dropAuthorization: Bool = false
    ) async throws -> Response {
        // AsyncHTTPClient aborts the process on a head it cannot send in one go; Knot refuses big heads first.
        let headBytes = request.headers.reduce(request.uri.string.utf8.count) { $0 + $1.name.rawName.utf8.count + $1.value.utf8.count + 4 }
        guard headBytes <= Self.maxHeadBytes else {
            throw KnotError(HTTPResponse.Status(code: 431), code: "headers_too_large", message: "the request's headers are larger than \(Self.maxHeadBytes) bytes")
        }
        var outgoing = HTTPClientRequest(url: base + request.uri.string)
        outgoing.method = HTTPMethod(rawValue: request.method.rawValue)
        for field in request.headers {
            let name = field.name.canonicalName
            // Framing is set once, from the body handed to the client library, never copied.
            if Self.hopByHop.contains(name) || Self.isKnotHeader(name) || name == "content-length" { continue }
            // Knot's APIs learn who calls from the assertion; a token must not travel further.
            if name == "authorization" && dropAuthorization { continue }
            if name == "cookie" && dropSessionCookie {
                if let kept = Self.withoutSessionCookie(field.value) { outgoing.headers.add(name: "Cookie", value: kept) }
                continue
            }
            outgoing.headers.add(name: field.name.rawName, value: field.value)
        }
        if let address = context.remoteAddress?.ipAddress { outgoing.headers.add(name: "X-Forwarded-For", value: address) }
        outgoing.headers.add(name: "X-Forwarded-Proto", value: "https")
        outgoing.headers.add(name: "X-Forwarded-Host", value: publicHost)
        if let trace = RequestTrace.current {
            outgoing.headers.add(name: KnotHeader.requestID, value: trace.requestID)
            outgoing.headers.add(name: KnotHeader.traceparent, value: trace.traceparent)
        }
        if let assertion = identity.assertion { outgoing.headers.add(name: KnotHeader.assertion, value: assertion) }
        if let username = identity.username { outgoing.headers.add(name: KnotHeader.user, value: username) }

        var relay: BodyRelay?
        if request.method != .get && request.method != .head {
            let length = request.headers[.contentLength].flatMap(Int64.init)
            relay = BodyRelay(request.body)
            outgoing.body = .stream(relay!, length: length.map { .known($0) } ?? .unknown)
        }

        let answer: HTTPClientResponse
        do {
            answer = try await client.execute(outgoing, timeout: timeout)
        } catch {
            await relay?.stop()
            context.logger.warning("upstream failed", metadata: ["upstream": "\(base)", "error": "\(error)"])
            throw KnotError(.badGateway, code: "upstream_unavailable", message: "the service behind \(publicHost) is not answering")
        }
        var headers = HTTPFields()
        for header in answer.headers {
            let name = header.name.lowercased()
            // The body below carries the length; only a HEAD answer, which has no body, keeps the upstream's.
            if Self.hopByHop.contains(name) || (name == "content-length" && request.method != .head) { continue }
            if let fieldName = HTTPField.Name(header.name) { headers.append(HTTPField(name: fieldName, value: header.value)) }
        }
        let length = answer.headers.first(name: "content-length").flatMap(Int.init)
        if request.method == .head { await relay?.stop() }
        let body =
            request.method == .head
            ? ResponseBody()
            : ResponseBody(contentLength: length) { [relay] writer in
                do {
                    for try await chunk in answer.body { try await writer.write(chunk) }
                } catch {
                    await relay?.stop()
                    throw error
                }
                try await writer.finish(nil)
                // The answer is out; whatever the upstream did not read is the server's to drain,
                // once the relay's last read has returned (the client may still be sending).
                await relay?.stop()
            }
        return Response(status: HTTPResponse.Status(code: Int(answer.status.code)), headers: headers, body: body)
    }

    /// The Cookie header minus Knot's session cookie, or nil when nothing is left.
    static func withoutSessionCookie(_ header: String) -> String? {
        let kept = header.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { pair in
            let name = pair.split(separator: "=", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            return !pair.isEmpty && name != SessionCookie.name
        }
        return kept.isEmpty ? nil : kept.joined(separator: "; ")
    }
}
