import Foundation
import KnotKubernetes
import Logging

/// Runs services on Kubernetes: each user has a namespace with their own
/// account, limits, isolation and file volumes; each service is the objects
/// its template renders, applied server-side as field manager `knot` while
/// impersonating the user's account, and listed in an inventory ConfigMap so
/// that stop, resume, update and removal touch exactly those objects.
/// Every operation converges: running it twice leaves the same state.
public struct KubernetesRuntime: ServiceRuntime {
    public let kind = "kubernetes"
    public let client: KubernetesClient
    public let settings: KubernetesRuntimeSettings
    let logger: Logger

    public init(client: KubernetesClient, settings: KubernetesRuntimeSettings, logger: Logger) {
        self.client = client
        self.settings = settings
        self.logger = logger
    }

    /// The client that acts inside a user's namespace: as the user's account when impersonation is on.
    func userClient(_ namespace: String) -> KubernetesClient {
        settings.launcherAccount == nil ? client : client.impersonating(settings.userAccountName(namespace: namespace))
    }

    // MARK: Users' spaces

    public func provision(_ user: RuntimeUser) async throws {
        _ = try await withdrawAdminDomain(from: user)
        for object in try UserSpace(settings: settings, user: user).objects() {
            _ = try await client.apply(object, resource: try await client.resource(apiVersion: object.apiVersion, kind: object.kind))
        }
        logger.info("user space ready", metadata: ["namespace": "\(user.namespace)"])
    }

    /// Reads each object before applying it: missing ones are created, ones
    /// whose apply changed them (their resourceVersion moved) were drifted and
    /// are repaired; an object already right is left untouched by the API server.
    public func reconcile(_ user: RuntimeUser) async throws -> [String] {
        var changes = try await withdrawAdminDomain(from: user)
        for object in try UserSpace(settings: settings, user: user).objects() {
            let resource = try await client.resource(apiVersion: object.apiVersion, kind: object.kind)
            let name = object.name ?? ""
            let before: UnstructuredObject?
            do {
                before = try await client.get(resource, name, namespace: resource.namespaced ? object.namespace : nil)
            } catch let error as KubernetesAPIError where error.isNotFound {
                before = nil
            }
            let after = try await client.apply(object, resource: resource)
            let label = "\(object.kind)/\(name)"
            if before == nil {
                changes.append("created \(label)")
            } else if before?.resourceVersion != after.resourceVersion {
                changes.append("repaired \(label)")
            }
        }
        return changes
    }

    /// A person who is no longer an administrator loses the admin domain's
    /// claim and volume, or a pod of theirs could still mount it by name.
    func withdrawAdminDomain(from user: RuntimeUser) async throws -> [String] {
        guard !user.admin else { return [] }
        let space = UserSpace(settings: settings, user: user)
        var removed: [String] = []
        // One already being deleted (held by its protection finalizer until no pod uses it) is not reported twice.
        if let claim = try await client.getIfPresent(PersistentVolumeClaim.self, KubernetesRuntimeSettings.adminClaim, namespace: user.namespace),
            claim.metadata.deletionTimestamp == nil
        {
            try await client.deleteIfPresent(.persistentVolumeClaim, KubernetesRuntimeSettings.adminClaim, namespace: user.namespace)
            removed.append("removed PersistentVolumeClaim/\(KubernetesRuntimeSettings.adminClaim)")
        }
        if let volume = try await client.getIfPresent(PersistentVolume.self, space.adminVolumeName), volume.metadata.deletionTimestamp == nil {
            try await client.deleteIfPresent(.persistentVolume, space.adminVolumeName)
            removed.append("removed PersistentVolume/\(space.adminVolumeName)")
        }
        return removed
    }

    public func deprovision(_ user: RuntimeUser) async throws {
        let space = UserSpace(settings: settings, user: user)
        do {
            try await client.deleteIfPresent(.namespace, user.namespace, propagation: .background)
        } catch let error as KubernetesAPIError where error.isConflict {
            // Already being deleted: Kubernetes is removing its contents.
        }
        // The volumes are kept by policy (Retain): the files belong to the files service.
        for volume in [space.privateVolumeName, space.sharedVolumeName, space.adminVolumeName] {
            try await client.deleteIfPresent(.persistentVolume, volume)
        }
        logger.info("user space removed", metadata: ["namespace": "\(user.namespace)"])
    }

