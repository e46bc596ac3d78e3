import Foundation
import HTTPTypes
import Hummingbird
import KnotConfig
import Mustache

/// identity's HTML pages, rendered server-side from Mustache templates (see
/// `PageTemplates`). Every page is `no-store`, cannot be framed, runs no
/// script, and posts forms only to Knot itself — plus, where a form's answer
/// redirects to a relying party, that party's origin (CSP `form-action`
/// applies to the redirect too).
struct Pages: Sendable {
    let library: MustacheLibrary
    let brand: String
    let accent: String
    let formAction: String

    init(settings: KnotSettings, environment: [String: String]) async throws {
        var templates: [String: MustacheTemplate] = [:]
        for (name, text) in PageTemplates.all { templates[name] = try MustacheTemplate(string: text) }
        if let directory = environment["KNOT_IDENTITY_TEMPLATES"], !directory.isEmpty {
            for name in PageTemplates.all.keys {
                let path = "\(directory)/\(name).mustache"
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
                templates[name] = try MustacheTemplate(string: text)
            }
        }
        library = MustacheLibrary(templates: templates)
        brand = environment["KNOT_BRAND"].flatMap { $0.isEmpty ? nil : $0 } ?? "Knot"
        let accent = environment["KNOT_ACCENT_COLOR"] ?? ""
        // Only a plain colour may reach the stylesheet.
        self.accent = accent.range(of: "^#[0-9a-fA-F]{3,8}$", options: .regularExpression) != nil ? accent : "#2456d6"
        formAction = "'self' \(settings.publicURL) \(settings.publicURL(forHost: "*." + settings.domain))"
    }

    /// A rendered page. `cookies` are set with it (a CSRF cookie, say);
    /// `formTargets` are extra origins the page's forms may end up at.
    func render(
        _ template: String, title: String, _ values: [String: Any] = [:], status: HTTPResponse.Status = .ok,
        cookies: [String] = [], formTargets: [String] = []
    ) -> Response {
        var values = values
        values["brand"] = brand
        let content = library.render(values, withTemplate: template) ?? ""
        let html = library.render(["title": title, "brand": brand, "accent": accent, "content": content], withTemplate: "layout") ?? content
        let sources = ([formAction] + formTargets).joined(separator: " ")
        var headers: HTTPFields = [
            .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
            .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; form-action \(sources); frame-ancestors 'none'",
            HTTPField.Name("X-Frame-Options")!: "DENY",
            HTTPField.Name("Referrer-Policy")!: "no-referrer",
        ]
        for cookie in cookies { headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    func message(
        title: String, heading: String, error: String? = nil, info: String? = nil, link: (href: String, text: String)? = nil,
        status: HTTPResponse.Status
    ) -> Response {
        var values: [String: Any] = ["heading": heading]
        if let error { values["error"] = error }
        if let info { values["info"] = info }
        if let link { values["link"] = ["href": link.href, "text": link.text] }
        return render("message", title: title, values, status: status)
    }

    /// The origin (`scheme://host[:port]`) of an address, for `form-action`.
    static func origin(of uri: String) -> String? {
        guard let url = URLComponents(string: uri), let scheme = url.scheme, let host = url.host else { return nil }
        return "\(scheme)://\(host)" + (url.port.map { ":\($0)" } ?? "")
    }
}
