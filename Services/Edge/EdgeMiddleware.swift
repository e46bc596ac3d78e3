import Foundation
import HTTPTypes
import Hummingbird
import KnotConfig
import KnotErrors
import KnotModels
import Metrics

/// The edge's routing and sign-on, in front of the dashboard's static files:
/// - `<domain>`: `/auth/…` and `/.well-known/…` to identity, `/api/v1/<area>/…`
///   to the owning service with an identity assertion, everything else falls
///   through to the dashboard's assets;
/// - `<service>-<user>.<domain>`: the owner's service, after the sign-on check;
/// - any other host: 404.
struct EdgeMiddleware: RouterMiddleware {
    typealias Context = EdgeContext

    let settings: KnotSettings
    let areas: [String: String]
    let routes: RouteTable
    let sessions: SessionCache
    let forwarder: Forwarder

    /// Where a request went, for metrics: few values, so label cardinality stays bounded.
    enum RouteClass: String {
        case auth, api, dashboard, service, unknown
        case publicFiles = "public_files"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        let routeClass = classify(request)
        do {
            let response = try await route(request, context: context, next: next)
            record(routeClass, status: response.status.code, since: started)
            return response
        } catch let error as HTTPResponseError {
            record(routeClass, status: error.status.code, since: started)
            throw error
        } catch {
            record(routeClass, status: 500, since: started)
            throw error
        }
    }

    func classify(_ request: Request) -> RouteClass {
        guard let host = Self.host(of: request) else { return .unknown }
        if host == domain {
            let path = request.uri.path
            if path.hasPrefix("/auth/") || path.hasPrefix("/.well-known/") { return .auth }
            if path.hasPrefix("/~") || path.hasPrefix("/s/") { return .publicFiles }
            return path.hasPrefix("/api/") ? .api : .dashboard
        }
        return host.hasSuffix("." + domain) ? .service : .unknown
    }

    func record(_ routeClass: RouteClass, status: Int, since started: ContinuousClock.Instant) {
        let dimensions = [("class", routeClass.rawValue), ("status", "\(status / 100)xx")]
        Counter(label: "knot_edge_requests_total", dimensions: dimensions).increment()
        Timer(label: "knot_edge_request_duration_seconds", dimensions: [("class", routeClass.rawValue)])
            .recordNanoseconds((ContinuousClock.now - started).nanoseconds)
    }

    func route(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let host = Self.host(of: request) else {
            throw KnotError.badRequest("the request names no host")
        }
        // No Knot address is this long; refusing here also keeps oversized heads from upstream clients.
        guard request.uri.string.utf8.count <= Self.maxTargetLength else {
            throw KnotError(.uriTooLong, code: "uri_too_long", message: "the address is longer than \(Self.maxTargetLength) bytes")
        }
        if Self.hasDotSegment(request.uri.path) {
            throw KnotError.badRequest("paths with \".\" or \"..\" segments are not accepted", code: "invalid_path")
        }
        if host == domain {
            return try await dashboard(request, context: context, next: next)
        }
        if host.hasSuffix("." + domain), !host.dropLast(domain.count + 1).contains(".") {
            return try await userService(request, context: context, host: host)
        }
        throw KnotError.notFound("\(host.prefix(100)) is not served here")
    }

    static let maxTargetLength = 8192

    func dashboard(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if path == "/internal" || path.hasPrefix("/internal/") {
            throw KnotError.notFound("no such endpoint")
        }
        // Public files: a person's `public` folder at /~<user>/… and share links at /s/<token>/…, without login.
        if path.hasPrefix("/~") || path.hasPrefix("/s/") {
            guard request.method == .get || request.method == .head else {
                throw KnotError(.methodNotAllowed, code: "read_only", message: "public files are read-only")
            }
            return try await forwarder.forward(
                request, context: context, to: settings.filesURL + "/public/v1", publicHost: domain, identity: .init(),
                dropSessionCookie: true, dropAuthorization: true)
        }
        if path.hasPrefix("/auth/") || path.hasPrefix("/.well-known/") {
            return try await forwarder.forward(
                request, context: context, to: settings.identityURL, publicHost: domain, identity: .init(), dropSessionCookie: false)
        }
        if path.hasPrefix("/api/") {
            let parts = path.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
            // ["", "api", "v1", "<area>/…"]
            guard parts.count >= 4, parts[2] == "v1",
                let area = parts[3].split(separator: "/", maxSplits: 1).first, let upstream = areas[String(area)]
            else {
                throw KnotError.notFound("no such API area")
            }
            // A script may use a personal API token instead of a session.
            var verdict = try await verdict(request)
            if verdict == nil, let token = Self.bearerToken(request) {
                verdict = try await sessions.verdict(forAPIToken: token)
                guard verdict != nil else { throw KnotError.unauthorized("the API token is not valid, expired or revoked") }
            }
            guard let verdict else {
                throw KnotError.unauthorized("sign in first: no valid session")
            }
            if verdict.readOnly == true && request.method != .get && request.method != .head {
                throw KnotError.forbidden("this API token is read-only")
            }
            return try await forwarder.forward(
                request, context: context, to: upstream, publicHost: domain,
                identity: .init(assertion: verdict.assertion, username: verdict.username), dropSessionCookie: true,
                dropAuthorization: true)
        }
        return try await next(request, context)
    }

