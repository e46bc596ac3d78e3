import Foundation
import HTTPTypes
import KnotErrors
import KnotModels
import NIOCore
import NIOHTTP1

/// An answer the edge gives itself, without an upstream: errors, redirects,
/// and the pages a person sees at a user service's address.
struct EdgeAnswer: Sendable {
    var status: HTTPResponseStatus
    var headers: [(String, String)]
    var body: String

    /// Knot's error shape, `{"error": {"code", "message"}}`.
    static func error(_ status: HTTPResponseStatus, code: String, message: String) -> EdgeAnswer {
        let json = KnotError(HTTPResponse.Status(code: Int(status.code)), code: code, message: message).body
        return EdgeAnswer(
            status: status, headers: [("Content-Type", "application/json"), ("Cache-Control", "no-store")],
            body: String(decoding: json, as: UTF8.self))
    }

    static func bodyTooLarge(limit: Int64) -> EdgeAnswer {
        error(.payloadTooLarge, code: "body_too_large", message: "the request body is larger than \(limit) bytes")
    }

    /// The answer as bytes, for the few places that write below HTTP (a
    /// request head that never finished); closes the connection after it.
    func rawHTTP1() -> String {
        var text = "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        return text + "Connection: close\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
    }

    /// A small page for people who reach an address in a browser.
    static func page(_ status: HTTPResponseStatus, title: String, text: String, extraHead: String = "") -> EdgeAnswer {
        let html = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">\(extraHead)<title>\(title) · Knot</title>
            <style>body{font-family:system-ui,sans-serif;background:#f3f5f8;color:#1d2430;display:flex;min-height:100vh;align-items:center;justify-content:center;margin:0}
            main{background:#fff;padding:2rem;border-radius:12px;box-shadow:0 4px 24px rgba(20,30,50,.08);max-width:32rem}h1{font-size:1.3rem}</style>
            </head><body><main><h1>\(title)</h1><p>\(text)</p></main></body></html>
            """
        return EdgeAnswer(
            status: status,
            headers: [
                ("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"),
                ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"),
                ("X-Content-Type-Options", "nosniff"),
            ], body: html)
    }

    static func redirect(to location: String, status: HTTPResponseStatus = .found) -> EdgeAnswer {
        EdgeAnswer(status: status, headers: [("Location", location), ("Cache-Control", "no-store")], body: "")
    }

    /// The upstream could not be reached: most often a service still starting.
    /// Browsers get a page that retries by itself; programs get JSON and `Retry-After`.
    static func upstreamDown(host: String, wantsHTML: Bool, timedOut: Bool) -> EdgeAnswer {
        let status: HTTPResponseStatus = timedOut ? .gatewayTimeout : .badGateway
        var answer: EdgeAnswer
        if wantsHTML {
            answer = page(
                status, title: timedOut ? "The service is slow to answer" : "The service is starting",
                text: timedOut
                    ? "The service at \(host.htmlEscaped) took too long to answer. This page tries again in 5 seconds."
                    : "The service at \(host.htmlEscaped) is not answering yet: it may still be starting. This page tries again in 5 seconds.",
                extraHead: "<meta http-equiv=\"refresh\" content=\"5\">")
        } else {
            answer = error(
                status, code: timedOut ? "upstream_timeout" : "upstream_unavailable",
                message: timedOut ? "the service behind \(host) took too long to answer" : "the service behind \(host) is not answering")
        }
        answer.headers.append(("Retry-After", "5"))
        return answer
    }

    /// The service is stopped (by its owner, or culled when idle): nothing to
    /// retry until someone starts it again, which the dashboard does.
    static func serviceStopped(host: String) -> EdgeAnswer {
        page(
            .serviceUnavailable, title: "The service is stopped",
            text: "The service at \(host.htmlEscaped) is stopped. Its owner can start it again from the dashboard's Services screen.")
    }

    /// Whether a request prefers a page to JSON (a browser navigating, not a script).
    static func wantsHTML(_ headers: HTTPHeaders) -> Bool {
        headers["accept"].contains { $0.contains("text/html") }
    }
}
