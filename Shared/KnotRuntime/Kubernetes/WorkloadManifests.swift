import Foundation
import KnotKubernetes

/// Where the edge should send a service's traffic: a Service and its port.
public struct Exposure: Sendable, Equatable, Codable {
    public var service: String
    public var port: Int

    public func upstream(namespace: String) -> String { "http://\(service).\(namespace).svc.cluster.local:\(port)" }
}

/// A rendered template made fit to apply: API versions brought up to date,
/// everything put in the user's namespace and labelled as this service's
/// (`knot.io/template`, annotated with the template version and the launch
/// values), the file domains mounted into every container, and Knot's policy
/// checked. Ingresses say which port the edge should expose, and the edge
/// does; with `ingressClass` set they are also created for that controller.
///
/// The policy, each rule named in its refusal: only the allowed kinds
/// (`allowedKinds`), never RBAC, namespaces, volumes, quotas, webhooks or CRDs;
/// only the user's namespace; host paths only inside the user's own file
/// folders (they become the folder's claim); no privileged containers, host
/// network/PID/IPC, added capabilities or host ports unless `allowPrivileged`;
/// an Ingress only for the service's own host, without snippet annotations.
public struct WorkloadManifests: Sendable {
    public var objects: [UnstructuredObject]
    public var exposure: Exposure?

    public struct PolicyError: Error, CustomStringConvertible, Sendable {
        public var description: String
        /// The rule that refused (empty when the objects could not be read at all).
        public var rule: String = ""
    }

    static func refusal(_ object: UnstructuredObject, _ rule: String, _ message: String) -> PolicyError {
        PolicyError(description: "\(object.reference) \(message) (rule: \(rule))", rule: rule)
    }

    static let forbiddenGroups: Set<String> = [
        "rbac.authorization.k8s.io", "apiextensions.k8s.io", "admissionregistration.k8s.io", "certificates.k8s.io",
        "apiregistration.k8s.io", "storage.k8s.io", "scheduling.k8s.io", "node.k8s.io", "flowcontrol.apiserver.k8s.io",
        "authentication.k8s.io", "authorization.k8s.io",
    ]
    static let forbiddenKinds: Set<String> = [
        "Namespace", "PersistentVolume", "Node", "ResourceQuota", "LimitRange", "NetworkPolicy", "IngressClass",
        "PodSecurityPolicy", "ComponentStatus", "Binding",
    ]
    /// The API group of each built-in kind; a kind allowed by name alone must be in it.
    static let builtinGroups: [String: String] = [
        "Deployment": "apps", "StatefulSet": "apps", "ReplicaSet": "apps", "DaemonSet": "apps", "ControllerRevision": "apps",
        "Job": "batch", "CronJob": "batch", "Pod": "", "Service": "", "ConfigMap": "", "Secret": "",
        "PersistentVolumeClaim": "", "ServiceAccount": "", "ReplicationController": "", "Endpoints": "", "Event": "",
        "PodTemplate": "", "Ingress": "networking.k8s.io", "HorizontalPodAutoscaler": "autoscaling",
        "PodDisruptionBudget": "policy", "EndpointSlice": "discovery.k8s.io", "Lease": "coordination.k8s.io",
    ]
    /// Capabilities containers have anyway (the container runtime's default set): adding them changes nothing.
    static let defaultCapabilities: Set<String> = [
        "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP", "NET_BIND_SERVICE",
        "NET_RAW", "SYS_CHROOT", "MKNOD", "AUDIT_WRITE", "SETFCAP",
    ]

    static func isAllowed(group: String, kind: String, settings: KubernetesRuntimeSettings) -> Bool {
        settings.allowedKinds.contains { entry in
            if let slash = entry.lastIndex(of: "/") {
                return entry[..<slash] == group && entry[entry.index(after: slash)...] == kind
            }
            return entry == kind && (builtinGroups[kind] ?? group) == group
        }
    }

