import KnotModels
import NIOHTTP1

/// Which headers cross the edge, both ways. Hop-by-hop headers never do;
/// identity headers only when the edge itself set them; Knot's session
/// cookie never reaches a service; framing is always the edge's own, never
/// copied, so no disagreement about where a body ends can reach an upstream.
enum HeaderPolicy {
    /// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus framing.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te",
        "trailer", "transfer-encoding", "upgrade", "host", "content-length", "http2-settings", "expect",
    ]

    /// Headers only Knot sets, or that some service might take as proof of
    /// identity; whatever a client sends under these names is dropped.
    static func isKnotHeader(_ name: String) -> Bool {
        name.hasPrefix("knot-") || name.hasPrefix("x-knot-") || name.hasPrefix("x-forwarded-") || name.hasPrefix("x-auth-request-")
            || name == "forwarded" || name == "x-real-ip" || name == "x-request-id" || name == "traceparent" || name == "tracestate"
            || name == "remote-user" || name == "x-remote-user" || name == "x-user" || name == "x-email"
    }

    /// Cookies a user service never sees: the session, and identity's CSRF cookie.
    static let serviceHiddenCookies = [SessionCookie.name, "knot_csrf"]
    static let apiHiddenCookies = [SessionCookie.name]

    struct Forwarding {
        var clientAddress: String?
        var requestID: String
        var traceparent: String
        var upgrade: String?
    }

    /// The head sent upstream: always HTTP/1.1, with the body framed as the
    /// edge will send it (`bodyLength` nil means chunked, 0 means none).
    static func upstreamHead(
        for head: HTTPRequestHead, path: String, destination: Destination, forwarding: Forwarding, bodyLength: Int64?
    ) -> HTTPRequestHead {
        let connectionTokens = connectionTokens(head.headers)
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 8)
        if let authority = head.headers.first(name: "host") { headers.add(name: "Host", value: authority) }
        for (name, value) in head.headers {
            let lowered = name.lowercased()
            if hopByHop.contains(lowered) || isKnotHeader(lowered) || connectionTokens.contains(lowered) { continue }
            switch (lowered, destination.hop) {
            case ("authorization", .api), ("authorization", .publicFiles):
                continue  // Knot's APIs learn who calls from the assertion; a token must not travel further.
            case ("cookie", .api):
                if let kept = withoutCookies(value, hidden: apiHiddenCookies) { headers.add(name: name, value: kept) }
            case ("cookie", .service), ("cookie", .publicFiles):
                if let kept = withoutCookies(value, hidden: serviceHiddenCookies) { headers.add(name: name, value: kept) }
            default:
                headers.add(name: name, value: value)
            }
        }
        if let address = forwarding.clientAddress { headers.add(name: "X-Forwarded-For", value: address) }
        headers.add(name: "X-Forwarded-Proto", value: "https")
        headers.add(name: "X-Forwarded-Host", value: destination.publicHost)
        headers.add(name: KnotHeader.requestID, value: forwarding.requestID)
        headers.add(name: KnotHeader.traceparent, value: forwarding.traceparent)
        switch destination.hop {
        case .api(let assertion):
            headers.add(name: KnotHeader.assertion, value: assertion)
        case .service(let user?, let email):
            headers.add(name: "X-Forwarded-User", value: user)
            headers.add(name: KnotHeader.user, value: user)
            if let email { headers.add(name: "X-Forwarded-Email", value: email) }
        case .service(nil, _), .identity, .publicFiles:
            break
        }
        if let upgrade = forwarding.upgrade {
            headers.add(name: "Connection", value: "Upgrade")
            headers.add(name: "Upgrade", value: upgrade)
        }
        if let bodyLength {
            if bodyLength > 0 || head.method.expectsBody { headers.add(name: "Content-Length", value: String(bodyLength)) }
        } else {
            headers.add(name: "Transfer-Encoding", value: "chunked")
        }
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: path, headers: headers)
    }

    /// The head sent back to the client: the upstream's, less hop-by-hop
    /// headers. The length stays when the upstream gave one; otherwise the
    /// server encoder frames the body (chunked for HTTP/1.1 clients).
    static func downstreamHead(from answer: HTTPResponseHead, version: HTTPVersion, keepAlive: Bool, switching: Bool) -> HTTPResponseHead {
        let connectionTokens = connectionTokens(answer.headers)
        var headers = HTTPHeaders()
        headers.reserveCapacity(answer.headers.count + 1)
        for (name, value) in answer.headers {
            let lowered = name.lowercased()
            if lowered == "content-length" {
                headers.add(name: name, value: value)
                continue
            }
            if switching && (lowered == "upgrade" || lowered.hasPrefix("sec-websocket-")) {
                headers.add(name: name, value: value)
                continue
            }
            if hopByHop.contains(lowered) || connectionTokens.contains(lowered) { continue }
            headers.add(name: name, value: value)
        }
        if switching {
            headers.add(name: "Connection", value: "Upgrade")
        } else if !keepAlive && version.major == 1 {
            headers.add(name: "Connection", value: "close")
        }
        return HTTPResponseHead(version: version, status: answer.status, headers: headers)
    }

    /// Whether a `Connection` header lists `token` (case-insensitively).
    static func hasConnectionToken(_ headers: HTTPHeaders, _ token: String) -> Bool {
        headers["connection"].contains { $0.split(separator: ",").contains { $0.trimmingSpaces.lowercased() == token } }
    }

    /// Header names a `Connection` header declares hop-by-hop.
    static func connectionTokens(_ headers: HTTPHeaders) -> Set<String> {
        var tokens: Set<String> = []
        for value in headers["connection"] {
            for token in value.split(separator: ",") {
                let name = token.trimmingSpaces.lowercased()
                if !name.isEmpty && name != "close" && name != "keep-alive" && name != "upgrade" { tokens.insert(name) }
            }
        }
        return tokens
    }

    /// The Cookie header minus the named cookies, or nil when nothing is left;
    /// the pairs kept are joined with "; ". One pass over the bytes: every
    /// request to a service or an API carries a Cookie header through here.
    static func withoutCookies(_ header: String, hidden: [String]) -> String? {
        var kept = ""
        var rest = Substring(header)
        while !rest.isEmpty {
            let end = rest.utf8.firstIndex(of: UInt8(ascii: ";")) ?? rest.endIndex
            let pair = rest[..<end].trimmingSpaces
            rest = end == rest.endIndex ? rest[end...] : rest[rest.utf8.index(after: end)...]
            guard !pair.isEmpty else { continue }
            let name = pair[..<(pair.utf8.firstIndex(of: UInt8(ascii: "=")) ?? pair.endIndex)].trimmingSpaces
            if hidden.contains(where: { name.utf8.elementsEqual($0.utf8) }) { continue }
            if !kept.isEmpty { kept += "; " }
            kept += pair
        }
        return kept.isEmpty ? nil : kept
    }

    static func withoutSessionCookie(_ header: String) -> String? { withoutCookies(header, hidden: apiHiddenCookies) }
}

extension HTTPMethod {
    /// Methods whose requests normally carry a body: an empty one is sent as `Content-Length: 0`.
    var expectsBody: Bool { self == .POST || self == .PUT || self == .PATCH }
}

extension Substring {
    /// Without leading and trailing spaces and tabs; by bytes, as header syntax is.
    var trimmingSpaces: Substring {
        let bytes = utf8
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") { start = bytes.index(after: start) }
        while start < end {
            let last = bytes.index(before: end)
            guard bytes[last] == UInt8(ascii: " ") || bytes[last] == UInt8(ascii: "\t") else { break }
            end = last
        }
        return self[start..<end]
    }
}
