import Foundation
import HTTPTypes
import Hummingbird
import KnotErrors
import KnotRuntime
import KnotServiceKit
import NIOCore

/// `/api/v1/launcher/templates`: the catalogue as a person sees it.
///
/// - `GET templates` → `{"templates": [summary…]}` (plus `warning` when the
///   file domains could not be read and only built-in and folder templates are listed).
/// - `GET templates/<id>` → the summary; with `?format=yaml` or
///   `Accept: application/yaml` the YAML source as an attachment.
/// - `POST templates[?id=<id>][&overwrite=1]`, body the YAML
///   (`Content-Type: application/yaml` or `text/yaml`, at most 256 KiB): saved
///   as `services/<id>.template.yaml` in the person's private folder. The id is
///   `?id=` or made from the descriptor's `name`. 400 when it does not parse,
///   409 when the person already has one with that id (unless `overwrite=1`).
/// - `DELETE templates/<id>`: only one's own private template (the built-in or
///   shared one it replaced shows again). Built-in and folder templates belong
///   to the deployment, admin and shared ones to their folders: 403, saying
///   where the file is (admins delete admin templates through the files API,
///   `admin/services/<id>.template.yaml`).
extension LauncherApp {
    static let maxTemplateBytes = 256 * 1024
    static let yamlMediaTypes: Set<String> = ["application/yaml", "text/yaml", "application/x-yaml", "text/x-yaml"]

    struct TemplateSummary: Encodable, Sendable {
        var id: String
        var name: String
        var description: String
        var singleton: Bool
        var source: String
        var version: String
        var runtime: String
        var available: Bool
        var unavailableReason: String?
        var problem: String?
        var isPublic: Bool
        var replaces: String?
        var modified: Date?
        var variables: [TemplateVariable]

        enum CodingKeys: String, CodingKey {
            case id, name, description, singleton, source, version, runtime, available, problem, replaces, modified, variables
            case unavailableReason = "unavailable_reason"
            case isPublic = "public"
        }
    }

    struct TemplateListing: Encodable, Sendable {
        var templates: [TemplateSummary]
        var warning: String?
    }

    func addTemplatesAPI(to api: RouterGroup<KnotRequestContext>) {
        api.get("templates") { _, context in
            let identity = try context.requireIdentity()
            do {
                return JSONResponse(.ok, TemplateListing(templates: try await templates.entries(for: identity.username).map(summary)))
            } catch let error as KnotError where error.status == .serviceUnavailable {
                context.logger.warning("the catalogue's file domains could not be read", metadata: ["error": "\(error)"])
                return JSONResponse(
                    .ok,
                    TemplateListing(
                        templates: templates.base.map(summary),
                        warning: "the file service could not be reached; only built-in templates are listed"))
            }
        }
        api.get("templates/:id") { request, context in
            let identity = try context.requireIdentity()
            let entry = try await existing(try context.parameters.require("id"), for: identity.username)
            let format = request.uri.queryParameters["format"].map(String.init)
            let accept = request.headers[.accept]?.lowercased() ?? ""
            switch format {
            case "yaml"?:
                return try download(entry)
            case nil where Self.yamlMediaTypes.contains(where: { accept.contains($0) }) && !accept.contains("application/json"):
                return try download(entry)
            case nil, "json"?:
                return try JSONResponse(.ok, summary(entry)).makeResponse()
            default:
                throw KnotError.badRequest("format must be json or yaml", code: "invalid_format")
            }
        }
        api.post("templates") { request, context in
            let identity = try context.requireEditor()
            let query = request.uri.queryParameters
            let text = try await Self.yamlBody(request)
            var given: String?
            if let raw = query["id"].map(String.init) {
                guard TemplateID.isValid(raw) else { throw KnotError.badRequest(TemplateID.problem(raw), code: "invalid_id") }
                given = raw
            }
            let parsed: Template
            do {
                parsed = try Template.parse(id: given ?? "the template", yaml: text)
            } catch {
                throw KnotError.badRequest("the template does not parse: \(error)", code: "invalid_template")
            }
            guard let id = given ?? TemplateID.from(name: parsed.name) else {
                throw KnotError.badRequest(
                    "no id can be made from the template's name \"\(parsed.name.prefix(64))\"; give one with ?id=", code: "invalid_id")
            }
            guard let files = templates.files else { throw KnotError.unavailable("templates cannot be saved here") }
            let overwrite = ["1", "true", "yes"].contains(query["overwrite"].map { String($0).lowercased() } ?? "")
            do {
                try await files.save(text, name: id + Template.fileSuffix, of: identity.username, overwrite: overwrite)
            } catch let error as KnotError where error.code == "exists" {
                throw KnotError.conflict("you already have a template \"\(id)\"; add ?overwrite=1 to replace it", code: "exists")
            }
            await templates.invalidate(identity.username)
            context.logger.info("template uploaded", metadata: ["id": "\(id)", "bytes": "\(text.utf8.count)"])
            let entry = try await templates.entry(id, for: identity.username)
            var fallback = parsed
            fallback.id = id
            fallback.source = TemplateSource.private.rawValue
            let answer = try JSONResponse(
                .created, entry.map(summary) ?? summary(CatalogueEntry(template: fallback, source: .private, yaml: text))
            ).makeResponse()
            var response = answer
            response.headers[.location] = "/api/v1/launcher/templates/\(id)"
            return response
        }
        api.delete("templates/:id") { _, context in
            let identity = try context.requireEditor()
            let entry = try await existing(try context.parameters.require("id"), for: identity.username)
            switch entry.source {
            case .private:
                guard let files = templates.files else { throw KnotError.unavailable("templates cannot be deleted here") }
                try await files.remove(name: entry.id + Template.fileSuffix, of: identity.username)
                await templates.invalidate(identity.username)
                context.logger.info("template deleted", metadata: ["id": "\(entry.id)"])
                return try JSONResponse(.ok, ["status": "deleted"]).makeResponse()
            case .builtIn, .folder:
                throw KnotError.forbidden("\"\(entry.id)\" is one of Knot's own templates; it cannot be deleted")
            case .admin:
                throw KnotError.forbidden(
                    "\"\(entry.id)\" is an administrators' template"
                        + (identity.admin ? "; delete admin/services/\(entry.id)\(Template.fileSuffix) in the files" : "; only they can remove it"))
            case .shared:
                throw KnotError.forbidden(
                    "\"\(entry.id)\" is a shared template; it is the file shared/services/\(entry.id)\(Template.fileSuffix)")
            }
        }
    }