    func userService(_ request: Request, context: Context, host: String) async throws -> Response {
        guard let route = routes.route(for: host) else {
            return EdgePages.notFound(host: host)
        }
        guard let verdict = try await verdict(request) else {
            let here = settings.publicURL(forHost: host) + request.uri.string
            let next = here.percentEncodedComponent
            return Response(
                status: .found, headers: [.location: settings.publicURL + "/auth/login?next=" + next, .cacheControl: "no-store"])
        }
        // The owner, or a member of the owning team (exact names, never prefixes).
        guard verdict.username == route.owner || (verdict.teams ?? []).contains(route.owner) else {
            context.logger.notice("refused another user's service", metadata: ["host": "\(host)", "user": "\(verdict.username)"])
            return EdgePages.forbidden(host: host)
        }
        return try await forwarder.forward(
            request, context: context, to: route.upstream, publicHost: host,
            identity: .init(assertion: nil, username: verdict.username), dropSessionCookie: true)
    }

    /// `Authorization: Bearer knot_pat_…`; other bearer tokens are not Knot's to judge.
    static func bearerToken(_ request: Request) -> String? {
        guard let header = request.headers[.authorization], header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            return nil
        }
        let token = header.dropFirst(7).trimmingCharacters(in: .whitespaces)
        return token.hasPrefix("knot_pat_") ? token : nil
    }

    func verdict(_ request: Request) async throws -> SessionVerdict? {
        guard let token = request.cookies[SessionCookie.name]?.value else { return nil }
        return try await sessions.verdict(for: token)
    }

    var domain: String { settings.domain }

    /// True when a segment is `.` or `..`, written plainly or percent-encoded:
    /// no upstream ever gets a path that could be read as climbing out of its prefix.
    static func hasDotSegment(_ path: String) -> Bool {
        path.split(separator: "/", omittingEmptySubsequences: false).contains { segment in
            let lowered = segment.lowercased().replacingOccurrences(of: "%2e", with: ".")
            return lowered == "." || lowered == ".."
        }
    }

    /// The host the client asked for (`:authority` in HTTP/2, `Host` in HTTP/1.1), lowercase, without port.
    static func host(of request: Request) -> String? {
        guard let authority = request.head.authority, !authority.isEmpty, authority.count <= 255 else {
            return nil
        }
        var host = Substring(authority)
        if host.hasPrefix("[") { return nil }  // IP literals are never Knot's names
        if let colon = host.lastIndex(of: ":") { host = host[..<colon] }
        if host.hasSuffix(".") { host = host.dropLast() }
        return host.lowercased()
    }
}

/// Small HTML pages for people who reach a user-service address in a browser.
enum EdgePages {
    static func page(_ status: HTTPResponse.Status, title: String, text: String) -> Response {
        let html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(title) · Knot</title>
            <style>body{font-family:system-ui,sans-serif;background:#f3f5f8;color:#1d2430;display:flex;min-height:100vh;align-items:center;justify-content:center;margin:0}
            main{background:#fff;padding:2rem;border-radius:12px;box-shadow:0 4px 24px rgba(20,30,50,.08);max-width:32rem}h1{font-size:1.3rem}</style>
            </head><body><main><h1>\(title)</h1><p>\(text)</p></main></body></html>
            """
        return Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }


    static func forbidden(host: String) -> Response {
        page(.forbidden, title: "Not yours", text: "The service at \(host.htmlEscaped) belongs to someone else.")
    }

    static func notFound(host: String) -> Response {
        page(.notFound, title: "No such service", text: "Nothing is running at \(host.htmlEscaped). It may have been stopped or deleted.")
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
