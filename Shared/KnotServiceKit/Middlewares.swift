import Foundation
import HTTPTypes
import Hummingbird
import KnotAuth
import KnotErrors
import KnotLogging
import KnotModels
import Logging

extension HTTPField.Name {
    public static let knotAssertion = HTTPField.Name(KnotHeader.assertion)!
    public static let knotServiceToken = HTTPField.Name(KnotHeader.serviceToken)!
    public static let knotUser = HTTPField.Name(KnotHeader.user)!
    public static let requestID = HTTPField.Name(KnotHeader.requestID)!
    public static let traceparent = HTTPField.Name(KnotHeader.traceparent)!
}

/// Gives each request its id (continuing the caller's), puts it in every log
/// line and in the task-local trace for outgoing calls, answers with it, and
/// writes one access-log line per request.
public struct TraceMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The edge starts every trace itself; services behind it continue the edge's.
    let trustIncoming: Bool

    public init(trustIncoming: Bool = true) {
        self.trustIncoming = trustIncoming
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let trace =
            trustIncoming
            ? RequestTrace.continuing(requestID: request.headers[.requestID], traceparent: request.headers[.traceparent])
            : RequestTrace.continuing(requestID: nil, traceparent: nil)
        var context = context
        context.logger[metadataKey: "request_id"] = .string(trace.requestID)
        context.logger[metadataKey: "hb.request.id"] = nil
        let started = ContinuousClock.now
        let logger = context.logger
        return try await RequestTrace.$current.withValue(trace) {
            do {
                var response = try await next(request, context)
                response.headers[.requestID] = trace.requestID
                Self.log(logger, request, status: response.status.code, started: started)
                return response
            } catch let error as HTTPResponseError {
                Self.log(logger, request, status: error.status.code, started: started)
                throw error
            } catch {
                Self.log(logger, request, status: 500, started: started)
                throw error
            }
        }
    }

    static func log(_ logger: Logger, _ request: Request, status: Int, started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        logger.info(
            "request",
            metadata: [
                "method": "\(request.method.rawValue)", "path": "\(request.uri.path)",
                "status": "\(status)", "ms": "\(String(format: "%.2f", ms))",
            ])
    }
}

/// Turns every error into Knot's JSON error shape, so no endpoint ever answers
/// with a bare text body or leaks an internal error's description.
public struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as KnotError {
            throw error
        } catch let error as any StandardShapedError {
            throw error
        } catch let error as HTTPError {
            throw KnotError(error.status, code: Self.code(for: error.status), message: error.body ?? Self.message(for: error.status))
        } catch let error as HTTPResponseError {
            throw KnotError(error.status, code: Self.code(for: error.status), message: Self.message(for: error.status))
        } catch is CancellationError {
            throw KnotError.unavailable("the request was cancelled")
        } catch {
            context.logger.error("unhandled error", metadata: ["error": "\(String(reflecting: error))"])
            throw KnotError.internalError()
        }
    }

    static func code(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "bad_request"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 409: "conflict"
        case 413: "too_large"
        case 415: "unsupported_media_type"
        default: status.code >= 500 ? "internal" : "error"
        }
    }

    static func message(for status: HTTPResponse.Status) -> String {
        status.code == 404 ? "no such endpoint" : status.reasonPhrase
    }
}

/// Admits a request only with a valid identity assertion from identity; a
/// missing, expired or forged one is a 401. Plain user headers mean nothing.
public struct UserAuthMiddleware: RouterMiddleware {
    public typealias Context = KnotRequestContext
    let verifier: AssertionVerifier

    public init(verifier: AssertionVerifier) {
        self.verifier = verifier
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token = request.headers[.knotAssertion] else {
            throw KnotError.unauthorized("no identity assertion: sign in through the edge")
        }
        let identity: IdentityAssertion
        do {
            identity = try await verifier.verify(token)
        } catch let error as KnotError {
            throw error
        } catch {
            throw KnotError.unauthorized("the identity assertion is not valid")
        }
        var context = context
        context.identity = identity
        context.assertionToken = token
        context.logger[metadataKey: "user"] = .string(identity.username)
        return try await next(request, context)
    }
}

/// Admits a request to `/internal/v1` only from another Knot service.
public struct ServiceAuthMiddleware: RouterMiddleware {
    public typealias Context = KnotRequestContext
    let tokens: ServiceTokens
    let allowed: Set<String>?

    /// - Parameter allowed: the services that may call this group, or nil for any Knot service.
    public init(tokens: ServiceTokens, allowed: Set<String>? = nil) {
        self.tokens = tokens
        self.allowed = allowed
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token = request.headers[.knotServiceToken] else {
            throw KnotError.unauthorized("internal endpoints need a service token")
        }
        let caller: String
        do {
            caller = try await tokens.verify(token)
        } catch {
            throw KnotError.unauthorized("the service token is not valid")
        }
        if let allowed, !allowed.contains(caller) {
            throw KnotError.forbidden("the \(caller) service may not call this endpoint")
        }
        var context = context
        context.caller = caller
        return try await next(request, context)
    }
}