    /// The entry `user` means by `raw`: 400 for an id that cannot be one (unless a file is named so), 404 when there is none.
    func existing(_ raw: String, for user: String) async throws -> CatalogueEntry {
        let id = raw.removingPercentEncoding ?? raw
        if let entry = try await templates.entry(id, for: user) { return entry }
        guard TemplateID.isValid(id) else { throw KnotError.badRequest(TemplateID.problem(id), code: "invalid_id") }
        throw KnotError.notFound("there is no template \"\(id)\"")
    }

    func download(_ entry: CatalogueEntry) throws -> Response {
        guard let yaml = entry.yaml else {
            throw KnotError.notFound("the template \"\(entry.id)\" has no YAML source to download")
        }
        let name = entry.id + Template.fileSuffix
        let ascii = String(name.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0 != "\"" && $0 != "\\" ? Character($0) : "_" })
        return Response(
            status: .ok,
            headers: [
                .contentType: "application/yaml; charset=utf-8", .contentDisposition: "attachment; filename=\"\(ascii)\"",
                .cacheControl: "no-store", HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            ],
            body: .init(byteBuffer: ByteBuffer(string: yaml)))
    }

    /// An uploaded template's text: a YAML media type, at most `maxTemplateBytes`, UTF-8, not empty.
    static func yamlBody(_ request: Request) async throws -> String {
        let media = request.headers[.contentType]?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let media, yamlMediaTypes.contains(media) else {
            throw KnotError.unsupportedMediaType(
                "a template is uploaded as Content-Type application/yaml or text/yaml, not \(request.headers[.contentType]?.prefix(64) ?? "nothing")")
        }
        let body = try await request.collectBody(limit: maxTemplateBytes)
        guard body.readableBytes > 0 else { throw KnotError.badRequest("the body is empty; a template's YAML is expected", code: "invalid_template") }
        guard let text = String(bytes: body.readableBytesView, encoding: .utf8) else {
            throw KnotError.badRequest("the template is not UTF-8 text", code: "invalid_template")
        }
        return text
    }

    func summary(_ entry: CatalogueEntry) -> TemplateSummary {
        let template = entry.template
        let reason =
            template.problem.map { "the template is broken: \($0)" }
            ?? runtime.unsupportedReason(probeSpec(template))
            ?? (runtime.kind == "local" ? LocalPrograms.missing(template) : nil)
        return TemplateSummary(
            id: template.id, name: template.name, description: template.description, singleton: template.singleton,
            source: entry.source.rawValue, version: template.version, runtime: runtime.kind, available: reason == nil,
            unavailableReason: reason, problem: template.problem, isPublic: template.isPublic, replaces: entry.replaces?.rawValue,
            modified: entry.modified, variables: template.variables.filter { !TemplateRenderer.automatic.contains($0.name) })
    }

    func summary(_ template: Template) -> TemplateSummary {
        summary(CatalogueEntry(template: template, source: TemplateSource(rawValue: template.source) ?? .builtIn, yaml: nil))
    }

    private func probeSpec(_ template: Template) -> WorkloadSpec {
        WorkloadSpec(
            id: "probe", name: template.id, owner: RuntimeUser(username: "", namespace: "", privateDirectory: "", sharedDirectory: ""),
            process: template.local.map { ProcessSpec(command: $0.command, arguments: $0.args) }, manifests: template.manifests)
    }
}
