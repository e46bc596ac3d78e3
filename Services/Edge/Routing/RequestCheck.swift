import NIOHTTP1

/// The checks every request passes before the edge looks at where it goes.
/// Each failure names its status; nothing here touches a socket.
enum RequestCheck {
    struct Refusal: Error, Equatable {
        var status: HTTPResponseStatus
        var code: String
        var message: String
    }

    /// The host the client asked for (`:authority` in HTTP/2, `Host` in
    /// HTTP/1.1), lowercase, without port or a trailing dot. Exactly one is
    /// required; IP literals and anything with characters no DNS name has are
    /// refused, since no Knot address is one.
    static func host(of head: HTTPRequestHead) throws(Refusal) -> String {
        let values = head.headers["host"]
        guard values.count == 1, let authority = values.first else {
            throw Refusal(status: .badRequest, code: "bad_host", message: "the request must name exactly one host")
        }
        return try host(ofAuthority: authority)
    }

    /// The host of one `host[:port]` value, by the same rules.
    static func host(ofAuthority authority: String) throws(Refusal) -> String {
        guard !authority.isEmpty, authority.utf8.count <= 255 else {
            throw Refusal(status: .badRequest, code: "bad_host", message: "the request must name exactly one host")
        }
        // By bytes: every request passes here, and a host is ASCII or refused.
        var name = Substring(authority)
        if let colon = name.utf8.lastIndex(of: UInt8(ascii: ":")) {
            let port = name.utf8[name.utf8.index(after: colon)...]
            guard !port.isEmpty, port.count <= 5, port.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                throw Refusal(status: .badRequest, code: "bad_host", message: "the host's port is not a number")
            }
            name = name[..<colon]
        }
        if name.utf8.last == UInt8(ascii: ".") { name = name[..<name.utf8.index(before: name.endIndex)] }
        var hasUppercase = false
        guard !name.isEmpty,
            name.utf8.allSatisfy({ c in
                if c >= 0x41 && c <= 0x5A { hasUppercase = true }
                return (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x2E
            })
        else {
            throw Refusal(status: .badRequest, code: "bad_host", message: "the host is not a DNS name")
        }
        if hasUppercase { return name.lowercased() }
        return name.endIndex == authority.endIndex ? authority : String(name)
    }

    /// Origin-form targets only (`/path?query`): an absolute URI could name a
    /// host other than the one routed on, and `*` or authority-form mean nothing here.
    static func target(_ uri: String, maxBytes: Int) throws(Refusal) -> (path: Substring, query: Substring?) {
        guard uri.utf8.count <= maxBytes else {
            throw Refusal(status: .uriTooLong, code: "uri_too_long", message: "the address is longer than \(maxBytes) bytes")
        }
        guard uri.utf8.first == UInt8(ascii: "/") else {
            throw Refusal(status: .badRequest, code: "bad_target", message: "only paths are accepted as request targets")
        }
        let path: Substring
        var query: Substring?
        if let mark = uri.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = uri[..<mark]
            query = uri[uri.utf8.index(after: mark)...]
        } else {
            path = Substring(uri)
        }
        if path.utf8.contains(UInt8(ascii: "#")) || hasDotSegment(path) {
            throw Refusal(status: .badRequest, code: "invalid_path", message: "paths with \".\" or \"..\" segments are not accepted")
        }
        return (path, query)
    }

    /// True when any segment is `.` or `..` once percent-decoded, with `\`
    /// and an encoded `/` counted as separators: no upstream, however it
    /// decodes or normalises, ever gets a path that climbs out of its prefix.
    static func hasDotSegment(_ path: Substring) -> Bool {
        guard path.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "%") }) else { return false }
        let decoded = percentDecoded(path)
        var segment: [UInt8] = []
        for byte in decoded + [UInt8(ascii: "/")] {
            if byte == UInt8(ascii: "/") || byte == UInt8(ascii: "\\") {
                if segment == [0x2E] || segment == [0x2E, 0x2E] { return true }
                segment.removeAll(keepingCapacity: true)
            } else {
                segment.append(byte)
            }
        }
        return false
    }

    static func hasDotSegment(_ path: String) -> Bool { hasDotSegment(Substring(path)) }

    /// Decodes `%XX` repeatedly (so `%252e` counts as `.` too); malformed escapes stay as they are.
    static func percentDecoded(_ text: Substring) -> [UInt8] {
        var bytes = Array(text.utf8)
        for _ in 0..<3 {
            guard bytes.contains(UInt8(ascii: "%")) else { break }
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count)
            var index = 0
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count, let high = hexValue(bytes[index + 1]),
                    let low = hexValue(bytes[index + 2])
                {
                    out.append(high << 4 | low)
                    index += 3
                } else {
                    out.append(bytes[index])
                    index += 1
                }
            }
            if out == bytes { break }
            bytes = out
        }
        return bytes
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }

    /// Smuggling needs two parties to disagree on where a body ends: the edge
    /// accepts exactly one framing, spelled plainly (NIO's parser catches most
    /// of the rest; this is what it lets through), and no CONNECT tunnels.
    static func framing(_ head: HTTPRequestHead) throws(Refusal) {
        let codings = head.headers["transfer-encoding"]
        let oddCoding = !codings.isEmpty && (codings.count > 1 || codings[0].lowercased() != "chunked")
        let lengths = head.headers["content-length"].count
        guard head.method != .CONNECT, !oddCoding, lengths <= 1, codings.isEmpty || lengths == 0 else {
            throw Refusal(status: .badRequest, code: "bad_request", message: "this request's framing is not accepted")
        }
    }

    /// Fields and bytes of the header block (names, values and their separators).
    static func headerBlock(_ head: HTTPRequestHead, limits: EdgeLimits) throws(Refusal) {
        var bytes = head.uri.utf8.count
        var count = 0
        for (name, value) in head.headers {
            bytes += name.utf8.count + value.utf8.count + 4
            count += 1
        }
        guard count <= limits.maxHeaderFields else {
            throw Refusal(
                status: .requestHeaderFieldsTooLarge, code: "too_many_headers", message: "more than \(limits.maxHeaderFields) header fields")
        }
        guard bytes <= limits.maxHeadBytes else {
            throw Refusal(
                status: .requestHeaderFieldsTooLarge, code: "headers_too_large",
                message: "the request's headers are larger than \(limits.maxHeadBytes) bytes")
        }
    }
}