    public static func prepare(
        _ text: String, spec: WorkloadSpec, settings: KubernetesRuntimeSettings
    ) throws -> WorkloadManifests {
        let namespace = spec.owner.namespace
        let parsed: [UnstructuredObject]
        do {
            parsed = try UnstructuredObject.objects(fromYAML: text)
        } catch let error as ManifestError {
            throw PolicyError(description: "the template's objects cannot be read: \(error.description)")
        }
        guard !parsed.isEmpty else { throw PolicyError(description: "the template has no Kubernetes objects") }

        var objects: [UnstructuredObject] = []
        var ingresses: [UnstructuredObject] = []
        var seen = Set<String>()
        for var object in parsed {
            object = upgraded(object)
            let (group, _) = ResourceKind.groupVersion(of: object.apiVersion)
            guard let name = object.name, !name.isEmpty else {
                throw PolicyError(description: "a \(object.kind) has no metadata.name (rule: names)", rule: "names")
            }
            if forbiddenGroups.contains(group) || forbiddenKinds.contains(object.kind) {
                throw refusal(
                    object, "no cluster access",
                    "is refused: templates may not create \(object.kind) objects (RBAC, namespaces, volumes, quotas and cluster-wide kinds are Knot's)")
            }
            guard isAllowed(group: group, kind: object.kind, settings: settings) else {
                throw refusal(
                    object, "allowed kinds",
                    "is refused: templates may not create \(object.kind) objects of \(object.apiVersion); allowed: \(settings.allowedKinds.joined(separator: ", "))")
            }
            if let given = object.namespace, !given.isEmpty, given != namespace {
                throw refusal(object, "own namespace", "names namespace \"\(given)\"; services run only in \(namespace)")
            }
            guard seen.insert("\(object.apiVersion)/\(object.kind)/\(name)").inserted else {
                throw refusal(object, "names", "appears twice")
            }
            object.namespace = namespace
            object.labels = object.labels.merging(labels(for: spec)) { _, knot in knot }
            let knotAnnotations = annotations(for: spec)
            if !knotAnnotations.isEmpty { object.annotations = object.annotations.merging(knotAnnotations) { _, knot in knot } }
            try preparePodSpecs(&object, spec: spec, settings: settings)
            if object.kind == "Ingress" {
                try checkIngress(object, spec: spec, settings: settings)
                ingresses.append(object)
            } else {
                objects.append(object)
            }
        }
        if let secret = try environmentSecret(for: spec) {
            guard seen.insert("v1/Secret/\(secret.name ?? "")").inserted else { throw refusal(secret, "names", "is Knot's own name") }
            // First, so the containers that reference it find it.
            objects.insert(secret, at: 0)
        }
        let exposure = try exposure(ingresses: ingresses, objects: objects)
        if let ingressClass = settings.ingressClass {
            objects += ingresses.map { ingressForController($0, ingressClass: ingressClass, spec: spec, settings: settings) }
        }
        return WorkloadManifests(objects: objects, exposure: exposure)
    }

    static func labels(for spec: WorkloadSpec) -> [String: String] {
        var labels = [
            KnotLabels.managedBy: "knot", KnotLabels.user: spec.owner.username, KnotLabels.serviceID: spec.id,
            KnotLabels.serviceName: spec.name,
        ]
        let template = labelValue(spec.template)
        if !template.isEmpty { labels[KnotLabels.template] = template }
        return labels
    }

    /// The template's version and the launch values, so the cluster alone says how a service was made.
    static func annotations(for spec: WorkloadSpec) -> [String: String] {
        var annotations: [String: String] = [:]
        if !spec.templateVersion.isEmpty { annotations[KnotLabels.templateVersion] = spec.templateVersion }
        if !spec.values.isEmpty, let data = try? JSONSerialization.data(withJSONObject: spec.values, options: [.sortedKeys]) {
            annotations[KnotLabels.values] = String(decoding: data, as: UTF8.self)
        }
        return annotations
    }

    /// Any text made a valid label value: at most 63 of `[A-Za-z0-9._-]`, starting and ending alphanumeric.
    public static func labelValue(_ text: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        var value = String(text.map { allowed.contains($0) ? $0 : "-" })
        func trim(_ text: String) -> String {
            String(text.drop { !($0.isASCII && ($0.isLetter || $0.isNumber)) }.reversed().drop { !($0.isASCII && ($0.isLetter || $0.isNumber)) }.reversed())
        }
        value = trim(value)
        return trim(String(value.prefix(63)))
    }

