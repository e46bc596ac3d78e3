import KnotConfig
import KnotModels
import NIOHTTP1

/// Where a request went, for metrics and access logs: few values, so label cardinality stays bounded.
enum RouteClass: String, Sendable {
    case auth, api, dashboard, service, unknown
    case publicFiles = "public_files"
}

/// A plain-HTTP upstream: the edge connects to `host:port`.
struct UpstreamAddress: Hashable, Sendable {
    var host: String
    var port: Int

    /// `http://host:port[/…]`; anything else (https, a user part, no port and no scheme default) is not an upstream.
    init?(url: String) {
        guard url.hasPrefix("http://") else { return nil }
        var rest = url.dropFirst("http://".count)
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        guard !rest.isEmpty, !rest.contains("@") else { return nil }
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            port = after.hasPrefix(":") ? Int(after.dropFirst()) ?? -1 : 80
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            port = Int(rest[rest.index(after: colon)...]) ?? -1
        } else {
            host = String(rest)
            port = 80
        }
        guard (1...65535).contains(port), !host.isEmpty else { return nil }
    }
}

/// What kind of hop a forwarded request makes, which decides the headers it carries.
enum Hop: Sendable {
    /// Identity's pages and OpenID Connect endpoints: cookies and Authorization pass untouched.
    case identity
    /// A Knot API area: the session cookie and Authorization are replaced by the identity assertion.
    case api(assertion: String)
    /// Public files: no identity at all.
    case publicFiles
    /// A user service: the user named in `X-Forwarded-User`, or nobody for a public service.
    case service(user: String?, email: String?)
}

/// A forwarded request's destination and rules.
struct Destination: Sendable {
    var address: UpstreamAddress
    var hop: Hop
    /// Prepended to the path (public files live under the files service's `/public/v1`).
    var pathPrefix: String = ""
    var timeout: Double
    var maxBodyBytes: Int64
    /// The public host the request arrived on, for `X-Forwarded-Host` and logs.
    var publicHost: String
}

/// A request that needs a signed-in person before it can go anywhere.
enum Protected: Sendable {
    case api(UpstreamAddress, area: String)
    case service(RouteEntry, UpstreamAddress)
}

/// The edge's routing, as a pure function of the request (and, for
/// protected destinations, the sign-on verdict): which upstream, which
/// answer, or which check is still needed.
final class EdgeRouter: Sendable {
    let settings: KnotSettings
    let limits: EdgeLimits
    let areas: [String: UpstreamAddress]
    let routes: RouteTable

    enum Plan {
        case answer(EdgeAnswer)
        case asset(path: Substring)
        case forward(Destination)
        case signOn(Protected)
    }

    init(settings: KnotSettings, limits: EdgeLimits, routes: RouteTable) throws {
        self.settings = settings
        self.limits = limits
        self.routes = routes
        var areas: [String: UpstreamAddress] = [:]
        for (area, url) in [
            ("identity", settings.identityURL), ("users", settings.usersURL), ("launcher", settings.launcherURL), ("files", settings.filesURL),
        ] {
            guard let address = UpstreamAddress(url: url) else {
                throw ConfigurationError(key: "KNOT_\(area.uppercased())_URL", problem: "must be an http://host:port address")
            }
            areas[area] = address
        }
        // Issue 11: the images area (a registry client) lives in the files service, which holds the tars.
        areas["images"] = areas["files"]
        self.areas = areas
        self.dottedDomain = "." + settings.domain
    }

    var domain: String { settings.domain }
    /// `.<domain>`, made once: every request to a service host is checked against it.
    let dottedDomain: String

    func classify(host: String, path: Substring) -> RouteClass {
        if host == domain {
            if path.hasPrefix("/auth/") || path.hasPrefix("/.well-known/") { return .auth }
            if path.hasPrefix("/~") || path.hasPrefix("/s/") { return .publicFiles }
            return path.hasPrefix("/api/") ? .api : .dashboard
        }
        return isServiceHost(host) ? .service : .unknown
    }

    /// `<label>.<domain>`, one label deep.
    func isServiceHost(_ host: String) -> Bool {
        host.utf8.count > dottedDomain.utf8.count && host.hasSuffix(dottedDomain) && !host.utf8.dropLast(dottedDomain.utf8.count).contains(UInt8(ascii: "."))
    }

