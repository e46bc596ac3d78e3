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

    init(runtime: any ServiceRuntime, store: ServiceStore, logger: Logger, readinessTimeout: Duration) {
        self.runtime = runtime
        self.store = store
        self.logger = logger
        self.readinessTimeout = readinessTimeout
    }

    func launch(id: UUID, spec: WorkloadSpec) {
        starting[id]?.cancel()
        let runtime = self.runtime
        let store = self.store
        let timeout = readinessTimeout
        let logger = self.logger
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
