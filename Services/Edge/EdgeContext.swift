import Hummingbird
import NIOCore

/// The edge's request context: what Hummingbird gives, plus the client's address for `X-Forwarded-For`.
struct EdgeContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    /// The edge streams bodies through; the upstream decides what it accepts.
    var maxUploadSize: Int { Int.max }
}
