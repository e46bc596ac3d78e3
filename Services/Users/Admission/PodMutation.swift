import Foundation
import KnotKubernetes
import KnotRuntime

/// What the mutating hook gives every pod in a user's namespace, whoever
/// made it (the launcher, JupyterHub's spawner, an Argo workflow, `kubectl
/// run`): the file domains as volumes mounted at `/files/...` in every
/// container and init container, and `KNOT_*` variables saying whose pod it
/// is and where things are.
///
/// The pod the user (or their tool) wrote always wins: a volume that already
/// has one of Knot's names is kept (and still mounted), a path a container
/// already mounts something at is left alone, and a variable a container
/// already sets keeps its value. So the mutation is idempotent, which the
/// hook's `reinvocationPolicy: IfNeeded` relies on, and pods the launcher made
/// (already mounted by `WorkloadManifests.mountDomains`) get only the variables.
struct PodMutation: Sendable {
    /// Whose pod: the namespace's user, and where the dashboard is.
    struct Owner: Sendable, Equatable {
        var username: String
        var namespace: String
        var admin: Bool
        /// The dashboard's public address (`KNOT_URL`).
        var publicURL: String
    }

    /// A file domain as a pod sees it: a volume (the claim of the same name in the user's namespace) and where it is mounted.
    struct Domain: Sendable, Equatable {
        var volume: String
        var claim: String
        var mountPath: String
    }

    struct Unreadable: Error, CustomStringConvertible {
        var description: String
    }

    static let privateDirectory = "/files/private"
    static let sharedDirectory = "/files/shared"
    static let adminDirectory = "/files/admin"

    let owner: Owner

    var domains: [Domain] {
        var domains = [
            Domain(volume: KubernetesRuntimeSettings.privateClaim, claim: KubernetesRuntimeSettings.privateClaim, mountPath: Self.privateDirectory),
            Domain(volume: KubernetesRuntimeSettings.sharedClaim, claim: KubernetesRuntimeSettings.sharedClaim, mountPath: Self.sharedDirectory),
        ]
        if owner.admin { domains.append(Domain(
                volume: KubernetesRuntimeSettings.adminClaim, claim: KubernetesRuntimeSettings.adminClaim, mountPath: Self.adminDirectory)) }
        return domains
    }

    /// The variables every container gets, in this order.
    var environment: [(name: String, value: String)] {
        var variables = [
            ("KNOT_USERNAME", owner.username),
            ("KNOT_NAMESPACE", owner.namespace),
            ("KNOT_PRIVATE_DIR", Self.privateDirectory),
            ("KNOT_SHARED_DIR", Self.sharedDirectory),
        ]
        if owner.admin { variables.append(("KNOT_ADMIN_DIR", Self.adminDirectory)) }
        variables.append(("KNOT_URL", owner.publicURL))
        // The same API the dashboard uses, for scripts with a personal API token.
        variables.append(("KNOT_API_URL", owner.publicURL + "/api/v1"))
        return variables.map { (name: $0.0, value: $0.1) }
    }

    /// The mutated pod and the JSONPatch that turns `pod` into it. The patch
    /// only adds: `/spec/volumes` whole when the pod has none, else items
    /// appended with `-`; the same for each container's `volumeMounts` and
    /// `env`. An empty patch means the pod already has everything.
    func apply(to pod: JSONValue) throws -> (pod: JSONValue, patch: [PatchOperation]) {
        guard pod.objectValue != nil, var spec = pod["spec"], spec.objectValue != nil else {
            throw Unreadable(description: "the object has no pod spec")
        }
        var patch: [PatchOperation] = []

        let volumes = try Self.list(spec["volumes"], "spec.volumes")
        let names = Set((volumes ?? []).compactMap { $0["name"]?.stringValue })
        let added: [JSONValue] = domains.filter { !names.contains($0.volume) }.map {
            ["name": .string($0.volume), "persistentVolumeClaim": ["claimName": .string($0.claim)]]
        }
        spec["volumes"] = Self.append(added, to: volumes, was: spec["volumes"], at: ["spec", "volumes"], patch: &patch)

        for key in ["initContainers", "containers"] {
            guard var containers = try Self.list(spec[key], "spec.\(key)") else { continue }
            for index in containers.indices {
                var container = containers[index]
                guard container.objectValue != nil else { throw Unreadable(description: "spec.\(key)[\(index)] is not an object") }
                let path = ["spec", key, String(index)]

                let mounts = try Self.list(container["volumeMounts"], "spec.\(key)[\(index)].volumeMounts")
                let used = Set((mounts ?? []).compactMap { $0["mountPath"]?.stringValue.map(Self.normalised) })
                let newMounts: [JSONValue] = domains.filter { !used.contains($0.mountPath) }.map {
                    ["name": .string($0.volume), "mountPath": .string($0.mountPath)]
                }
                container["volumeMounts"] = Self.append(newMounts, to: mounts, was: container["volumeMounts"], at: path + ["volumeMounts"], patch: &patch)

                let env = try Self.list(container["env"], "spec.\(key)[\(index)].env")
                let set = Set((env ?? []).compactMap { $0["name"]?.stringValue })
                let newEnv: [JSONValue] = environment.filter { !set.contains($0.name) }.map {
                    ["name": .string($0.name), "value": .string($0.value)]
                }
                container["env"] = Self.append(newEnv, to: env, was: container["env"], at: path + ["env"], patch: &patch)
                containers[index] = container
            }
            spec[key] = .array(containers)
        }
        var mutated = pod
        mutated["spec"] = spec
        return (mutated, patch)
    }

    /// An array member, nil when absent or null; anything else is a pod the API server would not have sent.
    static func list(_ value: JSONValue?, _ name: String) throws -> [JSONValue]? {
        switch value {
        case nil, .null?: return nil
        case .array(let items)?: return items
        default: throw Unreadable(description: "\(name) is not a list")
        }
    }

    /// Adds `items` to the array at `tokens` (absent when `existing` is nil),
    /// recording the operations; returns the member's new value (`original`,
    /// untouched, when there is nothing to add).
    static func append(
        _ items: [JSONValue], to existing: [JSONValue]?, was original: JSONValue?, at tokens: [String], patch: inout [PatchOperation]
    ) -> JSONValue? {
        guard !items.isEmpty else { return original }
        if let existing {
            for item in items { patch.append(.add(tokens + ["-"], item)) }
            return .array(existing + items)
        }
        // Absent or null: one `add` of the whole array (on a null member, `add` replaces it).
        patch.append(.add(tokens, .array(items)))
        return .array(items)
    }

    /// `/files/private/` and `/files/private` are the same mount point.
    static func normalised(_ path: String) -> String {
        var path = path
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        return path
    }
}
