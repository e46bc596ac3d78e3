import Hummingbird
import KnotAuth
import KnotErrors
import Logging
import NIOCore

/// The request context every Knot service uses. `identity` is set by the
/// user-authentication middleware and `caller` by the service-authentication
/// middleware; handlers behind those middlewares can rely on them.
public struct KnotRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The verified identity assertion of the user on whose behalf the request is made.
    public var identity: IdentityAssertion?
    /// The raw assertion, to pass on when this service calls another on the user's behalf.
    public var assertionToken: String?
    /// The name of the Knot service that called an internal endpoint.
    public var caller: String?

    /// The event loop of the connection the request came on; streamed answers pace themselves by it.
    public let eventLoop: any EventLoop

    public init(source: Source) {
        coreContext = .init(source: source)
        eventLoop = source.channel.eventLoop
    }

    /// Streaming endpoints (uploads) read the body themselves; JSON bodies are capped by `decodeJSON`.
    public var maxUploadSize: Int { Int.max }

    /// The identity, or a 401 when the middleware was not in the chain (a programming error made safe).
    public func requireIdentity() throws -> IdentityAssertion {
        guard let identity else { throw KnotErrorShortcut.unauthorized }
        return identity
    }

    /// Someone who may change things: anyone acting as themselves, or a team's owner or editor.
    public func requireEditor() throws -> IdentityAssertion {
        let identity = try requireIdentity()
        if identity.role == "viewer" {
            throw KnotError.forbidden("viewers of \(identity.username) open its services; its editors launch and stop them")
        }
        return identity
    }

    public func requireAdmin() throws -> IdentityAssertion {
        let identity = try requireIdentity()
        guard identity.admin else { throw KnotErrorShortcut.adminOnly }
        return identity
    }
}
