import Foundation
import KnotConfig
import KnotKubernetes

/// What the validating hook refuses in a user's namespace, whoever made the
/// pod: host paths and NFS exports outside the lists the operator allows, and
/// privileged containers or the host's network, PID or IPC namespaces unless
/// the operator allows those. The same rules `WorkloadManifests.checkPodSpec`
/// applies to the launcher's templates, now also for pods made by anything
/// else a user can drive (JupyterHub, Argo, `kubectl`).
struct PodPolicy: Sendable, Equatable {
    struct NFSExport: Sendable, Equatable {
        var server: String
        /// The export's path as components; a volume is allowed at this path or below it.
        var path: [String]
    }

    /// Host path prefixes (as components) a pod may mount; empty allows none.
    var allowedHostPaths: [[String]] = []
    var allowedNFS: [NFSExport] = []
    /// `KNOT_WEBHOOK_ALLOW_PRIVILEGED=1`: privileged containers, hostNetwork, hostPID and hostIPC are let through.
    var allowPrivileged = false

    /// Reads `KNOT_WEBHOOK_ALLOWED_HOST_PATHS` (comma-separated absolute paths),
    /// `KNOT_WEBHOOK_ALLOWED_NFS` (comma-separated `server:/path`) and
    /// `KNOT_WEBHOOK_ALLOW_PRIVILEGED`. A malformed entry stops the service at start-up.
    static func fromEnvironment(_ environment: [String: String]) throws -> PodPolicy {
        let env = KnotEnvironment(environment)
        var policy = PodPolicy()
        policy.allowPrivileged = try env.bool("KNOT_WEBHOOK_ALLOW_PRIVILEGED", default: false)
        for entry in entries(env.optionalString("KNOT_WEBHOOK_ALLOWED_HOST_PATHS")) {
            guard let components = components(of: entry) else {
                throw ConfigurationError(
                    key: "KNOT_WEBHOOK_ALLOWED_HOST_PATHS", problem: "\"\(entry)\" is not an absolute path without \"..\"")
            }
            policy.allowedHostPaths.append(components)
        }
        for entry in entries(env.optionalString("KNOT_WEBHOOK_ALLOWED_NFS")) {
            // The path starts at the first ":/", so a bracketed IPv6 server ("[fd00::1]:/export") keeps its colons.
            guard let split = entry.range(of: ":/"), !entry[..<split.lowerBound].isEmpty,
                let components = components(of: String(entry[entry.index(after: split.lowerBound)...]))
            else {
                throw ConfigurationError(key: "KNOT_WEBHOOK_ALLOWED_NFS", problem: "\"\(entry)\" is not \"server:/absolute/path\"")
            }
            policy.allowedNFS.append(NFSExport(server: String(entry[..<split.lowerBound]).lowercased(), path: components))
        }
        return policy
    }

    static func entries(_ text: String?) -> [String] {
        (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// An absolute path as its components (empty and `.` components dropped);
    /// nil for a relative path or one with `..`, which no prefix can vouch for.
    static func components(of path: String) -> [String]? {
        guard path.hasPrefix("/") else { return nil }
        let parts = path.split(separator: "/").map(String.init).filter { $0 != "." }
        guard !parts.contains("..") else { return nil }
        return parts
    }

    static func isWithin(_ path: [String], _ prefix: [String]) -> Bool {
        path.count >= prefix.count && Array(path.prefix(prefix.count)) == prefix
    }

    func allowsHostPath(_ path: String) -> Bool {
        guard let components = Self.components(of: path) else { return false }
        return allowedHostPaths.contains { Self.isWithin(components, $0) }
    }

    func allowsNFS(server: String, path: String) -> Bool {
        guard let components = Self.components(of: path) else { return false }
        let server = server.lowercased()
        return allowedNFS.contains { $0.server == server && Self.isWithin(components, $0.path) }
    }

    /// Everything wrong with a pod, each as a clause ("it mounts host path /etc (volume \"etc\")"); empty when it may run.
    func problems(in pod: JSONValue) -> [String] {
        let spec = pod["spec"] ?? .object([:])
        var problems: [String] = []
        for volume in spec["volumes"]?.arrayValue ?? [] {
            let name = volume["name"]?.stringValue ?? "?"
            if let hostPath = volume["hostPath"], hostPath != .null {
                let path = hostPath["path"]?.stringValue ?? ""
                if !allowsHostPath(path) {
                    problems.append("it mounts host path \(path.isEmpty ? "(none given)" : path) (volume \"\(name)\"), which is not among the host paths this deployment allows")
                }
            }
            if let nfs = volume["nfs"], nfs != .null {
                let server = nfs["server"]?.stringValue ?? ""
                let path = nfs["path"]?.stringValue ?? ""
                if !allowsNFS(server: server, path: path) {
                    problems.append("it mounts NFS export \(server):\(path) (volume \"\(name)\"), which is not among the NFS exports this deployment allows")
                }
            }
        }
        if !allowPrivileged {
            for flag in ["hostNetwork", "hostPID", "hostIPC"] where spec[flag]?.boolValue == true {
                problems.append("it asks for \(flag)")
            }
            problems += privilegedProblems(spec, kinds: ["initContainers", "containers", "ephemeralContainers"])
        }
        return problems
    }

    /// For `kubectl debug` (an UPDATE of the `ephemeralcontainers` subresource): only the containers it adds can change.
    func problems(inEphemeralContainersOf pod: JSONValue) -> [String] {
        allowPrivileged ? [] : privilegedProblems(pod["spec"] ?? .object([:]), kinds: ["ephemeralContainers"])
    }

    func privilegedProblems(_ spec: JSONValue, kinds: [String]) -> [String] {
        var problems: [String] = []
        for kind in kinds {
            for container in spec[kind]?.arrayValue ?? [] where container.value(at: ["securityContext", "privileged"])?.boolValue == true {
                let role = kind == "containers" ? "container" : kind == "initContainers" ? "init container" : "ephemeral container"
                problems.append("its \(role) \"\(container["name"]?.stringValue ?? "?")\" is privileged")
            }
        }
        return problems
    }

    /// One sentence for the person whose pod is refused: what is wrong, and what they have instead.
    static func refusal(pod: String, namespace: String, problems: [String]) -> String {
        let mounts = problems.contains { $0.hasPrefix("it mounts ") }
        return "Knot does not admit \(pod) in namespace \(namespace): \(problems.joined(separator: "; "))."
            + (mounts ? " Your files are mounted for you at \(PodMutation.privateDirectory) and \(PodMutation.sharedDirectory)." : "")
            + " Ask an administrator if you need this."
    }
}
