import HTTPTypes
import Foundation
import Hummingbird
import KnotErrors
import KnotModels
import KnotRuntime
import KnotServiceKit

/// The launcher: the template catalogue, services people run from it, and
/// the route table the edge serves user services from.
struct LauncherApp: Sendable {
    let host: ServiceHost
    let runtime: any ServiceRuntime
    let templates: [Template]
    let supervisor: Supervisor
    let store: ServiceStore

    init(host: ServiceHost, runtime: any ServiceRuntime, templates: [Template]) {
        self.host = host
        self.runtime = runtime
        self.templates = templates
        let settings = host.settings
        self.store = ServiceStore(database: host.database, publicURL: { settings.publicURL(forHost: $0) })
        let users = host.client(for: "users")
        let logger = host.logger
        self.supervisor = Supervisor(
            runtime: runtime, store: store, logger: host.logger, readinessTimeout: .seconds(30),
            notify: { owner, kind, text in
                // A lost notification must never fail a launch; it is logged.
                struct Message: Encodable { var username, kind, text: String }
                do {
                    _ = try await users.post(
                        "/internal/v1/messages", body: Message(username: owner, kind: kind, text: text), as: [String: String].self)
                } catch {
                    logger.warning("could not post a message", metadata: ["owner": "\(owner)", "error": "\(error)"])
                }
            })
    }

    var renderer: TemplateRenderer {
        TemplateRenderer(domain: host.settings.domain, registry: ProcessInfo.processInfo.environment["KNOT_REGISTRY_URL"] ?? "")
    }

    func makeApplication() -> some ApplicationProtocol {
        host.application(makeRouter())
    }

    func makeRouter() -> Router<KnotRequestContext> {
        let runtime = self.runtime
        let router = host.makeRouter(extraReadiness: [("runtime", { await runtime.readinessProblem() })])
        let api = host.userAPI(router, "/api/v1/launcher")
        addTemplatesAPI(to: api)
        addServicesAPI(to: api)
        addRoutesAPI(to: router)
        addOwnersAPI(to: router)
        return router
    }

    /// The template a person means by an id: the catalogue as they see it
    /// (built-ins, then admin, shared and their own, later ones winning).
    func template(_ id: String, for owner: String) async throws -> Template? {
        templates.first { $0.id == id }
    }

    /// The owner as the runtime sees them: on Kubernetes the file domains are
    /// volumes mounted at fixed paths in every container, not host folders.
    func owner(_ username: String) -> RuntimeUser {
        if let kubernetes = runtime as? KubernetesRuntime {
            return RuntimeUser(
                username: username, namespace: UserRecord.namespace(for: username),
                privateDirectory: kubernetes.settings.mountPaths.private[0], sharedDirectory: kubernetes.settings.mountPaths.shared[0])
        }
        return RuntimeUser(
            username: username, namespace: UserRecord.namespace(for: username),
            privateDirectory: host.settings.privateDirectory(of: username), sharedDirectory: host.settings.sharedDirectory)
    }

    func launch(_ body: LaunchRequest, for username: String) async throws -> ServiceRecord {
        guard let template = try await template(body.template, for: username) else {
            throw KnotError.badRequest("there is no template \"\(body.template.prefix(64))\"", code: "unknown_template")
        }
        let rendered = try await renderer.render(template, values: body.values ?? [:], owner: owner(username))
        let spec = WorkloadSpec(
            id: "", name: rendered.name, owner: owner(username), process: rendered.process, manifests: rendered.manifests)
        if let reason = runtime.unsupportedReason(spec) {
            throw KnotError.conflict("the template \"\(template.id)\" cannot run here: \(reason)", code: "unsupported")
        }
        if template.singleton, try await store.list(owner: username).contains(where: { $0.template == template.id }) {
            throw KnotError.conflict("you can run only one service from \"\(template.id)\"", code: "singleton")
        }
        let record = try await store.insert(
            owner: username, name: rendered.name, template: template.id, host: rendered.host, values: rendered.values,
            isPublic: template.isPublic)
        var started = spec
        started.id = record.id.uuidString.lowercased()
        await supervisor.launch(id: record.id, spec: started)
        return record
    }

    /// After a restart, starts again what should be running.
    func resume() async throws {
        for record in try await store.wanted() {
            guard let template = try await template(record.template, for: record.owner) else {
                try await store.setStatus(id: record.id, status: "failed", message: "its template is gone", upstream: nil)
                continue
            }
            var values = record.values
            values["NAME"] = record.name
            do {
                let rendered = try await renderer.render(template, values: values, owner: owner(record.owner))
                let spec = WorkloadSpec(
                    id: record.id.uuidString.lowercased(), name: record.name, owner: owner(record.owner),
                    process: rendered.process, manifests: rendered.manifests)
                try await store.setStatus(id: record.id, status: "starting", message: "restarting", upstream: nil)
                await supervisor.launch(id: record.id, spec: spec)
            } catch {
                try await store.setStatus(id: record.id, status: "failed", message: "\(error)", upstream: nil)
            }
        }
    }
}
