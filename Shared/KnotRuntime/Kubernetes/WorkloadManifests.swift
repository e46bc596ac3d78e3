import Foundation
import KnotKubernetes

/// Where the edge should send a service's traffic: a Service and its port.
public struct Exposure: Sendable, Equatable, Codable {
    public var service: String
    public var port: Int

    public func upstream(namespace: String) -> String { "http://\(service).\(namespace).svc.cluster.local:\(port)" }
}

/// A rendered template made fit to apply: API versions brought up to date,
/// everything put in the user's namespace and labelled as this service's, the
/// file domains mounted into every container, and Knot's policy checked
/// (only the user's namespace, no RBAC, no host access). Ingresses are not
/// applied: they say which port the edge should expose, and the edge does.
public struct WorkloadManifests: Sendable {
    public var objects: [UnstructuredObject]
    public var exposure: Exposure?

    public struct PolicyError: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    static let forbiddenGroups: Set<String> = ["rbac.authorization.k8s.io", "apiextensions.k8s.io", "admissionregistration.k8s.io", "certificates.k8s.io"]
    static let forbiddenKinds: Set<String> = ["Namespace", "PersistentVolume", "Node", "ResourceQuota", "LimitRange", "NetworkPolicy"]

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
                throw PolicyError(description: "a \(object.kind) has no metadata.name")
            }
            if forbiddenGroups.contains(group) || forbiddenKinds.contains(object.kind) {
                throw PolicyError(description: "\(object.reference): templates may not create \(object.kind) objects")
            }
            if let given = object.namespace, !given.isEmpty, given != namespace {
                throw PolicyError(description: "\(object.reference) names namespace \"\(given)\"; services run only in \(namespace)")
            }
            guard seen.insert("\(object.apiVersion)/\(object.kind)/\(name)").inserted else {
                throw PolicyError(description: "\(object.reference) appears twice")
            }
            object.namespace = namespace
            object.labels = object.labels.merging(labels(for: spec)) { _, knot in knot }
            try preparePodSpecs(&object, spec: spec, settings: settings)
            if object.kind == "Ingress" {
                ingresses.append(object)
            } else {
                objects.append(object)
            }
        }
        let exposure = try exposure(ingresses: ingresses, objects: objects)
        return WorkloadManifests(objects: objects, exposure: exposure)
    }

    static func labels(for spec: WorkloadSpec) -> [String: String] {
        [
            KnotLabels.managedBy: "knot", KnotLabels.user: spec.owner.username, KnotLabels.serviceID: spec.id,
            KnotLabels.serviceName: spec.name,
        ]
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
                throw PolicyError(description: "\(object.reference) has no pod spec")
            }
            try checkPodSpec(podSpec, object: object)
            mountDomains(&podSpec, settings: settings)
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

    static func checkPodSpec(_ podSpec: JSONValue, object: UnstructuredObject) throws {
        for flag in ["hostNetwork", "hostPID", "hostIPC"] where podSpec[flag]?.boolValue == true {
            throw PolicyError(description: "\(object.reference) asks for \(flag), which services may not use")
        }
        for volume in podSpec["volumes"]?.arrayValue ?? [] where volume["hostPath"] != nil {
            throw PolicyError(
                description: "\(object.reference) mounts a host path (volume \(volume["name"]?.stringValue ?? "?")); your files are mounted for you at /files/private and /files/shared")
        }
        let containers = (podSpec["containers"]?.arrayValue ?? []) + (podSpec["initContainers"]?.arrayValue ?? [])
        guard !(podSpec["containers"]?.arrayValue ?? []).isEmpty else {
            throw PolicyError(description: "\(object.reference) has no containers")
        }
        for container in containers where container.value(at: ["securityContext", "privileged"])?.boolValue == true {
            throw PolicyError(description: "\(object.reference) asks for a privileged container, which services may not use")
        }
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
