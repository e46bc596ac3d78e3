import Foundation
import KnotErrors
import KnotKubernetes

/// An `admission.k8s.io/v1` AdmissionReview as the API server sends it to a
/// webhook. Only the request's envelope is typed; the object itself stays a
/// `JSONValue`, so nothing in a pod Knot does not model is lost or reordered.
struct AdmissionRequest: Sendable, Equatable {
    enum Operation: Sendable, Equatable {
        case create, update, delete, connect
        case other(String)

        init(_ text: String) {
            switch text {
            case "CREATE": self = .create
            case "UPDATE": self = .update
            case "DELETE": self = .delete
            case "CONNECT": self = .connect
            default: self = .other(text)
            }
        }
    }

    /// The review's id; the response must carry it back unchanged.
    var uid: String
    /// The object's kind (`request.kind`): group, version, kind.
    var group: String
    var version: String
    var kind: String
    /// `request.subResource`, e.g. `ephemeralcontainers` for `kubectl debug`; nil for the object itself.
    var subResource: String?
    var operation: Operation
    /// `request.namespace`, or the object's own `metadata.namespace` when the request leaves it out.
    var namespace: String?
    var name: String?
    var object: JSONValue?
    var oldObject: JSONValue?
    var dryRun: Bool
    /// Who asked (`request.userInfo.username`), for the log.
    var requester: String?

    /// A core/v1 Pod itself (not one of its subresources).
    var isPod: Bool { group.isEmpty && version == "v1" && kind == "Pod" }
}

/// Why a body is not an AdmissionReview Knot can answer (answered 400: the
/// API server then applies the hook's failure policy).
struct MalformedReview: Error, CustomStringConvertible {
    var description: String
}

enum AdmissionReview {
    static let apiVersion = "admission.k8s.io/v1"
    static let kind = "AdmissionReview"

    /// Reads the body the API server posts. Only `admission.k8s.io/v1` is accepted (the
    /// webhook configurations say `admissionReviewVersions: ["v1"]`).
    static func parse(_ data: Data) throws -> AdmissionRequest {
        let document: JSONValue
        do {
            document = try JSONDecoder().decode(JSONValue.self, from: data)
        } catch {
            throw MalformedReview(description: "the body is not JSON")
        }
        guard document.objectValue != nil else { throw MalformedReview(description: "the body is not a JSON object") }
        guard document["apiVersion"]?.stringValue == apiVersion, document["kind"]?.stringValue == kind else {
            throw MalformedReview(
                description: "expected an \(kind) of apiVersion \(apiVersion), got kind \(describe(document["kind"])) of apiVersion \(describe(document["apiVersion"]))")
        }
        guard let request = document["request"], request.objectValue != nil else {
            throw MalformedReview(description: "the AdmissionReview has no request")
        }
        guard let uid = request["uid"]?.stringValue, !uid.isEmpty else {
            throw MalformedReview(description: "request.uid must be a non-empty string")
        }
        guard let kind = request["kind"], let kindName = kind["kind"]?.stringValue, let version = kind["version"]?.stringValue else {
            throw MalformedReview(description: "request.kind must name a kind and a version")
        }
        guard let operation = request["operation"]?.stringValue else {
            throw MalformedReview(description: "request.operation must be a string")
        }
        func optionalString(_ key: String) throws -> String? {
            switch request[key] {
            case nil, .null?: return nil
            case .string(let value)?: return value.isEmpty ? nil : value
            default: throw MalformedReview(description: "request.\(key) must be a string")
            }
        }
        func optionalObject(_ key: String) throws -> JSONValue? {
            switch request[key] {
            case nil, .null?: return nil
            case let value? where value.objectValue != nil: return value
            default: throw MalformedReview(description: "request.\(key) must be an object")
            }
        }
        let object = try optionalObject("object")
        let oldObject = try optionalObject("oldObject")
        let namespace = try optionalString("namespace") ?? (object ?? oldObject)?.value(at: ["metadata", "namespace"])?.stringValue
        return AdmissionRequest(
            uid: uid, group: kind["group"]?.stringValue ?? "", version: version, kind: kindName,
            subResource: try optionalString("subResource"), operation: .init(operation), namespace: namespace,
            name: try optionalString("name"), object: object, oldObject: oldObject,
            dryRun: request["dryRun"]?.boolValue ?? false, requester: request.value(at: ["userInfo", "username"])?.stringValue)
    }

    static func describe(_ value: JSONValue?) -> String {
        guard let value else { return "(none)" }
        if let text = value.stringValue { return "\"\(text.prefix(80))\"" }
        return "(not a string)"
    }
}

/// One RFC 6902 operation. Knot only ever adds (a whole member that is
/// absent, or one item at the end of an array with `-`), which keeps every
/// patch valid whatever else the pod holds.
struct PatchOperation: Sendable, Equatable, Codable {
    var op: String
    var path: String
    var value: JSONValue?

    static func add(_ tokens: [String], _ value: JSONValue) -> PatchOperation {
        PatchOperation(op: "add", path: JSONPointer.path(tokens), value: value)
    }
}

/// RFC 6901 pointers.
enum JSONPointer {
    /// One reference token: `~` becomes `~0` and `/` becomes `~1` (in that order).
    static func escape(_ token: String) -> String {
        token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    static func path(_ tokens: [String]) -> String {
        tokens.map { "/" + escape($0) }.joined()
    }
}

/// The answer to one review.
struct AdmissionResponse: Sendable, Equatable {
    var uid: String
    var allowed: Bool
    /// For a refusal: an HTTP-like code (403 for policy, 400 for a pod that cannot be read, 503 when the users store is away) and one sentence.
    var code: Int?
    var message: String?
    var patch: [PatchOperation] = []
    var warnings: [String] = []

    static func allow(_ request: AdmissionRequest, patch: [PatchOperation] = [], warnings: [String] = []) -> AdmissionResponse {
        AdmissionResponse(uid: request.uid, allowed: true, patch: patch, warnings: warnings)
    }

    static func deny(_ request: AdmissionRequest, code: Int = 403, _ message: String) -> AdmissionResponse {
        AdmissionResponse(uid: request.uid, allowed: false, code: code, message: message)
    }

    /// The whole AdmissionReview document sent back: `apiVersion`, `kind`,
    /// and `response` with the request's uid, and for a mutation
    /// `patchType: JSONPatch` with the patch in base64.
    func review() throws -> JSONValue {
        var response: [String: JSONValue] = ["uid": .string(uid), "allowed": .bool(allowed)]
        if !allowed {
            let code = Int64(code ?? 403)
            let reason: String =
                switch code {
                case 400: "BadRequest"
                case 403: "Forbidden"
                case 503: "ServiceUnavailable"
                default: code >= 500 ? "InternalError" : "Forbidden"
                }
            response["status"] = [
                "status": "Failure", "code": .int(code), "reason": .string(reason), "message": .string(message ?? "refused by Knot"),
            ]
        }
        if !patch.isEmpty {
            response["patchType"] = "JSONPatch"
            response["patch"] = .string(try Self.encode(patch).base64EncodedString())
        }
        if !warnings.isEmpty { response["warnings"] = .array(warnings.map(JSONValue.string)) }
        return ["apiVersion": .string(AdmissionReview.apiVersion), "kind": .string(AdmissionReview.kind), "response": .object(response)]
    }

    static func encode(_ patch: [PatchOperation]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(patch)
    }
}
