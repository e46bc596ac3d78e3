import Foundation

/// The API's `Status` object: what it answers instead of an object when something fails.
public struct APIStatus: Codable, Sendable, Equatable {
    public var status: String?
    public var message: String?
    public var reason: String?
    public var code: Int?
    public var details: Details?

    public struct Details: Codable, Sendable, Equatable {
        public var name: String?
        public var group: String?
        public var kind: String?
        public var causes: [Cause]?
        public var retryAfterSeconds: Int?
    }

    public struct Cause: Codable, Sendable, Equatable {
        public var reason: String?
        public var message: String?
        public var field: String?
    }
}

/// An error the API server answered with, decoded from its `Status`.
public struct KubernetesAPIError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Reason: Sendable, Equatable {
        case notFound, alreadyExists, conflict, invalid, forbidden, unauthorized, badRequest, gone
        case tooManyRequests, unsupportedMediaType, methodNotAllowed, internalError, serviceUnavailable, timeout
        case other(String)
    }

    public var code: Int
    public var reason: Reason
    public var message: String
    public var status: APIStatus?

    public init(code: Int, status: APIStatus?) {
        self.code = code
        self.status = status
        self.reason = Self.reason(code: code, named: status?.reason)
        let message = status?.message ?? ""
        self.message = message.isEmpty ? Self.defaultMessage(code) : message
    }

    public var description: String { "Kubernetes API \(code) \(status?.reason ?? ""): \(message)" }

    public var isNotFound: Bool { reason == .notFound }
    public var isAlreadyExists: Bool { reason == .alreadyExists }
    public var isConflict: Bool { reason == .conflict }
    public var isGone: Bool { reason == .gone }

    /// The fields an Invalid answer names, as "field: message".
    public var causes: [String] {
        (status?.details?.causes ?? []).map { cause in
            [cause.field, cause.message].compactMap { $0 }.joined(separator: ": ")
        }
    }

    static func reason(code: Int, named: String?) -> Reason {
        switch named {
        case "NotFound": return .notFound
        case "AlreadyExists": return .alreadyExists
        case "Conflict": return .conflict
        case "Invalid": return .invalid
        case "Forbidden": return .forbidden
        case "Unauthorized": return .unauthorized
        case "BadRequest": return .badRequest
        case "Gone", "Expired": return .gone
        case "TooManyRequests": return .tooManyRequests
        case "UnsupportedMediaType": return .unsupportedMediaType
        case "MethodNotAllowed": return .methodNotAllowed
        case "InternalError": return .internalError
        case "ServiceUnavailable": return .serviceUnavailable
        case "Timeout", "ServerTimeout": return .timeout
        default: break
        }
        switch code {
        case 400: return .badRequest
        case 401: return .unauthorized
        case 403: return .forbidden
        case 404: return .notFound
        case 405: return .methodNotAllowed
        case 409: return .conflict
        case 410: return .gone
        case 415: return .unsupportedMediaType
        case 422: return .invalid
        case 429: return .tooManyRequests
        case 500: return .internalError
        case 503: return .serviceUnavailable
        case 504: return .timeout
        default: return .other(named ?? "\(code)")
        }
    }

    static func defaultMessage(_ code: Int) -> String {
        switch code {
        case 401: return "the credentials were rejected (expired or invalid token or certificate)"
        case 403: return "not allowed"
        case 404: return "not found"
        case 429: return "too many requests"
        default: return "the server answered \(code)"
        }
    }
}

/// The API server could not be reached, or did not answer in time.
public struct KubernetesTransportError: Error, CustomStringConvertible, Sendable {
    public var server: String
    public var underlying: String

    public var description: String { "cannot reach the Kubernetes API at \(server): \(underlying)" }
}

/// A kubeconfig or in-cluster setting that cannot be used.
public struct KubernetesConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A response that is not what the API promises.
public struct KubernetesDecodingError: Error, CustomStringConvertible, Sendable {
    public var description: String
}
