import Foundation

/// Where a browser may be sent after signing in: only Knot's own addresses
/// (the dashboard or a user service under the domain), over HTTPS on the
/// public port. Anything else would make the login page an open redirect.
struct RedirectPolicy: Sendable {
    let domain: String
    let publicPort: Int
    let home: String

    func safeTarget(_ candidate: String?) -> String {
        guard let candidate, !candidate.isEmpty, candidate.count <= 2048 else { return home }
        // A local path on the dashboard: "/x" but never "//host" or "/\host".
        if candidate.hasPrefix("/") {
            guard !candidate.hasPrefix("//"), !candidate.hasPrefix("/\\"),
                !candidate.unicodeScalars.contains(where: { $0.value < 0x21 || $0 == "\\" })
            else { return home }
            return home.hasSuffix("/") ? String(home.dropLast()) + candidate : home + candidate
        }
        guard let url = URLComponents(string: candidate), url.scheme?.lowercased() == "https",
            url.user == nil, url.password == nil, let host = url.host?.lowercased(),
            !candidate.unicodeScalars.contains(where: { $0.value < 0x21 || $0 == "\\" })
        else { return home }
        let port = url.port ?? 443
        guard port == publicPort, host == domain || host.hasSuffix("." + domain) else { return home }
        return candidate
    }
}
