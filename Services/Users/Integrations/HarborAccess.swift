import Foundation
import KnotKubernetes
import KnotRuntime
import Logging
import ServiceLifecycle

/// Harbor behind Knot's sign-on: its OIDC settings made at start-up, and per
/// person a private project of their own name (they are its project admin),
/// developer access to the shared `library` project, and their CLI secret as
/// a `kubernetes.io/dockerconfigjson` Secret in `knot-<user>` that the
/// namespace's service accounts pull with.
///
/// A Harbor user exists only after the person's first sign-in to Harbor
/// (OIDC auto-onboarding); until then only the project is made and each
/// reconcile round looks again.
struct HarborAccess: Sendable {
    let settings: IntegrationSettings.Harbor
    let issuer: String
    let client: HarborClient

    static let pullSecretName = "knot-harbor"
    static let sharedProject = "library"
    /// The field manager for `imagePullSecrets`: not `knot`, so the space's own
    /// apply of the service accounts (which leaves the list out) never removes it.
    static let fieldManager = "knot-harbor"
    /// The user's account and `default`, which pods use when they name none.
    static let pullingAccounts = [KubernetesRuntimeSettings.userAccount, "default"]

    init(settings: IntegrationSettings.Harbor, issuer: String, client: HarborClient? = nil) {
        self.settings = settings
        self.issuer = issuer
        self.client = client ?? HarborClient(base: settings.tool.url, username: settings.adminUsername, password: settings.adminPassword)
    }

    /// Harbor's OIDC settings (Harbor's "configurations" API).
    var oidcConfiguration: [String: HarborValue] {
        [
            "auth_mode": .string("oidc_auth"),
            "oidc_name": .string("Knot"),
            "oidc_endpoint": .string(issuer),
            "oidc_client_id": .string(settings.tool.clientID),
            "oidc_client_secret": .string(settings.clientSecret),
            "oidc_scope": .string("openid,profile,email,groups,offline_access"),
            "oidc_groups_claim": .string("groups"),
            "oidc_admin_group": .string("admin"),
            "oidc_user_claim": .string("preferred_username"),
            "oidc_auto_onboard": .bool(true),
            "oidc_verify_cert": .bool(true),
        ]
    }

    func configureOIDC() async throws { try await client.configure(oidcConfiguration) }

    enum Outcome: Equatable {
        /// The person has not signed in to Harbor yet: looked for again next round.
        case waitingForFirstLogin
        case ready(changes: [String])
    }

    /// One person's Harbor access and pull Secret; `kubernetes` is nil with the local runtime.
    func reconcile(username: String, namespace: String, kubernetes: KubernetesClient?) async throws -> Outcome {
        var changes: [String] = []
        if try await client.ensureProject(username, isPublic: false) { changes.append("created Harbor project \(username)") }
        guard let user = try await client.findUser(username) else { return .waitingForFirstLogin }
        if try await client.ensureMember(project: username, username: username, role: 1) { changes.append("made \(username) admin of Harbor project \(username)") }
        if try await client.ensureMember(project: Self.sharedProject, username: username, role: 2) {
            changes.append("made \(username) developer of Harbor project \(Self.sharedProject)")
        }
        guard let secret = try await client.cliSecret(userID: user.userID) else { return .waitingForFirstLogin }
        if let kubernetes {
            changes += try await keepPullSecret(username: username, cliSecret: secret, namespace: namespace, kubernetes: kubernetes)
        }
        return .ready(changes: changes)
    }

    func dockerConfig(username: String, cliSecret: String) -> String {
        let auth = Data("\(username):\(cliSecret)".utf8).base64EncodedString()
        let config: [String: [String: [String: String]]] = [
            "auths": [settings.registryHost: ["username": username, "password": cliSecret, "auth": auth]]
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(config)) ?? Data(), as: UTF8.self)
    }

    /// Writes the Secret only when its content differs (a changed CLI secret),
    /// then makes sure the accounts reference it; otherwise changes nothing.
    func keepPullSecret(username: String, cliSecret: String, namespace: String, kubernetes: KubernetesClient) async throws -> [String] {
        var changes: [String] = []
        let wanted = dockerConfig(username: username, cliSecret: cliSecret)
        let current = try await kubernetes.getIfPresent(Secret.self, Self.pullSecretName, namespace: namespace)
        if current?.decodedValue(".dockerconfigjson") != wanted || current?.type != "kubernetes.io/dockerconfigjson" {
            var secret = Secret(
                metadata: ObjectMeta(
                    name: Self.pullSecretName, namespace: namespace,
                    labels: [KnotLabels.managedBy: "knot", KnotLabels.user: username, "knot.io/tool": "harbor"]),
                type: "kubernetes.io/dockerconfigjson")
            secret.data = [".dockerconfigjson": Data(wanted.utf8).base64EncodedString()]
            if current?.type != nil && current?.type != "kubernetes.io/dockerconfigjson" {
                // A Secret's type cannot change: replace one of the wrong type.
                try await kubernetes.delete(Secret.self, Self.pullSecretName, namespace: namespace)
            }
            _ = try await kubernetes.apply(secret)
            changes.append(current == nil ? "created Secret/\(Self.pullSecretName)" : "updated Secret/\(Self.pullSecretName)")
        }
        var manager = kubernetes
        manager.fieldManager = Self.fieldManager
        for account in Self.pullingAccounts {
            let existing: UnstructuredObject
            do {
                existing = try await kubernetes.get(.serviceAccount, account, namespace: namespace)
            } catch let error as KubernetesAPIError where error.isNotFound {
                continue  // `default` appears a moment after its namespace; the next round adds it
            }
            let names = existing["imagePullSecrets"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            guard !names.contains(Self.pullSecretName) else { continue }
            let patch = try UnstructuredObject(.object([
                "apiVersion": .string("v1"), "kind": .string("ServiceAccount"),
                "metadata": .object(["name": .string(account), "namespace": .string(namespace)]),
                "imagePullSecrets": .array([.object(["name": .string(Self.pullSecretName)])]),
            ]))
            _ = try await manager.apply(patch, resource: .serviceAccount)
            changes.append("added \(Self.pullSecretName) to ServiceAccount/\(account)")
        }
        return changes
    }
}

/// Sets Harbor's OIDC configuration at start-up, retrying with backoff until
/// Harbor answers: Harbor often starts after Knot, and Knot runs without it.
struct HarborConfigurationService: Service {
    let access: HarborAccess
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var delay = 2.0
            while !Task.isCancelled {
                do {
                    try await access.configureOIDC()
                    logger.info("Harbor's sign-on configured", metadata: ["harbor": "\(access.settings.tool.url)"])
                    return
                } catch {
                    logger.warning("Harbor not configured yet; will retry", metadata: ["error": "\(error)", "seconds": "\(Int(delay))"])
                }
                try? await Task.sleep(for: .seconds(delay))
                delay = min(delay * 2, 300)
            }
        }
    }
}
