import Foundation
import KnotModels
import KnotRuntime
import Logging
import ServiceLifecycle

/// Starts services in the background and keeps their recorded status true:
/// a launch answers at once (202) and the status moves from `starting` to
/// `running` or `failed`; a service that dies later is marked failed and its
/// route withdrawn; on shutdown the runtime's children are stopped.
actor Supervisor {
    let runtime: any ServiceRuntime
    let store: ServiceStore
    let logger: Logger
    let readinessTimeout: Duration
    private var starting: [UUID: Task<Void, Never>] = [:]
    /// Tells the owner how a launch ended (a message in the users service).
    let notify: @Sendable (_ owner: String, _ kind: String, _ text: String) async -> Void

    init(
        runtime: any ServiceRuntime, store: ServiceStore, logger: Logger, readinessTimeout: Duration,
        notify: @escaping @Sendable (_ owner: String, _ kind: String, _ text: String) async -> Void = { _, _, _ in }
    ) {
        self.runtime = runtime
        self.store = store
        self.logger = logger
        self.readinessTimeout = readinessTimeout
        self.notify = notify
    }

    func launch(id: UUID, spec: WorkloadSpec) {
        starting[id]?.cancel()
        let runtime = self.runtime
        let store = self.store
        let timeout = readinessTimeout
        let logger = self.logger
        let notify = self.notify
        starting[id] = Task {
            let status: WorkloadStatus
            do {
                status = try await runtime.start(spec, readinessTimeout: timeout)
            } catch {
                status = WorkloadStatus(phase: .failed, message: "\(error)")
            }
            guard !Task.isCancelled else { return }
            do {
                try await store.setStatus(
                    id: id, status: status.phase.rawValue, message: status.message,
                    upstream: status.phase == .running ? status.upstream : nil)
                logger.info("service \(status.phase.rawValue)", metadata: ["name": "\(spec.name)", "owner": "\(spec.owner.username)"])
            } catch {
                logger.error("could not record a service's status", metadata: ["error": "\(error)"])
            }
            switch status.phase {
            case .running: await notify(spec.owner.username, "service.ready", "\(spec.name) is ready")
            case .failed: await notify(spec.owner.username, "service.failed", "\(spec.name) failed to start: \(status.message)")
            default: break
            }
            self.finished(id)
        }
    }

    private func finished(_ id: UUID) { starting[id] = nil }

    /// Removes the service's workload for good (the service is being deleted).
    func remove(id: UUID, owner: String) async throws {
        starting[id]?.cancel()
        starting[id] = nil
        try await runtime.remove(WorkloadRef(id: id.uuidString.lowercased(), namespace: UserRecord.namespace(for: owner)))
    }

    static func ref(_ id: UUID, owner: String) -> WorkloadRef {
        WorkloadRef(id: id.uuidString.lowercased(), namespace: UserRecord.namespace(for: owner))
    }

    /// Stops a service but keeps it (scaled to nothing), to be resumed later.
    func stop(id: UUID, owner: String) async throws {
        starting[id]?.cancel()
        starting[id] = nil
        try await runtime.stop(Self.ref(id, owner: owner))
    }

    /// Starts a stopped service again in the background, recording how it went.
    func resume(id: UUID, owner: String, name: String) {
        starting[id]?.cancel()
        let runtime = self.runtime
        let store = self.store
        let timeout = readinessTimeout
        let logger = self.logger
        starting[id] = Task {
            let status: WorkloadStatus
            do {
                status = try await runtime.resume(Self.ref(id, owner: owner), readinessTimeout: timeout)
            } catch {
                status = WorkloadStatus(phase: .failed, message: "\(error)")
            }
            guard !Task.isCancelled else { return }
            try? await store.setStatus(
                id: id, status: status.phase.rawValue, message: status.message, upstream: status.phase == .running ? status.upstream : nil)
            logger.info("service resumed: \(status.phase.rawValue)", metadata: ["name": "\(name)", "owner": "\(owner)"])
            self.finished(id)
        }
    }

    /// Marks services whose workload died as failed, withdrawing their routes.
    func reconcile() async {
        guard let records = try? await store.wanted() else { return }
        for record in records where record.status == "running" && starting[record.id] == nil {
            let ref = WorkloadRef(id: record.id.uuidString.lowercased(), namespace: UserRecord.namespace(for: record.owner))
            // An unreachable runtime says nothing about the service: try again next round.
            guard let status = try? await runtime.status(ref) else { continue }
            if status.phase == .failed || status.phase == .stopped {
                try? await store.setStatus(id: record.id, status: status.phase.rawValue, message: status.message, upstream: nil)
                logger.warning("service stopped running", metadata: ["name": "\(record.name)", "owner": "\(record.owner)", "reason": "\(status.message)"])
            }
        }
    }

    func shutdown() async {
        for task in starting.values { task.cancel() }
        starting.removeAll()
        await runtime.shutdown()
    }
}

/// Runs the supervisor's periodic reconcile and stops workloads on shutdown.
struct SupervisorService: Service {
    let supervisor: Supervisor
    let interval: Duration

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await supervisor.reconcile()
            }
        }
        await supervisor.shutdown()
    }
}
