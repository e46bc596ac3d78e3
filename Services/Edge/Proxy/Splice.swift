import Logging
import NIOCore
import NIOHTTP1

/// After a successful upgrade (a WebSocket, say) the edge stops speaking
/// HTTP on both sockets and copies bytes between them, each side reading
/// only while the other can write, and closing both when either ends.
enum Splice {
    /// Replaces the HTTP handlers of both channels (on the same event loop) with a spliced pair.
    static func join(client: Channel, upstream: Channel, logger: Logger) {
        guard client.isActive, upstream.isActive else {
            client.close(promise: nil)
            upstream.close(promise: nil)
            return
        }
        let clientSide = SpliceHandler()
        let upstreamSide = SpliceHandler()
        clientSide.partner = upstreamSide
        upstreamSide.partner = clientSide
        do {
            let clientPipeline = client.pipeline.syncOperations
            let upstreamPipeline = upstream.pipeline.syncOperations
            try clientPipeline.addHandler(clientSide)
            try upstreamPipeline.addHandler(upstreamSide)
            // HTTP handlers go; each decoder last, so bytes that arrived
            // after the upgrade reach the splice rather than a parser.
            removeIfPresent(EdgeRequestHandler.self, from: clientPipeline)
            removeIfPresent(ProtocolErrorResponder.self, from: clientPipeline)
            removeIfPresent(NIOHTTPResponseHeadersValidator.self, from: clientPipeline)
            removeIfPresent(HTTPResponseEncoder.self, from: clientPipeline)
            removeIfPresent(UpstreamHandler.self, from: upstreamPipeline)
            removeIfPresent(NIOHTTPRequestHeadersValidator.self, from: upstreamPipeline)
            removeIfPresent(HTTPRequestEncoder.self, from: upstreamPipeline)
            let upstreamDecoder = try upstreamPipeline.context(handlerType: ByteToMessageHandler<HTTPResponseDecoder>.self)
            let clientDecoder = try clientPipeline.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
            upstreamPipeline.removeHandler(context: upstreamDecoder, promise: nil)
            clientPipeline.removeHandler(context: clientDecoder, promise: nil)
        } catch {
            logger.warning("could not splice an upgraded connection", metadata: ["error": "\(error)"])
            client.close(promise: nil)
            upstream.close(promise: nil)
        }
    }

    private static func removeIfPresent<Handler: RemovableChannelHandler>(_ type: Handler.Type, from pipeline: ChannelPipeline.SynchronousOperations) {
        if let context = try? pipeline.context(handlerType: type) {
            pipeline.removeHandler(context: context, promise: nil)
        }
    }
}

/// One end of a splice: what it reads, its partner writes.
final class SpliceHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    weak var partner: SpliceHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false
    private var needsFlush = false

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.send(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.flushIfNeeded()
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.closeChannel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if partner?.isWritable == false {
            pendingRead = true
        } else {
            context.read()
        }
    }

    private var isWritable: Bool { context?.channel.isWritable ?? false }

    private func send(_ buffer: ByteBuffer) {
        guard let context else { return }
        context.write(wrapOutboundOut(buffer), promise: nil)
        needsFlush = true
    }

    private func flushIfNeeded() {
        guard needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }

    private func resumeReading() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }

    private func closeChannel() {
        flushIfNeeded()
        context?.close(promise: nil)
    }
}
