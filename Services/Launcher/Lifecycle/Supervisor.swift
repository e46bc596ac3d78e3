import Foundation
import KnotModels
import KnotRuntime
import Logging
import ServiceLifecycle

/// Starts services in the background and keeps their recorded status true:
/// a launch answers at once (202) and the status moves from `starting` to
/// `ready` or `failed`; afterwards the runtime is polled (and the local
/// runtime reports restarts itself), so the database always holds the live
/// status — phase, replicas, restarts, the reason it waits — and the API
/// lists services from the database alone. It also culls idle and expired
/// services, and stops every child on shutdown.
actor Supervisor {
    let runtime: any ServiceRuntime
    let store: ServiceStore
    let logger: Logger
    let readinessTimeout: Duration
    private var starting: [UUID: Task<Void, Never>] = [:]
    /// Tells the owner how a launch ended (a message in the users service).
    let notify: @Sendable (_ owner: String, _ kind: String, _ text: String) async -> Void
    /// Mints each start's `KNOT_TOKEN` and revokes it on removal (nil: services get none).
    let credentials: ServiceCredentials?

    init(
        runtime: any ServiceRuntime, store: ServiceStore, logger: Logger, readinessTimeout: Duration,
        notify: @escaping @Sendable (_ owner: String, _ kind: String, _ text: String) async -> Void = { _, _, _ in },
        credentials: ServiceCredentials? = nil
    ) {
        self.credentials = credentials
        self.runtime = runtime
        self.store = store
        self.logger = logger
        self.readinessTimeout = readinessTimeout
        self.notify = notify
    }

    static func ref(_ id: UUID, owner: String) -> WorkloadRef {
        WorkloadRef(id: id.uuidString.lowercased(), namespace: UserRecord.namespace(for: owner))
    }

    /// Hears of changes the runtime notices itself (a local process restarting).
    func attach() async {
        await runtime.onStatusChange { [weak self] ref in
            await self?.refresh(ref)
        }
    }

    /// The recorded status for a runtime's, and what it does to the route.
    static func recorded(_ status: WorkloadStatus) -> (status: String, route: RouteChange) {
        switch status.phase {
        case .running: return ("ready", status.upstream.map(RouteChange.serve) ?? .keep)
        case .starting: return ("starting", .keep)
        case .failed: return ("failed", .withdraw)
        case .stopped: return ("stopped", .stopped)
        }
    }

    /// Records a runtime status. With `expecting`, only if the recorded status
    /// is still that one (a poll must not undo a stop that happened meanwhile).
    @discardableResult
    func record(_ id: UUID, _ status: WorkloadStatus, restarted: Bool = false, expecting: String? = nil) async throws -> Bool {
        let (name, route) = Self.recorded(status)
        return try await store.update(
            id: id, status: name, message: status.message, reason: status.phase == .running ? "" : status.reason ?? "",
            ready: status.readyReplicas ?? (status.phase == .running ? 1 : 0), desired: status.desiredReplicas ?? (status.phase == .stopped ? 0 : 1),
            restarts: status.restarts, route: route, restarted: restarted, expecting: expecting)
    }

    /// Starts (or restarts, or updates to a new spec) a service in the background.
    func launch(id: UUID, spec: WorkloadSpec, announce: Bool = true) {
        starting[id]?.cancel()
        let runtime = self.runtime
        let timeout = readinessTimeout
        let logger = self.logger
        let notify = self.notify
        let credentials = self.credentials
        starting[id] = Task {
            let status: WorkloadStatus
            do {
                var spec = spec
                if let credentials { spec.secretEnvironment = await credentials.mint(owner: spec.owner.username, service: spec.name) }
                status = try await runtime.start(spec, readinessTimeout: timeout)
            } catch {
                status = WorkloadStatus(phase: .failed, message: "\(error)", reason: WorkloadReason.error)
            }
            guard !Task.isCancelled else { return }
            do {
                try await self.record(id, status)
                logger.info("service \(status.phase.rawValue)", metadata: ["name": "\(spec.name)", "owner": "\(spec.owner.username)"])
            } catch {
                logger.error("could not record a service's status", metadata: ["error": "\(error)"])
            }
            if announce {
                switch status.phase {
                case .running: await notify(spec.owner.username, "service.ready", "\(spec.name) is ready")
                case .failed: await notify(spec.owner.username, "service.failed", "\(spec.name) failed to start: \(status.message)")
                default: break
                }
            }
            self.finished(id)
        }
    }

    private func finished(_ id: UUID) { starting[id] = nil }

    /// Removes the service's workload for good (the service is being deleted).
    func remove(id: UUID, owner: String) async throws {
        starting[id]?.cancel()
        starting[id] = nil
        try await runtime.remove(Self.ref(id, owner: owner))
        if let credentials, let record = try? await store.find(id: id) {
            await credentials.revoke(owner: owner, service: record.name)
        }
    }

    /// Stops a service but keeps it (scaled to nothing), to be started later;
    /// its route stays, marked stopped.
    /// (A deactivated account's services lose their routes instead.)
    func stop(id: UUID, owner: String, message: String = "stopped", reason: String = "", route: RouteChange = .stopped) async throws {
        starting[id]?.cancel()
        starting[id] = nil
        try await runtime.stop(Self.ref(id, owner: owner))
        try await store.update(id: id, status: "stopped", message: message, reason: reason, ready: 0, desired: 0, route: route)
    }

    /// Starts a stopped workload again as it was (the runtime still has it) in the background.
    func resume(id: UUID, owner: String, name: String) {
        starting[id]?.cancel()
        let runtime = self.runtime
        let timeout = readinessTimeout
        let logger = self.logger
        starting[id] = Task {
            let status: WorkloadStatus
            do {
                status = try await runtime.resume(Self.ref(id, owner: owner), readinessTimeout: timeout)
            } catch {
                status = WorkloadStatus(phase: .failed, message: "\(error)", reason: WorkloadReason.error)
            }
            guard !Task.isCancelled else { return }
            _ = try? await self.record(id, status)
            logger.info("service resumed: \(status.phase.rawValue)", metadata: ["name": "\(name)", "owner": "\(owner)"])
            self.finished(id)
        }
    }

    /// Brings one service's record up to date with the runtime (called when the runtime says it changed).
    func refresh(_ ref: WorkloadRef) async {
        guard let id = UUID(uuidString: ref.id), let record = try? await store.find(id: id) else { return }
        await sync(record)
    }

    /// Brings a record up to date with the runtime. While a start is under
    /// way, only the reason it waits is recorded; the start records how it ended.
    func sync(_ record: ServiceRecord) async {
        // An unreachable runtime says nothing about the service: try again next round.
        guard let status = try? await runtime.status(record.ref) else {
            if record.status == "ready" && starting[record.id] == nil {
                _ = try? await store.update(
                    id: record.id, status: "failed", message: "its workload is gone", reason: WorkloadReason.error, ready: 0,
                    route: .withdraw, expecting: "ready")
            }
            return
        }
        if starting[record.id] != nil {
            guard status.phase == .starting else { return }
            _ = try? await self.record(record.id, status, expecting: "starting")
            return
        }
        do {
            let changed = try await self.record(record.id, status, expecting: record.status)
            let now = Self.recorded(status).status
            if changed && now != record.status {
                logger.info(
                    "service status changed", metadata: ["name": "\(record.name)", "owner": "\(record.owner)", "from": "\(record.status)", "to": "\(now)", "reason": "\(status.message)"])
                if now == "failed" && record.status == "ready" {
                    await notify(record.owner, "service.failed", "\(record.name) stopped working: \(status.message)")
                }
            }
        } catch {
            logger.warning("could not record a service's status", metadata: ["name": "\(record.name)", "error": "\(error)"])
        }
    }

    /// Polls the runtime for every service it should be running (a few at a time).
    func reconcile() async {
        guard let records = try? await store.watched() else { return }
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for record in records {
                if inFlight >= 8 {
                    await group.next()
                    inFlight -= 1
                }
                group.addTask { await self.sync(record) }
                inFlight += 1
            }
        }
    }

    /// Stops services idle longer than allowed, or older than their lifetime,
    /// saying why in their status and in a message to the owner.
    func cull(now: Date = Date()) async {
        guard let records = try? await store.cullable() else { return }
        for record in records {
            guard let verdict = store.culling.verdict(record, now: now) else { continue }
            let message: String
            let reason: String
            switch verdict {
            case .idle(let seconds):
                message = "stopped after \(CullingSettings.words(seconds)) without use"
                reason = "idle"
            case .lifetime(let seconds):
                message = "stopped: it reached its maximum lifetime of \(CullingSettings.words(seconds))"
                reason = "lifetime"
            }
            do {
                try await stop(id: record.id, owner: record.owner, message: message, reason: reason)
                logger.info("service culled", metadata: ["name": "\(record.name)", "owner": "\(record.owner)", "why": "\(reason)"])
                await notify(record.owner, "service.stopped", "\(record.name) was \(message); start it again whenever you need it")
            } catch {
                logger.warning("could not cull a service", metadata: ["name": "\(record.name)", "error": "\(error)"])
            }
        }
    }

    func shutdown() async {
        for task in starting.values { task.cancel() }
        starting.removeAll()
        await runtime.shutdown()
    }
}

/// Runs the supervisor's periodic reconcile and culling, and stops workloads on shutdown.
struct SupervisorService: Service {
    let supervisor: Supervisor
    let interval: Duration

    func run() async throws {
        await supervisor.attach()
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await supervisor.reconcile()
                await supervisor.cull()
            }
        }
        await supervisor.shutdown()
    }
}