    /// The host a service is reached at, when the domain is known.
    static func serviceHost(_ spec: WorkloadSpec, settings: KubernetesRuntimeSettings) -> String? {
        settings.serviceDomain.map { "\(spec.name)-\(spec.owner.username).\($0)" }
    }

    static func checkIngress(_ ingress: UnstructuredObject, spec: WorkloadSpec, settings: KubernetesRuntimeSettings) throws {
        for key in ingress.annotations.keys.sorted() where key.lowercased().contains("snippet") {
            throw refusal(ingress, "ingress annotations", "sets \(key); configuration snippets for the ingress controller are not allowed")
        }
        guard let host = serviceHost(spec, settings: settings) else { return }
        var hosts = (ingress["spec", "rules"]?.arrayValue ?? []).compactMap { $0["host"]?.stringValue }
        for tls in ingress["spec", "tls"]?.arrayValue ?? [] {
            hosts += (tls["hosts"]?.arrayValue ?? []).compactMap(\.stringValue)
        }
        for other in hosts where !other.isEmpty && other.lowercased() != host {
            throw refusal(ingress, "ingress host", "is for host \"\(other)\"; this service's host is \(host)")
        }
    }

    /// The Ingress as an external controller gets it: that class, the service's host only.
    static func ingressForController(
        _ ingress: UnstructuredObject, ingressClass: String, spec: WorkloadSpec, settings: KubernetesRuntimeSettings
    ) -> UnstructuredObject {
        var ingress = ingress
        ingress.set(.string(ingressClass), at: ["spec", "ingressClassName"])
        var annotations = ingress.annotations
        annotations["kubernetes.io/ingress.class"] = nil
        ingress.annotations = annotations
        if let host = serviceHost(spec, settings: settings) {
            if let rules = ingress["spec", "rules"]?.arrayValue {
                ingress.set(.array(rules.map { rule in
                    var rule = rule
                    rule["host"] = .string(host)
                    return rule
                }), at: ["spec", "rules"])
            }
            if let tls = ingress["spec", "tls"]?.arrayValue {
                ingress.set(.array(tls.map { entry in
                    var entry = entry
                    entry["hosts"] = [.string(host)]
                    return entry
                }), at: ["spec", "tls"])
            }
        }
        return ingress
    }

    /// Old API versions real templates still carry, moved to the ones clusters serve.
    static func upgraded(_ object: UnstructuredObject) -> UnstructuredObject {
        var object = object
        switch (object.apiVersion, object.kind) {
        case ("extensions/v1beta1", "Ingress"), ("networking.k8s.io/v1beta1", "Ingress"):
            object.set("networking.k8s.io/v1", at: ["apiVersion"])
            if let backend = object["spec", "backend"] {
                object.set(nil, at: ["spec", "backend"])
                object.set(ingressBackend(backend), at: ["spec", "defaultBackend"])
            }
            if let rules = object["spec", "rules"]?.arrayValue {
                let upgradedRules: [JSONValue] = rules.map { rule in
                    var rule = rule
                    if let paths = rule.value(at: ["http", "paths"])?.arrayValue {
                        rule.set(
                            .array(
                                paths.map { path in
                                    var path = path
                                    if let backend = path["backend"] { path["backend"] = ingressBackend(backend) }
                                    if path["pathType"] == nil { path["pathType"] = "ImplementationSpecific" }
                                    return path
                                }), at: ["http", "paths"])
                    }
                    return rule
                }
                object.set(.array(upgradedRules), at: ["spec", "rules"])
            }
        case ("extensions/v1beta1", "Deployment"), ("apps/v1beta1", "Deployment"), ("apps/v1beta2", "Deployment"),
            ("apps/v1beta1", "StatefulSet"), ("apps/v1beta2", "StatefulSet"), ("extensions/v1beta1", "DaemonSet"),
            ("extensions/v1beta1", "ReplicaSet"):
            object.set("apps/v1", at: ["apiVersion"])
            // apps/v1 requires a selector; the old versions defaulted it from the pod labels.
            if object["spec", "selector"] == nil, let labels = object["spec", "template", "metadata", "labels"] {
                object.set(["matchLabels": labels], at: ["spec", "selector"])
            }
        default:
            break
        }
        return object
    }

