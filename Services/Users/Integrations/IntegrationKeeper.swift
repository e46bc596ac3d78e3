import Foundation
import KnotKubernetes
import KnotModels
import KnotRuntime
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// What the integrated tools need of each active profile, kept by the same
/// rounds that keep the space (SpaceKeeper): the notebook folder JupyterHub
/// opens, Argo's per-namespace account, Harbor's project and pull Secret.
/// A tool that cannot be reached is logged and tried again next round; it
/// never makes the space itself `pending`.
struct IntegrationKeeper: Sendable {
    let settings: IntegrationSettings
    let harbor: HarborAccess?
    let logger: Logger

    init(settings: IntegrationSettings, logger: Logger, harborClient: HarborClient? = nil) {
        self.settings = settings
        self.logger = logger
        harbor = settings.harbor.map { HarborAccess(settings: $0, issuer: settings.issuer, client: harborClient) }
    }

    /// The changes made (for the round's report).
    func reconcile(_ user: UserRecord, privateDirectory: String, runtime: any ServiceRuntime) async -> [String] {
        var changes: [String] = []
        let kubernetes = (runtime as? KubernetesRuntime)?.client
        if settings.jupyterhub != nil, !user.isTeam {
            do {
                if try Self.ensureNotebookFolder(in: privateDirectory) { changes.append("created folder \(IntegrationSettings.notebookFolder)") }
            } catch {
                logger.warning("could not make the notebook folder", metadata: ["profile": "\(user.username)", "error": "\(error)"])
            }
        }
        if settings.argo != nil, let kubernetes {
            do {
                changes += try await Self.apply(
                    ArgoAccess(username: user.username, namespace: user.namespace, team: user.isTeam).objects(), with: kubernetes)
            } catch {
                logger.warning("Argo access not ready; will retry", metadata: ["profile": "\(user.username)", "error": "\(error)"])
            }
        }
        if let harbor, !user.isTeam {
            do {
                switch try await harbor.reconcile(username: user.username, namespace: user.namespace, kubernetes: kubernetes) {
                case .ready(let made): changes += made
                case .waitingForFirstLogin:
                    logger.debug("no Harbor user yet (first sign-in to Harbor pending)", metadata: ["profile": "\(user.username)"])
                }
            } catch {
                logger.warning("Harbor access not ready; will retry", metadata: ["profile": "\(user.username)", "error": "\(error)"])
            }
        }
        return changes
    }

    /// Applies objects, reporting which were created or repaired (as the runtime's reconcile does).
    static func apply(_ objects: [UnstructuredObject], with client: KubernetesClient) async throws -> [String] {
        var changes: [String] = []
        for object in objects {
            let resource = try await client.resource(apiVersion: object.apiVersion, kind: object.kind)
            let before: UnstructuredObject?
            do {
                before = try await client.get(resource, object.name ?? "", namespace: object.namespace)
            } catch let error as KubernetesAPIError where error.isNotFound {
                before = nil
            }
            let after = try await client.apply(object, resource: resource)
            if before == nil {
                changes.append("created \(object.reference)")
            } else if before?.resourceVersion != after.resourceVersion {
                changes.append("repaired \(object.reference)")
            }
        }
        return changes
    }

    /// `notebooks/` in the person's private folder, owned like everything the
    /// files service makes (`KNOT_FILES_UID`/`_GID`). Made with `mkdirat` on
    /// a descriptor of the private folder opened without following links, so
    /// a link a user planted cannot send it elsewhere. True when made now.
    static func ensureNotebookFolder(in privateDirectory: String) throws -> Bool {
        try FileManager.default.createDirectory(atPath: privateDirectory, withIntermediateDirectories: true)
        let folder = open(privateDirectory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard folder >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(folder) }
        guard mkdirat(folder, IntegrationSettings.notebookFolder, 0o755) == 0 else {
            if errno == EEXIST { return false }
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        let environment = ProcessInfo.processInfo.environment
        if let uid = environment["KNOT_FILES_UID"].flatMap(UInt32.init) {
            let gid = environment["KNOT_FILES_GID"].flatMap(UInt32.init) ?? uid
            _ = fchownat(folder, IntegrationSettings.notebookFolder, uid, gid, AT_SYMLINK_NOFOLLOW)
        }
        return true
    }
}
