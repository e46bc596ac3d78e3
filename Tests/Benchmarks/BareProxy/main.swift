// A bare SwiftNIO TLS reverse proxy, a peer in `scripts/bench edge`: the same
// libraries as knot-edge (NIOSSL, NIO's HTTP/1.1 codec, one keep-alive
// upstream connection made on the client's event loop, and a WebSocket
// upgrade spliced into a byte copy) and nothing else; no sign-on, no checks,
// no header policy, no logs, no timers. What it costs per request, and what an
// idle WebSocket through it holds, are the floor for any proxy built on these
// libraries, so the bench can tell the edge's own work apart from its
// platform's. Never shipped.
//
//   knot-bench-bare-proxy PORT UPSTREAM-PORT CERTIFICATE.pem KEY.pem
import Glibc
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

let arguments = CommandLine.arguments
guard arguments.count == 5, let port = Int(arguments[1]), let upstreamPort = Int(arguments[2]) else {
    print("usage: knot-bench-bare-proxy PORT UPSTREAM-PORT CERTIFICATE.pem KEY.pem")
    exit(2)
}

var configuration = TLSConfiguration.makeServerConfiguration(
    certificateChain: try NIOSSLCertificate.fromPEMFile(arguments[3]).map { .certificate($0) },
    privateKey: .privateKey(try NIOSSLPrivateKey(file: arguments[4], format: .pem)))
configuration.minimumTLSVersion = .tlsv12
let tls = try NIOSSLContext(configuration: configuration)

/// Hands the upstream's answer to the client connection it serves; both live on one event loop.
final class UpstreamReceiver: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    let client: ChannelHandlerContext

    init(client: ChannelHandlerContext) {
        self.client = client
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head) where head.status == .switchingProtocols:
            client.writeAndFlush(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
            // After this read returns: both parsers stopped at the upgrade and keep what came after it.
            let (client, upstream) = (client.channel, context.channel)
            context.eventLoop.execute { splice(client: client, upstream: upstream) }
        case .head(let head):
            let out = HTTPResponseHead(version: .http1_1, status: head.status, headers: head.headers)
            client.write(NIOAny(HTTPServerResponsePart.head(out)), promise: nil)
        case .body(let body):
            client.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(body))), promise: nil)
        case .end:
            client.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        client.close(promise: nil)
    }
}

/// One client connection: requests forwarded in turn over one upstream connection.
final class ProxyHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    private var upstream: Channel?
    private var connecting: EventLoopFuture<Channel>?
    private var waiting: [HTTPClientRequestPart] = []
    private let clientAddress: String
    private let upstreamPort: Int

    init(clientAddress: String, upstreamPort: Int) {
        self.clientAddress = clientAddress
        self.upstreamPort = upstreamPort
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part: HTTPClientRequestPart
        switch unwrapInboundIn(data) {
        case .head(var head):
            head.headers.replaceOrAdd(name: "X-Forwarded-For", value: clientAddress)
            head.headers.replaceOrAdd(name: "X-Forwarded-Proto", value: "https")
            part = .head(head)
        case .body(let body):
            part = .body(.byteBuffer(body))
        case .end(let trailers):
            part = .end(trailers)
        }
        if let upstream {
            upstream.write(NIOAny(part), promise: nil)
            if case .end = part { upstream.flush() }
            return
        }
        waiting.append(part)
        guard connecting == nil else { return }
        let connection = ClientBootstrap(group: context.eventLoop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(leftOverBytesStrategy: .forwardBytes)
                    try channel.pipeline.syncOperations.addHandler(UpstreamReceiver(client: context))
                }
            }
            .connect(host: "127.0.0.1", port: upstreamPort)
        connecting = connection
        connection.whenComplete { [self] result in
            switch result {
            case .success(let channel):
                upstream = channel
                for part in waiting { channel.write(NIOAny(part), promise: nil) }
                waiting = []
                channel.flush()
            case .failure:
                context.close(promise: nil)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        upstream?.close(promise: nil)
    }
}

/// Copies what one side of an upgraded connection reads to the other.
final class Glue: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    var peer: Channel?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { peer?.write(data, promise: nil) }
    func channelReadComplete(context: ChannelHandlerContext) { peer?.flush() }
    func channelInactive(context: ChannelHandlerContext) {
        peer?.close(promise: nil)
        peer = nil
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}

/// Both channels stop speaking HTTP; each decoder goes last, handing on what it kept.
func splice(client: Channel, upstream: Channel) {
    let clientGlue = Glue()
    let upstreamGlue = Glue()
    clientGlue.peer = upstream
    upstreamGlue.peer = client
    do {
        let clientPipeline = client.pipeline.syncOperations
        let upstreamPipeline = upstream.pipeline.syncOperations
        try clientPipeline.addHandler(clientGlue)
        try upstreamPipeline.addHandler(upstreamGlue)
        clientPipeline.removeHandler(context: try clientPipeline.context(handlerType: ProxyHandler.self), promise: nil)
        clientPipeline.removeHandler(context: try clientPipeline.context(handlerType: HTTPResponseEncoder.self), promise: nil)
        if let validator = try? clientPipeline.context(handlerType: NIOHTTPResponseHeadersValidator.self) {
            clientPipeline.removeHandler(context: validator, promise: nil)
        }
        upstreamPipeline.removeHandler(context: try upstreamPipeline.context(handlerType: UpstreamReceiver.self), promise: nil)
        upstreamPipeline.removeHandler(context: try upstreamPipeline.context(handlerType: HTTPRequestEncoder.self), promise: nil)
        if let validator = try? upstreamPipeline.context(handlerType: NIOHTTPRequestHeadersValidator.self) {
            upstreamPipeline.removeHandler(context: validator, promise: nil)
        }
        upstreamPipeline.removeHandler(context: try upstreamPipeline.context(handlerType: ByteToMessageHandler<HTTPResponseDecoder>.self), promise: nil)
        clientPipeline.removeHandler(context: try clientPipeline.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self), promise: nil)
    } catch {
        client.close(promise: nil)
        upstream.close(promise: nil)
    }
}

let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
let server = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            let pipeline = channel.pipeline.syncOperations
            try pipeline.addHandler(NIOSSLServerHandler(context: tls))
            // An upgrade configuration without upgraders, as the edge has: the parser keeps the bytes after an upgrade.
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withServerUpgrade: (upgraders: [], completionHandler: { _ in }), withErrorHandling: false)
            try pipeline.addHandler(ProxyHandler(clientAddress: channel.remoteAddress?.ipAddress ?? "unknown", upstreamPort: upstreamPort))
        }
    }
    .bind(host: "127.0.0.1", port: port).wait()
print("READY \(server.localAddress.map { "\($0)" } ?? "?")")
fflush(stdout)
try server.closeFuture.wait()