    static func ingressBackend(_ old: JSONValue) -> JSONValue {
        guard let service = old["serviceName"]?.stringValue else { return old }
        let port: JSONValue =
            if let number = old["servicePort"]?.intValue { ["number": .int(number)] } else if let name = old["servicePort"]?.stringValue, let number = Int64(name) {
                ["number": .int(number)]
            } else { ["name": old["servicePort"] ?? .null] }
        return ["service": ["name": .string(service), "port": port]]
    }

    /// The paths of pod specs inside each kind that carries one.
    static func podSpecPaths(of kind: String) -> [[String]] {
        switch kind {
        case "Pod": return [["spec"]]
        case "Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "ReplicationController": return [["spec", "template", "spec"]]
        case "CronJob": return [["spec", "jobTemplate", "spec", "template", "spec"]]
        default: return []
        }
    }

    static func preparePodSpecs(_ object: inout UnstructuredObject, spec: WorkloadSpec, settings: KubernetesRuntimeSettings) throws {
        for path in podSpecPaths(of: object.kind) {
            guard var podSpec = object.raw.value(at: path) else {
                throw refusal(object, "pod spec", "has no pod spec")
            }
            try checkPodSpec(podSpec, object: object, settings: settings)
            try mapHostPaths(&podSpec, object: object, owner: spec.owner)
            mountDomains(&podSpec, settings: settings)
            addEnvironment(
                &podSpec, spec.environment,
                secret: spec.secretEnvironment.isEmpty ? nil : (environmentSecretName(spec), spec.secretEnvironment.keys.sorted()))
            object.set(podSpec, at: path)
            if path.count > 1 {
                // Label the pods too, so that status and logs find them.
                let labelsPath = Array(path.dropLast()) + ["metadata", "labels"]
                var podLabels = object.raw.value(at: labelsPath)?.objectValue ?? [:]
                for (key, value) in labels(for: spec) { podLabels[key] = .string(value) }
                object.set(.object(podLabels), at: labelsPath)
            }
        }
    }

    static func containers(of podSpec: JSONValue) -> [JSONValue] {
        ["containers", "initContainers", "ephemeralContainers"].flatMap { podSpec[$0]?.arrayValue ?? [] }
    }

    static func checkPodSpec(_ podSpec: JSONValue, object: UnstructuredObject, settings: KubernetesRuntimeSettings = KubernetesRuntimeSettings()) throws {
        guard !(podSpec["containers"]?.arrayValue ?? []).isEmpty else {
            throw refusal(object, "pod spec", "has no containers")
        }
        for volume in podSpec["volumes"]?.arrayValue ?? [] where volume["nfs"] != nil {
            throw refusal(
                object, "volumes", "mounts an NFS export (volume \(volume["name"]?.stringValue ?? "?")); your files are mounted for you at /files/private and /files/shared")
        }
        guard !settings.allowPrivileged else { return }
        for flag in ["hostNetwork", "hostPID", "hostIPC"] where podSpec[flag]?.boolValue == true {
            throw refusal(object, "host namespaces", "asks for \(flag), which services may not use")
        }
        for container in containers(of: podSpec) {
            let name = container["name"]?.stringValue ?? "?"
            if container.value(at: ["securityContext", "privileged"])?.boolValue == true {
                throw refusal(object, "privileged", "asks for a privileged container (\(name)), which services may not use")
            }
            let added = (container.value(at: ["securityContext", "capabilities", "add"])?.arrayValue ?? []).map { value in
                (value.stringValue ?? "?").uppercased().replacingOccurrences(of: "CAP_", with: "")
            }
            if let extra = added.first(where: { !defaultCapabilities.contains($0) }) {
                throw refusal(object, "capabilities", "adds capability \(extra) to container \(name), which services may not have")
            }
            for port in container["ports"]?.arrayValue ?? [] {
                if let hostPort = port["hostPort"]?.intValue, hostPort != 0 {
                    throw refusal(object, "host ports", "asks for host port \(hostPort) in container \(name), which services may not use")
                }
            }
        }
    }

