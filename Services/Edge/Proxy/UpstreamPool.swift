import NIOCore
import NIOHTTP1
import NIOPosix

/// What an upstream connection reports to the request it is serving.
/// Both live on the same event loop, so calls are direct.
protocol UpstreamDelegate: AnyObject {
    func upstreamRead(_ part: HTTPClientResponsePart)
    func upstreamReadComplete()
    func upstreamWritabilityChanged(writable: Bool)
    func upstreamClosed()
    /// Whether the client can take more: when not, the upstream stops reading.
    var downstreamWritable: Bool { get }
}

/// One keep-alive HTTP/1.1 connection to an upstream, made on the event loop
/// of the client connection it serves, so bytes never change threads.
/// Confined to that loop; `@unchecked Sendable` only so futures can carry it there.
final class UpstreamConnection: @unchecked Sendable {
    let channel: Channel
    let handler: UpstreamHandler
    let address: UpstreamAddress
    /// Served a request before: a failure before any answer may be a race with the upstream closing it.
    var reused = false

    init(channel: Channel, handler: UpstreamHandler, address: UpstreamAddress) {
        self.channel = channel
        self.handler = handler
        self.address = address
    }
}

/// The idle upstream connections of one event loop, by address. Only ever
/// touched on that loop, so it needs no lock.
final class UpstreamPool {
    let eventLoop: EventLoop
    private var idle: [UpstreamAddress: [UpstreamConnection]] = [:]
    private let maxIdlePerAddress = 128
    private let connectTimeout: TimeAmount = .seconds(3)

    init(eventLoop: EventLoop) {
        self.eventLoop = eventLoop
    }

    /// An idle connection to the address that is still open, if there is one.
    /// Taken at once, without a future: most requests find one.
    func idleConnection(to address: UpstreamAddress) -> UpstreamConnection? {
        while let connection = idle[address]?.popLast() {
            if connection.channel.isActive {
                connection.reused = true
                return connection
            }
        }
        return nil
    }

    func connect(_ address: UpstreamAddress) -> EventLoopFuture<UpstreamConnection> {
        ClientBootstrap(group: eventLoop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.recvAllocator, value: EdgeServer.receiveBuffers)
            .channelOption(.maxMessagesPerRead, value: EdgeServer.readsPerWakeUp)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(leftOverBytesStrategy: .forwardBytes)
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler())
                }
            }
            .connect(host: address.host, port: address.port)
            .assumeIsolated()
            .flatMapThrowing { [weak self] channel in
                let handler = try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
                let connection = UpstreamConnection(channel: channel, handler: handler, address: address)
                // Set once for the connection's life, not on every return to the pool.
                handler.onIdleClose = { [weak self, weak connection] in
                    guard let self, let connection else { return }
                    self.idle[connection.address]?.removeAll { $0 === connection }
                }
                return connection
            }
            .nonisolated()
    }

    /// A connection whose exchange ended cleanly goes back for the next request.
    func release(_ connection: UpstreamConnection) {
        connection.handler.delegate = nil
        guard connection.channel.isActive else { return }
        guard (idle[connection.address]?.count ?? 0) < maxIdlePerAddress else {
            connection.channel.close(promise: nil)
            return
        }
        // Appended in place: a copy of the list taken out and put back made every release copy it.
        idle[connection.address, default: []].append(connection)
    }
}

/// The last handler of an upstream connection: hands the answer to the
/// request it serves, and stops reading while that client cannot keep up.
final class UpstreamHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    weak var delegate: UpstreamDelegate?
    /// Takes the connection out of its pool when it closes while idle (no delegate).
    var onIdleClose: (() -> Void)?
    private var context: ChannelHandlerContext?
    private var pendingRead = false

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let delegate else {
            // An idle connection that speaks out of turn cannot be trusted with the next request.
            context.close(promise: nil)
            return
        }
        delegate.upstreamRead(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.upstreamWritabilityChanged(writable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let onIdleClose = self.onIdleClose
        self.onIdleClose = nil
        // Serving no request: it may be waiting in the pool, which lets it go.
        if delegate == nil { onIdleClose?() }
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamClosed()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if let delegate, !delegate.downstreamWritable {
            pendingRead = true
        } else {
            context.read()
        }
    }

    /// The client drained what it had; read from the upstream again.
    func resumeReading() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }

    func attach(_ delegate: UpstreamDelegate) {
        self.delegate = delegate
    }
}
