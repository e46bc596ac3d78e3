import Foundation
import KnotConfig
import KnotModels
import KnotRuntime
import Logging
import ServiceLifecycle

/// Keeps each active profile's space in the runtime as it should be: made on
/// activation, repaired by a periodic reconcile (which reports what it fixed),
/// taken away on deletion. When the runtime cannot be reached, the profile is
/// recorded as `pending` and the next round tries again; nothing is lost.
struct SpaceKeeper: Sendable {
    let runtime: any ServiceRuntime
    let store: UserStore
    let settings: KnotSettings
    let logger: Logger
    /// The integrated tools' per-profile objects (Integrations/IntegrationKeeper), kept in the same rounds.
    var integrations: IntegrationKeeper? = nil

    func runtimeUser(_ user: UserRecord) -> RuntimeUser {
        RuntimeUser(
            username: user.username, namespace: user.namespace, privateDirectory: settings.privateDirectory(of: user.username),
            sharedDirectory: settings.sharedDirectory, admin: user.admin)
    }

    /// Brings one space to what it should be and records the state. With
    /// `report`, each object is read first so the answer says what had to
    /// change (the periodic round); without, objects are only applied (an
    /// activation, which needs no report and half the requests).
    @discardableResult
    func reconcile(_ user: UserRecord, report: Bool = true) async -> (state: String, changes: [String]) {
        do {
            var changes: [String] = []
            if report {
                changes = try await runtime.reconcile(runtimeUser(user))
            } else {
                try await runtime.provision(runtimeUser(user))
            }
            if let integrations {
                changes += await integrations.reconcile(user, privateDirectory: settings.privateDirectory(of: user.username), runtime: runtime)
            }
            try? await store.setSpace(id: user.id, state: "ready", detail: changes.isEmpty ? "" : changes.joined(separator: "; "))
            if !changes.isEmpty {
                logger.notice("space repaired", metadata: ["profile": "\(user.username)", "changes": "\(changes.joined(separator: "; "))"])
            }
            return ("ready", changes)
        } catch {
            let detail = "\(error)"
            try? await store.setSpace(id: user.id, state: "pending", detail: detail)
            logger.warning("space not ready; will retry", metadata: ["profile": "\(user.username)", "error": "\(detail)"])
            return ("pending", [])
        }
    }

    /// Every active profile, one after another: what a periodic round does.
    func reconcileAll() async -> [String: [String]] {
        guard let profiles = try? await store.activeProfiles() else { return [:] }
        var report: [String: [String]] = [:]
        for profile in profiles {
            let (_, changes) = await reconcile(profile)
            if !changes.isEmpty { report[profile.username] = changes }
        }
        return report
    }

    func remove(_ user: UserRecord) async throws {
        try await runtime.deprovision(runtimeUser(user))
    }
}

/// Reconciles every space at start-up and then every `interval`.
struct SpaceReconcileService: Service {
    let keeper: SpaceKeeper
    let interval: Duration
    let ready: @Sendable () async -> Bool

    func run() async throws {
        await cancelWhenGracefulShutdown {
            // Start-up waits for the schema, then reconciles at once.
            while !Task.isCancelled, !(await ready()) { try? await Task.sleep(for: .milliseconds(500)) }
            while !Task.isCancelled {
                _ = await keeper.reconcileAll()
                try? await Task.sleep(for: interval)
            }
        }
    }
}
