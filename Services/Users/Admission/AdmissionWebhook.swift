import Foundation
import KnotKubernetes
import KnotModels
import Logging

/// The two admission hooks for pods, without the HTTP around them.
///
/// **Whose namespace.** A review carries the pod's namespace but not the
/// namespace's labels (reading them would be an API call per pod), so a
/// namespace is a user's when its name is `knot-<username>`
/// (`UserRecord.namespace(for:)`) and `<username>` is a name the users
/// service could have given out (`UserValidation.checkUsername`: so
/// `knot-system` or `knot-kube` are never a user's). The webhook
/// configurations select namespaces labelled
/// `app.kubernetes.io/managed-by: knot` and `knot.io/user`
/// (`namespaceSelector`, see docs/examples/admission-webhooks.yaml), so other
/// namespaces never reach the hooks; should one reach them anyway, it is
/// answered "allowed", with no patch (defence in depth: a mistake in the
/// selector must not block or alter the rest of the cluster).
///
/// **Unknown user.** A `knot-<name>` namespace whose user the users store does
/// not know (deleted, or a namespace someone else made with Knot's label) gets
/// no pods: both hooks refuse (403). The mutating hook refusing is what keeps
/// "no pod without its mounts" true there. A store that cannot be reached
/// refuses too (503), so a pod is never admitted unmutated.
///
/// **Operations.** Mutation is for CREATE only. Validation checks CREATE, and
/// UPDATE of the `ephemeralcontainers` subresource (`kubectl debug` adding a
/// privileged container); other UPDATEs are allowed, because the fields
/// checked are immutable once a pod exists and refusing would also block
/// removing the finalizers of a pod admitted before the hook existed. DELETE
/// and CONNECT are always allowed.
struct AdmissionWebhook: Sendable {
    enum Hook: String, Sendable {
        case mutate, validate
    }

    typealias UserLookup = @Sendable (String) async throws -> UserRecord?

    var policy: PodPolicy
    /// The dashboard's public address, for `KNOT_URL`.
    var publicURL: String
    var lookup: UserLookup
    var logger: Logger

    /// The API server sends at most an object and its old version (etcd keeps objects up to 1.5 MiB).
    static let bodyLimit = 3 * 1024 * 1024

    /// Answers one posted body with the AdmissionReview to send back; a body
    /// that is not an `admission.k8s.io/v1` AdmissionReview throws `MalformedReview`.
    func respond(to body: Data, hook: Hook) async throws -> Data {
        let request = try AdmissionReview.parse(body)
        let response = await review(request, hook: hook)
        if !response.allowed {
            logger.info(
                "admission refused",
                metadata: [
                    "hook": "\(hook.rawValue)", "uid": "\(request.uid)", "namespace": "\(request.namespace ?? "")",
                    "requester": "\(request.requester ?? "")", "reason": "\(response.message ?? "")",
                ])
        } else if !response.patch.isEmpty {
            logger.debug(
                "pod mutated", metadata: ["uid": "\(request.uid)", "namespace": "\(request.namespace ?? "")", "operations": "\(response.patch.count)"])
        }
        return try response.review().jsonData()
    }

    func review(_ request: AdmissionRequest, hook: Hook) async -> AdmissionResponse {
        switch hook {
        case .mutate: await mutate(request)
        case .validate: await validate(request)
        }
    }

    func mutate(_ request: AdmissionRequest) async -> AdmissionResponse {
        guard request.isPod, request.subResource == nil, request.operation == .create,
            let namespace = request.namespace, let username = Self.username(ofNamespace: namespace)
        else { return .allow(request) }
        let user: UserRecord
        switch await owner(username, namespace: namespace, request: request) {
        case .found(let found): user = found
        case .refused(let refusal): return refusal
        }
        guard let pod = request.object else { return .deny(request, code: 400, "the review has no pod to mutate") }
        let mutation = PodMutation(
            owner: .init(username: user.username, namespace: namespace, admin: user.admin, publicURL: publicURL))
        do {
            return .allow(request, patch: try mutation.apply(to: pod).patch)
        } catch {
            return .deny(request, code: 400, "Knot cannot read \(Self.describe(pod)): \(error)")
        }
    }

    func validate(_ request: AdmissionRequest) async -> AdmissionResponse {
        guard request.isPod, let namespace = request.namespace, let username = Self.username(ofNamespace: namespace) else {
            return .allow(request)
        }
        switch (request.operation, request.subResource) {
        case (.create, nil):
            if case .refused(let refusal) = await owner(username, namespace: namespace, request: request) {
                return refusal
            }
            guard let pod = request.object else { return .deny(request, code: 400, "the review has no pod to check") }
            let problems = policy.problems(in: pod)
            guard problems.isEmpty else {
                return .deny(request, PodPolicy.refusal(pod: Self.describe(pod), namespace: namespace, problems: problems))
            }
            return .allow(request)
        case (.update, "ephemeralcontainers"):
            guard let pod = request.object else { return .deny(request, code: 400, "the review has no pod to check") }
            let problems = policy.problems(inEphemeralContainersOf: pod)
            guard problems.isEmpty else {
                return .deny(request, PodPolicy.refusal(pod: Self.describe(pod), namespace: namespace, problems: problems))
            }
            return .allow(request)
        default:
            return .allow(request)
        }
    }

    enum Owner {
        case found(UserRecord)
        case refused(AdmissionResponse)
    }

    /// The namespace's user, or the refusal to answer with.
    func owner(_ username: String, namespace: String, request: AdmissionRequest) async -> Owner {
        do {
            guard let user = try await lookup(username) else {
                return .refused(.deny(request, "namespace \(namespace) belongs to no Knot account, so Knot admits no pods in it"))
            }
            return .found(user)
        } catch {
            logger.error("admission: the users store could not be read", metadata: ["username": "\(username)", "error": "\(error)"])
            return .refused(.deny(request, code: 503, "Knot cannot look up the owner of namespace \(namespace) right now; try again shortly"))
        }
    }

    /// `knot-<username>` → `<username>`, when that is a name the users service could have given out.
    static func username(ofNamespace namespace: String) -> String? {
        let prefix = UserRecord.namespace(for: "")
        guard namespace.hasPrefix(prefix) else { return nil }
        let username = String(namespace.dropFirst(prefix.count))
        guard (try? UserValidation.checkUsername(username)) != nil else { return nil }
        return username
    }

    /// `pod "web"`, or for a pod a controller names later `pod "web-7d4b9c-…" (of ReplicaSet web-7d4b9c)`.
    static func describe(_ pod: JSONValue) -> String {
        let metadata = pod["metadata"]
        var text: String
        if let name = metadata?["name"]?.stringValue, !name.isEmpty {
            text = "pod \"\(name.prefix(253))\""
        } else if let prefix = metadata?["generateName"]?.stringValue, !prefix.isEmpty {
            text = "pod \"\(prefix.prefix(253))…\""
        } else {
            text = "a pod without a name"
        }
        if let owner = metadata?["ownerReferences"]?.arrayValue?.first(where: { $0["controller"]?.boolValue == true }) ?? metadata?["ownerReferences"]?.arrayValue?.first,
            let kind = owner["kind"]?.stringValue, let name = owner["name"]?.stringValue
        {
            text += " (of \(kind) \(name))"
        }
        return text
    }
}
