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
    let templates: TemplateCatalogue
    let supervisor: Supervisor
    let store: ServiceStore
    /// Hands service changes to the open event streams (`GET /services/events`).
    let events = ServiceEventHub()

    init(host: ServiceHost, runtime: any ServiceRuntime, templates: TemplateCatalogue, settings launcher: LauncherSettings) {
        self.host = host
        self.runtime = runtime
        self.templates = templates
        let settings = host.settings
        self.store = ServiceStore(database: host.database, publicURL: { settings.publicURL(forHost: $0) }, culling: launcher.culling)
        let users = host.client(for: "users")
        let logger = host.logger
        self.supervisor = Supervisor(
            runtime: runtime, store: store, logger: host.logger, readinessTimeout: .seconds(launcher.startTimeoutSeconds),
            notify: { owner, kind, text in
                // A lost notification must never fail a launch; it is logged.
                struct Message: Encodable { var username, kind, text: String }
                do {
                    _ = try await users.post(
                        "/internal/v1/messages", body: Message(username: owner, kind: kind, text: text), as: [String: String].self)
                } catch {
                    logger.warning("could not post a message", metadata: ["owner": "\(owner)", "error": "\(error)"])
                }
            },
            credentials: ServiceCredentials(identity: host.client(for: "identity"), logger: host.logger))
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
        LauncherOpenAPI.document.register(on: api)
        addRoutesAPI(to: router)
        addOwnersAPI(to: router)
        return router
    }

    /// The template a person means by an id: the catalogue as they see it
    /// (built-ins, then admin, shared and their own, later ones winning).
    /// A broken template is refused (400 `template_broken`, with its problem). When the files service cannot
    /// be reached this throws 503 after a short retry, so a restart resumes later.
    func template(_ id: String, for owner: String) async throws -> Template? {
        var delay: Duration = .milliseconds(250)
        while true {
            do {
                guard let entry = try await templates.entry(id, for: owner) else { return nil }
                // A template that is listed but cannot be used says why, rather than "there is no template".
                if let problem = entry.template.problem {
                    throw KnotError.badRequest("the template \"\(id.prefix(64))\" cannot be used: \(problem)", code: "template_broken")
                }
                return entry.template
            } catch let error as KnotError where error.status == .serviceUnavailable && delay <= .seconds(1) {
                try await Task.sleep(for: delay)
                delay *= 4
            }
        }
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

    /// What a runtime runs for a service: the rendered spec, with the template it came from.
    func workloadSpec(id: UUID, name: String, owner username: String, spec: StoredSpec, template: String, version: String, values: [String: String]) -> WorkloadSpec {
        WorkloadSpec(
            id: id.uuidString.lowercased(), name: name, owner: owner(username), process: spec.process, manifests: spec.manifests,
            template: template, templateVersion: version, values: values,
            // Knot's public address, so knotctl inside a service needs no setup (docs/knotctl.md).
            environment: ["KNOT_URL": host.settings.publicURL])
    }

    /// A template's own culling limits, in seconds (nil: the launcher's settings).
    static func limits(_ template: Template) -> (idle: Int?, lifetime: Int?) {
        (template.idleMinutes.map { $0 * 60 }, template.lifetimeHours.map { $0 * 3600 })
    }

    /// Names a service may not take: they are API paths of their own.
    static let reservedNames: Set<String> = ["events"]

    /// `base` with a short random suffix (`jupyter-k3x9`), shortened so it
    /// stays a valid name that still makes an address with the username.
    static func suffixed(_ base: String, owner: String) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        let suffix = String((0..<4).map { _ in alphabet.randomElement()! })
        let room = max(1, min(40, 63 - 1 - owner.count) - 5)
        var stem = String(base.prefix(room))
        while stem.hasSuffix("-") { stem.removeLast() }
        return "\(stem)-\(suffix)"
    }

    func launch(_ body: LaunchRequest, for username: String) async throws -> ServiceRecord {
        guard let template = try await template(body.template, for: username) else {
            throw KnotError.badRequest("there is no template \"\(body.template.prefix(64))\"", code: "unknown_template")
        }
        if template.singleton, try await store.list(owner: username).contains(where: { $0.template == template.id }) {
            throw KnotError.conflict("you can run only one service from \"\(template.id)\"", code: "singleton")
        }
        var values = body.values ?? [:]
        let explicit = values["NAME"]
        if let explicit, Self.reservedNames.contains(explicit) {
            throw KnotError.badRequest("\"\(explicit)\" is reserved; choose another name", code: "invalid_name")
        }
        let declared = template.variables.first { $0.name == "NAME" }?.defaultValue ?? ""
        let base = explicit ?? (declared.isEmpty ? template.id : declared)
        let limits = Self.limits(template)
        // A name chosen by default that is taken gets a suffix; one the person chose is theirs to change.
        for attempt in 0..<6 {
            values["NAME"] = attempt == 0 && !Self.reservedNames.contains(base) ? base : Self.suffixed(base, owner: username)
            let rendered = try await renderer.render(template, values: values, owner: owner(username))
            let stored = StoredSpec(process: rendered.process, manifests: rendered.manifests)
            var spec = workloadSpec(
                id: UUID(), name: rendered.name, owner: username, spec: stored, template: template.id, version: template.version,
                values: rendered.values)
            if let reason = runtime.unsupportedReason(spec) {
                throw KnotError.conflict("the template \"\(template.id)\" cannot run here: \(reason)", code: "unsupported")
            }
            let record: ServiceRecord
            do {
                record = try await store.insert(
                    owner: username, name: rendered.name, template: template.id, templateVersion: template.version, host: rendered.host,
                    values: rendered.values, isPublic: template.isPublic, spec: stored, idleLimitSeconds: limits.idle,
                    lifetimeLimitSeconds: limits.lifetime)
            } catch let error as KnotError where error.code == "service_exists" && explicit == nil && attempt < 5 {
                continue
            }
            spec.id = record.id.uuidString.lowercased()
            await supervisor.launch(id: record.id, spec: spec)
            return try await present([record], for: username)[0]
        }
        throw KnotError.conflict("could not find a free name for a service from \"\(template.id)\"", code: "service_exists")
    }

    /// The spec a recorded service runs: the one kept at launch or upgrade, else
    /// (services launched before specs were kept) rendered again from its template.
    func spec(of record: ServiceRecord) async throws -> WorkloadSpec {
        if let stored = record.spec {
            return workloadSpec(
                id: record.id, name: record.name, owner: record.owner, spec: stored, template: record.template,
                version: record.templateVersion, values: record.values)
        }
        guard let template = try await template(record.template, for: record.owner) else {
            throw KnotError.conflict("its template \"\(record.template)\" is gone", code: "template_gone")
        }
        var values = record.values.filter { key, _ in key == "NAME" || template.variables.contains { $0.name == key } }
        values["NAME"] = record.name
        let rendered = try await renderer.render(template, values: values, owner: owner(record.owner))
        let stored = StoredSpec(process: rendered.process, manifests: rendered.manifests)
        try await store.keepSpec(id: record.id, spec: stored)
        return workloadSpec(
            id: record.id, name: record.name, owner: record.owner, spec: stored, template: record.template, version: record.templateVersion,
            values: rendered.values)
    }

    /// Starts a stopped (or failed) service again, in the background.
    func start(_ record: ServiceRecord) async throws {
        let spec = try await spec(of: record)
        try await store.update(
            id: record.id, status: "starting", message: "starting", reason: WorkloadReason.pending, ready: 0, desired: record.desiredReplicas == 0 ? 1 : nil,
            route: .keep, restarted: true)
        await supervisor.launch(id: record.id, spec: spec, announce: false)
    }

    /// Re-renders a service with the catalogue's newer version of its template,
    /// keeping its values (new variables take their defaults, removed ones go).
    func upgrade(_ record: ServiceRecord) async throws -> ServiceRecord {
        guard let template = try await template(record.template, for: record.owner) else {
            throw KnotError.conflict("its template \"\(record.template)\" is gone", code: "template_gone")
        }
        guard TemplateVersion.isNewer(template.version, than: record.templateVersion) else {
            throw KnotError.conflict(
                "\(record.name) already runs the newest version of \"\(template.id)\"" + (template.version.isEmpty ? "" : " (\(template.version))"),
                code: "no_upgrade")
        }
        var values = record.values.filter { key, _ in template.variables.contains { $0.name == key } && !TemplateRenderer.automatic.contains(key) }
        values["NAME"] = record.name
        let rendered = try await renderer.render(template, values: values, owner: owner(record.owner))
        let stored = StoredSpec(process: rendered.process, manifests: rendered.manifests)
        let spec = workloadSpec(
            id: record.id, name: record.name, owner: record.owner, spec: stored, template: template.id, version: template.version,
            values: rendered.values)
        if let reason = runtime.unsupportedReason(spec) {
            throw KnotError.conflict("the new version of \"\(template.id)\" cannot run here: \(reason)", code: "unsupported")
        }
        let limits = Self.limits(template)
        try await store.upgrade(
            id: record.id, templateVersion: template.version, values: rendered.values, spec: stored, idleLimitSeconds: limits.idle,
            lifetimeLimitSeconds: limits.lifetime)
        try await store.update(
            id: record.id, status: "starting", message: "upgrading to version \(template.version)", reason: WorkloadReason.pending,
            ready: 0, desired: record.desiredReplicas == 0 ? 1 : nil, route: .keep, restarted: true)
        await supervisor.launch(id: record.id, spec: spec, announce: true)
        guard let updated = try await store.find(id: record.id) else { throw KnotError.notFound("the service is gone") }
        return try await present([updated], for: record.owner)[0]
    }

    /// Records as the API shows them: whether the catalogue has a newer
    /// version of each one's template (looked up once per template).
    func present(_ records: [ServiceRecord], for owner: String) async throws -> [ServiceRecord] {
        var latest: [String: String?] = [:]
        var shown: [ServiceRecord] = []
        shown.reserveCapacity(records.count)
        for var record in records {
            if latest[record.template] == nil {
                latest[record.template] = .some((try? await template(record.template, for: owner))?.version)
            }
            if let version = latest[record.template] ?? nil {
                record.latestVersion = version
                record.upgradeAvailable = TemplateVersion.isNewer(version, than: record.templateVersion)
            }
            shown.append(record)
        }
        return shown
    }

    /// After a restart, starts again what should be running.
    func resume() async throws {
        for record in try await store.wanted() {
            do {
                let spec = try await spec(of: record)
                try await store.update(id: record.id, status: "starting", message: "restarting", reason: WorkloadReason.pending, route: .keep)
                await supervisor.launch(id: record.id, spec: spec, announce: false)
            } catch {
                try await store.update(
                    id: record.id, status: "failed", message: "\(error)", reason: WorkloadReason.error, ready: 0, route: .withdraw)
            }
        }
    }
}

/// Template versions: compared numerically part by part when both are
/// dot-separated numbers (`1.10` is newer than `1.9`), else as strings.
enum TemplateVersion {
    static func isNewer(_ candidate: String, than current: String) -> Bool {
        guard !candidate.isEmpty, candidate != current else { return false }
        let a = candidate.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        let b = current.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        if !current.isEmpty, a.allSatisfy({ $0 != nil }), b.allSatisfy({ $0 != nil }) {
            let x = a.map { $0! }, y = b.map { $0! }
            for i in 0..<max(x.count, y.count) {
                let l = i < x.count ? x[i] : 0, r = i < y.count ? y[i] : 0
                if l != r { return l > r }
            }
            return false
        }
        return candidate > current
    }
}