    /// A path as components, nil unless absolute and free of `..`.
    static func components(of path: String) -> [String]? {
        guard path.hasPrefix("/") else { return nil }
        let parts = path.split(separator: "/").map(String.init).filter { $0 != "." }
        return parts.contains("..") ? nil : parts
    }

    /// A `hostPath` volume inside the owner's own private or shared folder (as
    /// Karvdash's `hostPath: $PRIVATE` templates have) becomes that folder's
    /// claim, with what is below the folder as each mount's `subPath`. Any other
    /// host path is refused.
    static func mapHostPaths(_ podSpec: inout JSONValue, object: UnstructuredObject, owner: RuntimeUser) throws {
        guard var volumes = podSpec["volumes"]?.arrayValue, volumes.contains(where: { $0["hostPath"] != nil }) else { return }
        let domains: [(claim: String, root: [String]?)] = [
            (KubernetesRuntimeSettings.privateClaim, components(of: owner.privateDirectory)),
            (KubernetesRuntimeSettings.sharedClaim, components(of: owner.sharedDirectory)),
        ]
        var subPaths: [String: String] = [:]
        for (index, volume) in volumes.enumerated() where volume["hostPath"] != nil {
            let volumeName = volume["name"]?.stringValue ?? "?"
            let path = volume.value(at: ["hostPath", "path"])?.stringValue ?? ""
            let rule = "host paths"
            let advice = "your files are mounted for you at /files/private and /files/shared"
            guard let parts = components(of: path) else {
                throw refusal(object, rule, "mounts host path \"\(path)\" (volume \(volumeName)), which is not an absolute path without \"..\"; \(advice)")
            }
            guard let domain = domains.first(where: { domain in
                guard let root = domain.root, !root.isEmpty else { return false }
                return parts.count >= root.count && Array(parts.prefix(root.count)) == root
            }), let root = domain.root else {
                throw refusal(object, rule, "mounts host path \"\(path)\" (volume \(volumeName)), outside your own files; \(advice)")
            }
            volumes[index] = ["name": .string(volumeName), "persistentVolumeClaim": ["claimName": .string(domain.claim)]]
            subPaths[volumeName] = parts.dropFirst(root.count).joined(separator: "/")
        }
        podSpec["volumes"] = .array(volumes)
        for key in ["containers", "initContainers"] {
            guard let containers = podSpec[key]?.arrayValue else { continue }
            podSpec[key] = .array(
                containers.map { container in
                    var container = container
                    guard let mounts = container["volumeMounts"]?.arrayValue else { return container }
                    container["volumeMounts"] = .array(
                        mounts.map { mount in
                            guard let name = mount["name"]?.stringValue, let below = subPaths[name], !below.isEmpty else { return mount }
                            var mount = mount
                            let existing = mount["subPath"]?.stringValue ?? ""
                            mount["subPath"] = .string(existing.isEmpty ? below : below + "/" + existing)
                            return mount
                        })
                    return container
                })
        }
    }

    /// Gives every container and init container Knot's variables (`KNOT_URL`),
    /// each only where the container does not set that name itself.
    /// Secret variables are references to keys of the service's own Secret (`valueFrom.secretKeyRef`).
    static func addEnvironment(_ podSpec: inout JSONValue, _ variables: [String: String], secret: (name: String, keys: [String])? = nil) {
        guard !variables.isEmpty || secret != nil else { return }
        for key in ["containers", "initContainers"] {
            guard let containers = podSpec[key]?.arrayValue else { continue }
            podSpec[key] = .array(
                containers.map { container in
                    var container = container
                    var env = container["env"]?.arrayValue ?? []
                    let set = Set(env.compactMap { $0["name"]?.stringValue })
                    for (name, value) in variables.sorted(by: { $0.key < $1.key }) where !set.contains(name) {
                        env.append(["name": .string(name), "value": .string(value)])
                    }
                    if let secret {
                        for key in secret.keys where !set.contains(key) {
                            env.append([
                                "name": .string(key),
                                "valueFrom": ["secretKeyRef": ["name": .string(secret.name), "key": .string(key)]],
                            ])
                        }
                    }
                    container["env"] = .array(env)
                    return container
                })
        }
    }