    public func unsupportedReason(_ spec: WorkloadSpec) -> String? {
        guard let manifests = spec.manifests, !manifests.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            return "the template has no Kubernetes objects"
        }
        return nil
    }

    // MARK: Inventory

    /// What Knot applied for one service: the objects (as applied) and where its traffic goes.
    struct Inventory: Codable, Sendable {
        var objects: [UnstructuredObject]
        var exposure: Exposure?
    }

    static func inventoryName(_ id: String) -> String { "knot-service-\(id)" }

    func readInventory(_ ref: WorkloadRef) async throws -> Inventory? {
        guard let map = try await userClient(ref.namespace).getIfPresent(ConfigMap.self, Self.inventoryName(ref.id), namespace: ref.namespace),
            let text = map.data?["inventory"]
        else { return nil }
        return try JSONDecoder().decode(Inventory.self, from: Data(text.utf8))
    }

    func writeInventory(_ inventory: Inventory, spec: WorkloadSpec) async throws {
        let text = String(decoding: try JSONEncoder().encode(inventory), as: UTF8.self)
        var labels = WorkloadManifests.labels(for: spec)
        labels[KnotLabels.inventory] = "true"
        let map = ConfigMap(
            metadata: ObjectMeta(name: Self.inventoryName(spec.id), namespace: spec.owner.namespace, labels: labels),
            data: ["inventory": text])
        _ = try await userClient(spec.owner.namespace).apply(map)
    }

    static func key(_ object: UnstructuredObject) -> String { "\(object.apiVersion)/\(object.kind)/\(object.name ?? "")" }

    // MARK: Services

    public func start(_ spec: WorkloadSpec, readinessTimeout: Duration) async throws -> WorkloadStatus {
        try await deploy(spec)
        return try await waitUntilSettled(spec.ref, timeout: readinessTimeout)
    }

    /// Applies the service's objects without waiting for them to run; returns how many were applied.
    @discardableResult
    public func deploy(_ spec: WorkloadSpec) async throws -> Int {
        let prepared: WorkloadManifests
        do {
            prepared = try WorkloadManifests.prepare(spec.manifests ?? "", spec: spec, settings: settings)
        } catch let error as WorkloadManifests.PolicyError {
            throw RuntimeError(error.description)
        }
        let user = userClient(spec.owner.namespace)
        var resources: [ResourceKind] = []
        for object in prepared.objects {
            let resource: ResourceKind
            do {
                resource = try await client.resource(apiVersion: object.apiVersion, kind: object.kind)
            } catch let error as ManifestError {
                throw RuntimeError("\(object.reference): \(error.description)")
            }
            guard resource.namespaced else {
                throw RuntimeError("\(object.reference) is a cluster-wide kind; services may create only namespaced objects")
            }
            resources.append(resource)
        }

        // A dry run of everything first: if any object is refused, nothing changes.
        for (object, resource) in zip(prepared.objects, resources) {
            do {
                _ = try await user.apply(object, resource: resource, force: true, dryRun: true)
            } catch let error as KubernetesAPIError {
                throw RuntimeError(Self.explain(error, object: object))
            }
        }

        let previous = try await readInventory(spec.ref)
        let newKeys = Set(prepared.objects.map(Self.key))
        let stale = (previous?.objects ?? []).filter { !newKeys.contains(Self.key($0)) }
        // Record the union before applying, so an interrupted update leaves nothing unaccounted for.
        try await writeInventory(Inventory(objects: prepared.objects + stale, exposure: prepared.exposure), spec: spec)
        var applied: [UnstructuredObject] = []
        do {
            for (object, resource) in zip(prepared.objects, resources) {
                applied.append(try await user.apply(object, resource: resource, force: true))
            }
        } catch {
            if previous == nil {
                // A first deploy that failed half-way is taken back entirely.
                try? await remove(spec.ref)
            }
            if let error = error as? KubernetesAPIError {
                throw RuntimeError(Self.explain(error, object: prepared.objects[applied.count]))
            }
            throw error
        }
        for object in stale { try await deleteObject(object, namespace: spec.owner.namespace) }
        try await writeInventory(Inventory(objects: prepared.objects, exposure: prepared.exposure), spec: spec)
        try await restoreReplicas(applied, namespace: spec.owner.namespace)
        logger.info("service applied", metadata: ["service": "\(spec.name)", "namespace": "\(spec.owner.namespace)", "objects": "\(applied.count)"])
        return applied.count
    }

    static func explain(_ error: KubernetesAPIError, object: UnstructuredObject) -> String {
        let causes = error.causes
        return "Kubernetes refused \(object.reference): \(error.message)" + (causes.isEmpty ? "" : " (\(causes.joined(separator: "; ")))")
    }

    /// Waits until the service runs or has failed, or the time is up (then it has failed, with the reason it was waiting).
    func waitUntilSettled(_ ref: WorkloadRef, timeout: Duration) async throws -> WorkloadStatus {
        let deadline = ContinuousClock.now + timeout
        while true {
            guard let status = try await status(ref) else {
                return WorkloadStatus(phase: .failed, message: "the service's objects are gone", reason: WorkloadReason.error)
            }
            if status.phase != .starting { return status }
            if ContinuousClock.now >= deadline {
                var failed = status
                failed.phase = .failed
                failed.message = "not ready after \(timeout): \(status.message)"
                failed.reason = failed.reason ?? WorkloadReason.timeout
                return failed
            }
            try await Task.sleep(for: settings.pollInterval)
        }
    }

    func deleteObject(_ object: UnstructuredObject, namespace: String) async throws {
        guard let name = object.name else { return }
        let resource = try await client.resource(apiVersion: object.apiVersion, kind: object.kind)
        try await userClient(namespace).deleteIfPresent(resource, name, namespace: namespace, propagation: .background)
    }

    static let scalable: Set<String> = ["Deployment", "StatefulSet", "ReplicaSet"]

    /// Scales every workload to zero, remembering its replicas in an annotation.
    public func stop(_ ref: WorkloadRef) async throws {
        guard let inventory = try await readInventory(ref) else { return }
        let user = userClient(ref.namespace)
        for object in inventory.objects {
            guard let name = object.name else { continue }
            let resource = try await client.resource(apiVersion: object.apiVersion, kind: object.kind)
            if Self.scalable.contains(object.kind) {
                let live: UnstructuredObject
                do {
                    live = try await user.get(resource, name, namespace: ref.namespace)
                } catch let error as KubernetesAPIError where error.isNotFound {
                    continue
                }
                // Stopping twice must not forget the replicas it had.
                if live.annotations[KnotLabels.stoppedReplicas] != nil { continue }
                let replicas = live["spec", "replicas"]?.intValue ?? 1
                let patch: JSONValue = [
                    "metadata": ["annotations": [KnotLabels.stoppedReplicas: .string("\(replicas)")]], "spec": ["replicas": 0],
                ]
                _ = try await user.mergePatch(resource, name, namespace: ref.namespace, patch: patch)
            } else if object.kind == "Pod" || object.kind == "Job" {
                // Nothing to scale: they go, and resume creates them again from the inventory.
                try await user.deleteIfPresent(resource, name, namespace: ref.namespace, propagation: .background)
            }
        }
    }

    public func resume(_ ref: WorkloadRef, readinessTimeout: Duration) async throws -> WorkloadStatus {
        guard let inventory = try await readInventory(ref) else {
            throw RuntimeError("the service's objects are gone; launch it again")
        }
        let user = userClient(ref.namespace)
        var applied: [UnstructuredObject] = []
        for object in inventory.objects where object.kind == "Pod" || object.kind == "Job" || Self.scalable.contains(object.kind) {
            let resource = try await client.resource(apiVersion: object.apiVersion, kind: object.kind)
            applied.append(try await user.apply(object, resource: resource, force: true))
        }
        try await restoreReplicas(applied, namespace: ref.namespace)
        return try await waitUntilSettled(ref, timeout: readinessTimeout)
    }

    /// Undoes `stop` on workloads that carry its annotation.
    func restoreReplicas(_ objects: [UnstructuredObject], namespace: String) async throws {
        for object in objects where Self.scalable.contains(object.kind) {
            guard let name = object.name, let saved = object.annotations[KnotLabels.stoppedReplicas] else { continue }
            let resource = try await client.resource(apiVersion: object.apiVersion, kind: object.kind)
            let replicas = Int64(saved) ?? 1
            let patch: JSONValue = ["metadata": ["annotations": [KnotLabels.stoppedReplicas: .null]], "spec": ["replicas": .int(replicas)]]
            _ = try await userClient(namespace).mergePatch(resource, name, namespace: namespace, patch: patch)
        }
    }

    public func remove(_ ref: WorkloadRef) async throws {
        let user = userClient(ref.namespace)
        if let inventory = try await readInventory(ref) {
            for object in inventory.objects { try await deleteObject(object, namespace: ref.namespace) }
        } else {
            // No inventory (an interrupted first deploy): sweep by label what Knot could have made.
            let selector = "\(KnotLabels.serviceID)=\(ref.id)"
            for resource in [ResourceKind.deployment, .statefulSet, .job, .pod, .service, .configMap, .secret, .persistentVolumeClaim] {
                for object in try await user.list(resource, namespace: ref.namespace, labelSelector: selector) {
                    if let name = object.name { try await user.deleteIfPresent(resource, name, namespace: ref.namespace) }
                }
            }
        }
        try await user.deleteIfPresent(.configMap, Self.inventoryName(ref.id), namespace: ref.namespace)
    }

    public func status(_ ref: WorkloadRef) async throws -> WorkloadStatus? {
        guard let inventory = try await readInventory(ref) else { return nil }
        let user = userClient(ref.namespace)
        var replicated: [any ReplicatedWorkload] = []
        var jobs: [Job] = []
        for object in inventory.objects {
            guard let name = object.name else { continue }
            switch object.kind {
            case "Deployment": if let live = try await user.getIfPresent(Deployment.self, name, namespace: ref.namespace) { replicated.append(live) }
            case "StatefulSet": if let live = try await user.getIfPresent(StatefulSet.self, name, namespace: ref.namespace) { replicated.append(live) }
            case "Job": if let live = try await user.getIfPresent(Job.self, name, namespace: ref.namespace) { jobs.append(live) }
            default: break
            }
        }
        let pods = try await user.listAll(Pod.self, namespace: ref.namespace, labelSelector: "\(KnotLabels.serviceID)=\(ref.id)").items
        // Events name pods, their ReplicaSets and the workloads; keep those that concern this service.
        var names = Set(pods.map(\.name) + inventory.objects.compactMap(\.name))
        for pod in pods { for owner in pod.metadata.ownerReferences ?? [] { names.insert(owner.name) } }
        let events = try await user.listAll(Event.self, namespace: ref.namespace).items.filter { event in
            let subject = event.involvedObject.name ?? ""
            return names.contains(subject) || names.contains(where: { subject.hasPrefix($0 + "-") })
        }
        let workloads = WorkloadInspector.workloads(replicated: replicated, jobs: jobs)
        return WorkloadInspector.summarize(
            workloads: workloads, pods: pods, events: events, upstream: inventory.exposure?.upstream(namespace: ref.namespace))
    }

    public func workloads(in namespace: String) async throws -> [WorkloadRef] {
        let maps = try await userClient(namespace).listAll(ConfigMap.self, namespace: namespace, labelSelector: "\(KnotLabels.inventory)=true")
        return maps.items.compactMap { $0.metadata.labels?[KnotLabels.serviceID] }.sorted().map { WorkloadRef(id: $0, namespace: namespace) }
    }

    /// Every container of every pod of the service; lines are prefixed with
    /// `pod/container` when there is more than one of them.
    public func logs(_ ref: WorkloadRef, follow: Bool, tailLines: Int?) async throws -> AsyncThrowingStream<String, Error> {
        let user = userClient(ref.namespace)
        let pods = try await user.listAll(Pod.self, namespace: ref.namespace, labelSelector: "\(KnotLabels.serviceID)=\(ref.id)").items
            .sorted { $0.name < $1.name }
        let sources = pods.flatMap { pod in pod.containerNames.map { (pod: pod.name, container: $0) } }
        let prefixed = sources.count > 1
        return AsyncThrowingStream { continuation in
            let task = Task {
                await withTaskGroup(of: Void.self) { group in
                    for source in sources {
                        group.addTask {
                            let lines = user.logs(
                                namespace: ref.namespace, pod: source.pod, container: source.container, follow: follow, tailLines: tailLines)
                            do {
                                for try await line in lines {
                                    continuation.yield(prefixed ? "[\(source.pod)/\(source.container)] \(line)" : line)
                                }
                            } catch let error as KubernetesAPIError where error.code == 400 {
                                // A container that has not started has no log yet; say so instead of failing the rest.
                                continuation.yield("[\(source.pod)/\(source.container)] (no log yet: \(error.message))")
                            } catch {
                                continuation.yield("[\(source.pod)/\(source.container)] (log interrupted: \(error))")
                            }
                        }
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    public func readinessProblem() async -> String? {
        do {
            try await client.checkAccess()
            return nil
        } catch let error as KubernetesAPIError where error.reason == .unauthorized {
            return "Kubernetes rejected Knot's credentials (\(client.configuration.source)): \(error.message)"
        } catch {
            return "\(error)"
        }
    }

    public func shutdown() async {
        // Services on Kubernetes outlive the launcher; only the connection pool goes.
        try? await client.shutdown()
    }
}