    func plan(method: HTTPMethod, host: String, path: Substring) -> Plan {
        if host == domain { return dashboard(method: method, path: path) }
        if isServiceHost(host) {
            guard let (route, address) = routes.lookup(host) else {
                return .answer(.page(.notFound, title: "No such service", text: "Nothing is running at \(host.htmlEscaped). It may have been stopped or deleted."))
            }
            if route.isPublic {
                if route.stopped { return .answer(.serviceStopped(host: host)) }
                return .forward(
                    Destination(
                        address: address, hop: .service(user: nil, email: nil), timeout: limits.serviceTimeout,
                        maxBodyBytes: limits.maxServiceBodyBytes, publicHost: host))
            }
            return .signOn(.service(route, address))
        }
        return .answer(.error(.notFound, code: "not_found", message: "\(host.prefix(100)) is not served here"))
    }

    private func dashboard(method: HTTPMethod, path: Substring) -> Plan {
        if path == "/internal" || path.hasPrefix("/internal/") {
            return .answer(.error(.notFound, code: "not_found", message: "no such endpoint"))
        }
        // Public files: a person's `public` folder at /~<user>/… and share links at /s/<token>/…, without login.
        if path.hasPrefix("/~") || path.hasPrefix("/s/") {
            guard method == .GET || method == .HEAD else {
                return .answer(.error(.methodNotAllowed, code: "read_only", message: "public files are read-only"))
            }
            return .forward(
                Destination(
                    address: areas["files"]!, hop: .publicFiles, pathPrefix: "/public/v1", timeout: limits.serviceTimeout, maxBodyBytes: 0,
                    publicHost: domain))
        }
        if path.hasPrefix("/auth/") || path.hasPrefix("/.well-known/") {
            return .forward(
                Destination(
                    address: areas["identity"]!, hop: .identity, timeout: limits.apiTimeout, maxBodyBytes: limits.maxAPIBodyBytes,
                    publicHost: domain))
        }
        if path.hasPrefix("/api/") {
            // /api/v1/<area>[/…]
            let parts = path.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
            guard parts.count >= 4, parts[2] == "v1", let area = parts[3].split(separator: "/", maxSplits: 1).first,
                let address = areas[String(area)]
            else {
                return .answer(.error(.notFound, code: "not_found", message: "no such API area"))
            }
            return .signOn(.api(address, area: String(area)))
        }
        guard method == .GET || method == .HEAD else {
            return .answer(.error(.methodNotAllowed, code: "method_not_allowed", message: "the dashboard's files are read-only"))
        }
        return .asset(path: path)
    }

    /// The second half of a protected request, once the verdict is known.
    /// `fullURL` is where a browser without a session is sent back to after login.
    func authorize(_ protected: Protected, verdict: SessionVerdict?, method: HTTPMethod, fullURL: @autoclosure () -> String) -> Plan {
        switch protected {
        case .api(let address, let area):
            guard let verdict else {
                return .answer(.error(.unauthorized, code: "unauthorized", message: "sign in first: no valid session or API token"))
            }
            if verdict.readOnly == true && method != .GET && method != .HEAD {
                return .answer(.error(.forbidden, code: "forbidden", message: "this API token is read-only"))
            }
            let maxBody = area == "files" || area == "images" ? Int64.max : limits.maxAPIBodyBytes
            return .forward(
                Destination(
                    address: address, hop: .api(assertion: verdict.assertion), timeout: limits.apiTimeout, maxBodyBytes: maxBody,
                    publicHost: domain))
        case .service(let route, let address):
            guard let verdict else {
                let login = settings.publicURL + "/auth/login?next=" + fullURL().percentEncodedComponent
                return .answer(.redirect(to: login))
            }
            // The owner, or a member of the owning team (exact names, never prefixes).
            guard verdict.username == route.owner || (verdict.teams ?? []).contains(route.owner) else {
                return .answer(.page(.forbidden, title: "Not yours", text: "The service at \(route.host.htmlEscaped) belongs to someone else."))
            }
            if route.stopped { return .answer(.serviceStopped(host: route.host)) }
            return .forward(
                Destination(
                    address: address, hop: .service(user: verdict.username, email: verdict.email), timeout: limits.serviceTimeout,
                    maxBodyBytes: limits.maxServiceBodyBytes, publicHost: route.host))
        }
    }
}