    static func environmentSecretName(_ spec: WorkloadSpec) -> String { "knot-env-\(spec.id)" }

    /// The Secret holding the service's secret variables, labelled like the
    /// service's other objects (so it is in its inventory and goes with it).
    static func environmentSecret(for spec: WorkloadSpec) throws -> UnstructuredObject? {
        guard !spec.secretEnvironment.isEmpty else { return nil }
        var data: [String: JSONValue] = [:]
        for (key, value) in spec.secretEnvironment { data[key] = .string(Data(value.utf8).base64EncodedString()) }
        var secret = try UnstructuredObject([
            "apiVersion": "v1", "kind": "Secret",
            "metadata": ["name": .string(environmentSecretName(spec)), "namespace": .string(spec.owner.namespace)],
            "type": "Opaque", "data": .object(data),
        ])
        secret.labels = labels(for: spec)
        return secret
    }

    /// Adds the user's two claims as volumes and mounts them in every container
    /// wherever the container does not already use that path.
    static func mountDomains(_ podSpec: inout JSONValue, settings: KubernetesRuntimeSettings) {
        var volumes = podSpec["volumes"]?.arrayValue ?? []
        let names = Set(volumes.compactMap { $0["name"]?.stringValue })
        for claim in [KubernetesRuntimeSettings.privateClaim, KubernetesRuntimeSettings.sharedClaim] where !names.contains(claim) {
            volumes.append(["name": .string(claim), "persistentVolumeClaim": ["claimName": .string(claim)]])
        }
        podSpec["volumes"] = .array(volumes)
        let mounts: [(String, String)] =
            settings.mountPaths.private.map { (KubernetesRuntimeSettings.privateClaim, $0) }
            + settings.mountPaths.shared.map { (KubernetesRuntimeSettings.sharedClaim, $0) }
        for key in ["containers", "initContainers"] {
            guard let containers = podSpec[key]?.arrayValue else { continue }
            podSpec[key] = .array(
                containers.map { container in
                    var container = container
                    var existing = container["volumeMounts"]?.arrayValue ?? []
                    let used = Set(existing.compactMap { $0["mountPath"]?.stringValue })
                    for (claim, path) in mounts where !used.contains(path) {
                        existing.append(["name": .string(claim), "mountPath": .string(path)])
                    }
                    container["volumeMounts"] = .array(existing)
                    return container
                })
        }
    }

    /// The Ingress's backend if the template has one, else the first port of the first Service.
    static func exposure(ingresses: [UnstructuredObject], objects: [UnstructuredObject]) throws -> Exposure? {
        let services = objects.filter { $0.kind == "Service" && $0.apiVersion == "v1" }
        func port(of serviceName: String, named: JSONValue?) -> Int? {
            if let number = named?["number"]?.intValue { return Int(number) }
            guard let service = services.first(where: { $0.name == serviceName }) else { return nil }
            let ports = service["spec", "ports"]?.arrayValue ?? []
            if let name = named?["name"]?.stringValue {
                return ports.first(where: { $0["name"]?.stringValue == name })?["port"]?.intValue.map(Int.init)
            }
            return ports.first?["port"]?.intValue.map(Int.init)
        }
        for ingress in ingresses {
            var backends: [JSONValue] = []
            if let backend = ingress["spec", "defaultBackend"] { backends.append(backend) }
            for rule in ingress["spec", "rules"]?.arrayValue ?? [] {
                for path in rule.value(at: ["http", "paths"])?.arrayValue ?? [] {
                    if let backend = path["backend"] { backends.append(backend) }
                }
            }
            for backend in backends {
                guard let name = backend.value(at: ["service", "name"])?.stringValue else { continue }
                guard let number = port(of: name, named: backend.value(at: ["service", "port"])) else {
                    throw PolicyError(description: "\(ingress.reference) points at service \(name), whose port cannot be found")
                }
                return Exposure(service: name, port: number)
            }
        }
        if let service = services.first, let name = service.name, let number = port(of: name, named: nil) {
            return Exposure(service: name, port: number)
        }
        return nil
    }
}
