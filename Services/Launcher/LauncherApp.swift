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

    struct LaunchRequest: Decodable {
        var template: String
        var values: [String: String]?
    }

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

    func makeApplication() -> some ApplicationProtocol {
        host.application(makeRouter())
    }

    func makeRouter() -> Router<KnotRequestContext> {
        let runtime = self.runtime
        let router = host.makeRouter(extraReadiness: [("runtime", { await runtime.readinessProblem() })])
        let limit = host.settings.maxJSONBody
        let api = host.userAPI(router, "/api/v1/launcher")

        api.get("templates") { _, context in
            _ = try context.requireIdentity()
            return JSONResponse(.ok, ["templates": templates.map(summary)])
        }
        api.get("services") { _, context in
            let identity = try context.requireIdentity()
            return JSONResponse(.ok, ["services": try await store.list(owner: identity.username)])
        }
        api.post("services") { request, context in
            let identity = try context.requireEditor()
            let body = try await request.decodeJSON(LaunchRequest.self, limit: limit)
            return JSONResponse(.accepted, try await launch(body, for: identity.username))
        }
        api.get("services/:name") { _, context in
            let identity = try context.requireIdentity()
            return JSONResponse(.ok, try await service(named: context.parameters.require("name"), owner: identity.username))
        }
        api.delete("services/:name") { _, context in
            let identity = try context.requireEditor()
            let record = try await service(named: context.parameters.require("name"), owner: identity.username)
            // Withdraw the route first, so the edge stops sending traffic before the process goes away.
            try await store.setStatus(id: record.id, status: "stopping", message: "stopping", upstream: nil)
            try await supervisor.remove(id: record.id, owner: record.owner)
            try await store.delete(id: record.id, host: record.host)
            context.logger.info("service deleted", metadata: ["name": "\(record.name)"])
            return JSONResponse(.ok, ["status": "deleted"])
        }

        let internalAPI = host.internalAPI(router, "/internal/v1", allowed: ["edge"])
        internalAPI.get("routes") { _, _ in
            JSONResponse(.ok, ["routes": try await store.routes()])
        }

        // The users service acts on everything a person (or team) runs: on
        // deactivation (stop, keep), reactivation (resume) and deletion (remove).
        let owners = host.internalAPI(router, "/internal/v1/owners", allowed: ["users"])
        owners.post(":owner/stop") { _, context in
            let owner = try context.parameters.require("owner")
            var stopped = 0
            for record in try await store.list(owner: owner) where ["starting", "running"].contains(record.status) {
                try await store.setStatus(id: record.id, status: "stopping", message: "stopping", upstream: nil)
                try await supervisor.stop(id: record.id, owner: owner)
                try await store.setStatus(id: record.id, status: "stopped", message: "stopped: the account was deactivated", upstream: nil)
                stopped += 1
            }
            context.logger.info("stopped an owner's services", metadata: ["owner": "\(owner)", "count": "\(stopped)"])
            return JSONResponse(.ok, ["stopped": stopped])
        }
        owners.post(":owner/resume") { _, context in
            let owner = try context.parameters.require("owner")
            var resumed = 0
            for record in try await store.list(owner: owner) where record.status == "stopped" {
                try await store.setStatus(id: record.id, status: "starting", message: "resuming", upstream: nil)
                await supervisor.resume(id: record.id, owner: owner, name: record.name)
                resumed += 1
            }
            return JSONResponse(.ok, ["resumed": resumed])
        }
        owners.delete(":owner") { _, context in
            let owner = try context.parameters.require("owner")
            var removed = 0
            for record in try await store.list(owner: owner) {
                try await store.setStatus(id: record.id, status: "stopping", message: "removing", upstream: nil)
                try await supervisor.remove(id: record.id, owner: owner)
                try await store.delete(id: record.id, host: record.host)
                removed += 1
            }
            context.logger.info("removed an owner's services", metadata: ["owner": "\(owner)", "count": "\(removed)"])
            return JSONResponse(.ok, ["removed": removed])
        }
        return router
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

    func service(named name: String, owner: String) async throws -> ServiceRecord {
        guard let record = try await store.find(owner: owner, name: name) else {
            throw KnotError.notFound("you have no service named \"\(name.prefix(64))\"")
        }
        return record
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
        guard let template = templates.first(where: { $0.id == body.template }) else {
            throw KnotError.badRequest("there is no template \"\(body.template.prefix(64))\"", code: "unknown_template")
        }
        let rendered = try renderer.render(template, values: body.values ?? [:], owner: owner(username))
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
            guard let template = templates.first(where: { $0.id == record.template }) else {
                try await store.setStatus(id: record.id, status: "failed", message: "its template is gone", upstream: nil)
                continue
            }
            var values = record.values
            values["NAME"] = record.name
            do {
                let rendered = try renderer.render(template, values: values, owner: owner(record.owner))
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
