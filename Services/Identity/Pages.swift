import HTTPTypes
import Foundation
import Hummingbird
import KnotConfig

/// identity's own HTML pages: login and sign-up. They post to the same
/// endpoints the JSON API uses, so there is one code path for both.
struct Pages: Sendable {
    /// CSP `form-action` sources. A form post that answers with a redirect is
    /// checked against these too, and signing in redirects back to a user
    /// service on a subdomain, so the domain's subdomains must be listed.
    let formAction: String

    init(settings: KnotSettings) {
        formAction = "'self' \(settings.publicURL) \(settings.publicURL(forHost: "*." + settings.domain))"
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    func page(title: String, body: String, status: HTTPResponse.Status = .ok) -> Response {
        let html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(Pages.escape(title)) · Knot</title>
            <style>
            body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;background:#f3f5f8;color:#1d2430;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
            main{background:#fff;padding:2rem 2.25rem;border-radius:12px;box-shadow:0 4px 24px rgba(20,30,50,.08);width:min(360px,90vw)}
            h1{font-size:1.35rem;margin:0 0 1.25rem}.brand{font-weight:700;color:#2456d6;letter-spacing:.02em}
            label{display:block;font-size:.85rem;margin:.8rem 0 .25rem;color:#4a5568}
            input{width:100%;box-sizing:border-box;padding:.55rem .65rem;border:1px solid #cbd2dc;border-radius:7px;font-size:1rem}
            button{margin-top:1.3rem;width:100%;padding:.6rem;border:0;border-radius:7px;background:#2456d6;color:#fff;font-size:1rem;cursor:pointer}
            .msg{padding:.6rem .75rem;border-radius:7px;margin-bottom:1rem;font-size:.9rem}
            .error{background:#fdecec;color:#9b1c1c}.info{background:#e8f1ff;color:#1c3d8f}
            p.alt{font-size:.85rem;margin-top:1.2rem;text-align:center}
            </style></head><body><main><div class="brand">Knot</div>\(body)</main></body></html>
            """
        return Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; form-action \(formAction); frame-ancestors 'none'",
                HTTPField.Name("X-Frame-Options")!: "DENY",
            ],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    func login(next: String, message: String? = nil, isError: Bool = true, status: HTTPResponse.Status = .ok) -> Response {
        let note = message.map { "<div class=\"msg \(isError ? "error" : "info")\" role=\"alert\">\(Pages.escape($0))</div>" } ?? ""
        return page(
            title: "Sign in",
            body: """
                <h1>Sign in</h1>\(note)
                <form method="post" action="/auth/login">
                <input type="hidden" name="next" value="\(Pages.escape(next))">
                <label for="username">Username</label><input id="username" name="username" autocomplete="username" required autofocus>
                <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
                <button type="submit">Sign in</button></form>
                <p class="alt">No account? <a href="/auth/signup">Sign up</a></p>
                """, status: status)
    }

    func signup(message: String? = nil, status: HTTPResponse.Status = .ok) -> Response {
        let note = message.map { "<div class=\"msg error\" role=\"alert\">\(Pages.escape($0))</div>" } ?? ""
        return page(
            title: "Sign up",
            body: """
                <h1>Create an account</h1>\(note)
                <form method="post" action="/auth/signup">
                <label for="username">Username</label><input id="username" name="username" autocomplete="username" required pattern="[a-z][a-z0-9-]{1,31}">
                <label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" required>
                <label for="full_name">Full name</label><input id="full_name" name="full_name" autocomplete="name">
                <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="new-password" minlength="10" required>
                <button type="submit">Sign up</button></form>
                <p class="alt">Have an account? <a href="/auth/login">Sign in</a></p>
                """, status: status)
    }

    func waitingForActivation(username: String) -> Response {
        page(
            title: "Waiting for activation",
            body: """
                <h1>Thanks, \(Pages.escape(username))</h1>
                <div class="msg info">Your account is waiting for an administrator to activate it. You can sign in once it is active.</div>
                <p class="alt"><a href="/auth/login">Back to sign in</a></p>
                """, status: .created)
    }
}
