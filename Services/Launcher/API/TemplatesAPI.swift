import Hummingbird
import KnotRuntime
import KnotServiceKit

/// `/api/v1/launcher/templates`: the catalogue as a person sees it.
extension LauncherApp {
    struct TemplateSummary: Encodable, Sendable {
        var id: String
        var name: String
        var description: String
        var singleton: Bool
        var source: String
        var runtime: String
        var available: Bool
        var unavailableReason: String?
        var variables: [TemplateVariable]

        enum CodingKeys: String, CodingKey {
            case id, name, description, singleton, source, runtime, available, variables
            case unavailableReason = "unavailable_reason"
        }
    }

    func addTemplatesAPI(to api: RouterGroup<KnotRequestContext>) {
        api.get("templates") { _, context in
            _ = try context.requireIdentity()
            return JSONResponse(.ok, ["templates": templates.map(summary)])
        }
    }

    func summary(_ template: Template) -> TemplateSummary {
        let reason = runtime.unsupportedReason(probeSpec(template))
        return TemplateSummary(
            id: template.id, name: template.name, description: template.description, singleton: template.singleton,
            source: template.source, runtime: runtime.kind, available: reason == nil, unavailableReason: reason,
            variables: template.variables.filter { !TemplateRenderer.automatic.contains($0.name) })
    }

    private func probeSpec(_ template: Template) -> WorkloadSpec {
        WorkloadSpec(
            id: "probe", name: template.id, owner: RuntimeUser(username: "", namespace: "", privateDirectory: "", sharedDirectory: ""),
            process: template.local.map { ProcessSpec(command: $0.command, arguments: $0.args) }, manifests: template.manifests)
    }
}
