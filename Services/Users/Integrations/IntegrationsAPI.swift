import Foundation
import Hummingbird
import KnotErrors
import KnotServiceKit

/// `GET /api/v1/users/integrations`: the configured tools, as links for the
/// signed-in profile (Argo opens on their namespace); nothing about tools
/// that are not configured. `GET /api/v1/users/integrations/{tool}/config`
/// (admins): the configuration Knot generates for a tool, as text.
struct IntegrationsAPI: Sendable {
    let settings: IntegrationSettings

    struct Link: Encodable, Equatable, Sendable {
        var id: String
        var tool: String
        var title: String
        var url: String
    }

    static func links(_ settings: IntegrationSettings, namespace: String) -> [Link] {
        var links: [Link] = []
        if let hub = settings.jupyterhub { links.append(Link(id: "notebooks", tool: "jupyterhub", title: "Notebooks", url: hub.url + "hub/")) }
        if let argo = settings.argo {
            links.append(Link(id: "workflows", tool: "argo", title: "Workflows", url: ArgoAccess.link(base: argo.url, namespace: namespace)))
        }
        if let harbor = settings.harbor {
            links.append(Link(id: "images", tool: "harbor", title: "Images", url: harbor.tool.url + "harbor/projects"))
        }
        if let gitea = settings.gitea { links.append(Link(id: "code", tool: "gitea", title: "Code", url: gitea.url)) }
        if let grafana = settings.grafana { links.append(Link(id: "metrics", tool: "grafana", title: "Metrics", url: grafana.url)) }
        return links
    }

    /// The generated configuration of one tool, or nil when it is not configured.
    static func config(_ settings: IntegrationSettings, tool: String) -> String? {
        switch tool {
        case "jupyterhub": return JupyterHubConfig(settings: settings)?.render()
        case "grafana": return GrafanaConfig(settings: settings)?.render()
        case "gitea": return GiteaConfig(settings: settings)?.appINI
        case "gitea-setup": return GiteaConfig(settings: settings)?.script
        default: return nil
        }
    }

    static let generated = ["jupyterhub", "grafana", "gitea", "gitea-setup"]

    func register(on api: RouterGroup<KnotRequestContext>) {
        let settings = self.settings
        api.get("integrations") { _, context in
            let identity = try context.requireIdentity()
            return JSONResponse(.ok, ["integrations": Self.links(settings, namespace: identity.namespace)])
        }
        api.get("integrations/:tool/config") { _, context -> Response in
            _ = try context.requireAdmin()
            let tool = try context.parameters.require("tool")
            guard Self.generated.contains(tool) else {
                throw KnotError.notFound("Knot generates configuration for \(Self.generated.joined(separator: ", ")), not \"\(tool.prefix(40))\"")
            }
            guard let text = Self.config(settings, tool: tool) else {
                throw KnotError.notFound("\(tool) is not configured (set its KNOT_…_URL)")
            }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; charset=utf-8"
            headers[.cacheControl] = "no-store"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
        }
    }
}
