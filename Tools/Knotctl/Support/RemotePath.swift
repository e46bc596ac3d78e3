/// A path in Knot's files: `DOMAIN/PATH`, where DOMAIN is `private`, `shared`
/// or `admin` (a leading `/` is allowed: `/shared/data.csv`).
struct RemotePath: Equatable, Sendable {
    var domain: String
    /// Path segments below the domain's root (empty: the root itself).
    var segments: [String]

    static let domains = ["private", "shared", "admin"]

    init(domain: String, segments: [String]) {
        self.domain = domain
        self.segments = segments
    }

    init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard let first = parts.first, Self.domains.contains(first) else {
            throw KnotctlError.usage("a remote path starts with its domain: private/…, shared/… or admin/… (got \"\(text.prefix(100))\")")
        }
        for segment in parts.dropFirst() where segment == "." || segment == ".." {
            throw KnotctlError.usage("a remote path may not contain . or .. (got \"\(text.prefix(100))\")")
        }
        domain = first
        segments = Array(parts.dropFirst())
    }

    /// The path below the domain, as the API's JSON bodies take it.
    var path: String { segments.joined(separator: "/") }
    var display: String { ([domain] + segments).joined(separator: "/") }
    var name: String? { segments.last }

    /// `/api/v1/files/<domain>/<segments…>`, each segment percent-encoded.
    var apiPath: String {
        "/api/v1/files/" + ([domain] + segments).map(Self.encode).joined(separator: "/")
    }

    func appending(_ name: String) -> RemotePath { RemotePath(domain: domain, segments: segments + [name]) }

    /// Percent-encodes everything but RFC 3986's unreserved characters.
    static func encode(_ segment: String) -> String {
        var out = ""
        for byte in segment.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
