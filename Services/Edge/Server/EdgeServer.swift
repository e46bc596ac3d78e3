import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOTLS
import ServiceLifecycle

/// The public HTTPS listener: TLS (context taken fresh for each connection,
/// so a renewed certificate applies to new connections at once), ALPN to
/// HTTP/2 or HTTP/1.1, the connection guard, and one request handler per
/// connection (HTTP/1) or per stream (HTTP/2).
struct EdgeServer: Service {
    let core: EdgeCore
    let tls: TLSContextStore
    let host: String
    let port: Int
    let group: MultiThreadedEventLoopGroup

    /// Connections open now; above the limit new ones are closed at once.
    static let openConnections = NIOLockedValueBox(0)

    /// Reads start small (an idle WebSocket keeps 2 KiB) and grow while a body
    /// streams; NIO's default stops at 64 KiB, which cost a large download or
    /// upload four times the reads, each one a trip through the pipeline
    /// (scripts/bench files: downloads 420-440 -> 470-490 MB/s, HTTP/1.1 uploads
    /// 1.8 -> 1.5 CPU-seconds per GiB). HTTP/2 connections keep NIO's default:
    /// a DATA frame waiting in a stream's window is a slice of the read it came
    /// in, which stays alive with it, so larger reads can only raise what a
    /// stalled HTTP/2 upload holds, and they bought HTTP/2 no speed.
    static let receiveBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 256 << 10)
    /// One read per wake-up, on both sides of the proxy. NIO's default of four
    /// reads before it looks up from a socket let a body arrive in bursts of
    /// 1 MiB that were all forwarded before the other side's backpressure
    /// could say stop; each burst's buffers stayed alive until written
    /// (heaptrack, two 1 GiB downloads per protocol: peak heap 9.7 -> 3.4 MB;
    /// a 2 GiB HTTP/1.1 upload: 7.7 -> 3.0 MB; speed unchanged).
    static let readsPerWakeUp: UInt = 1

    func run() async throws {
        let core = self.core
        let tls = self.tls
        let limits = core.limits
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // A TCP-level option: `.socketOption` would set SOL_SOCKET's option of the same
            // number (SO_DEBUG), which only root may, so a non-root edge refused every connection.
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.recvAllocator, value: Self.receiveBuffers)
            .childChannelOption(.maxMessagesPerRead, value: Self.readsPerWakeUp)
            .childChannelInitializer { channel in
                let admitted = Self.openConnections.withLockedValue { count in
                    guard count < limits.maxConnections else { return false }
                    count += 1
                    return true
                }
                guard admitted else { return channel.close() }
                channel.closeFuture.whenComplete { _ in Self.openConnections.withLockedValue { $0 -= 1 } }
                return channel.eventLoop.makeCompletedFuture {
                    try Self.configure(channel, core: core, tls: tls.current)
                }
            }
        let server = try await bootstrap.bind(host: host, port: port).get()
        core.logger.info("edge listening", metadata: ["address": "\(server.localAddress.map { "\($0)" } ?? "?")"])
        let reload = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(2))
                tls.reloadIfChanged()
            }
        }
        try? await gracefulShutdown()
        reload.cancel()
        // Stop accepting; connections in flight get a moment to finish before the loops go.
        try? await server.close()
        let deadline = ContinuousClock.now + .seconds(5)
        while Self.openConnections.withLockedValue({ $0 }) > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    static func configure(_ channel: Channel, core: EdgeCore, tls: NIOSSLContext) throws {
        let pipeline = channel.pipeline.syncOperations
        let connectionGuard = ConnectionGuard(limits: core.limits)
        let clientAddress = channel.remoteAddress?.ipAddress
        try pipeline.addHandler(NIOSSLServerHandler(context: tls))
        try pipeline.addHandler(RecordCoalescer())
        try pipeline.addHandler(connectionGuard)
        try pipeline.addHandler(
            ApplicationProtocolNegotiationHandler { result, channel in
                channel.eventLoop.makeCompletedFuture {
                    switch result {
                    case .negotiated("h2"):
                        connectionGuard.speaksHTTP2()
                        try configureHTTP2(channel, core: core, clientAddress: clientAddress)
                    default:
                        try configureHTTP1(channel, core: core, connectionGuard: connectionGuard, clientAddress: clientAddress)
                    }
                }
            })
    }

    static func configureHTTP1(_ channel: Channel, core: EdgeCore, connectionGuard: ConnectionGuard, clientAddress: String?) throws {
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        // Slightly above the edge's own limit, which answers with a precise message; past this the parser stops.
        decoderLimits.maxHeaderListSize = core.limits.maxHeadBytes + 1024
        decoderLimits.maxHeaderFieldSize = core.limits.maxHeadBytes + 1024
        decoderLimits.maxHeaderFieldCount = core.limits.maxHeaderFields + 1
        let pipeline = channel.pipeline.syncOperations
        // An upgrade configuration with no upgraders of its own: it makes the
        // parser keep bytes after an upgrade request, for the WebSocket splice.
        // Pipelined requests are queued by the request handler itself: NIO's
        // pipelining helper pauses and resumes reading around every request,
        // two epoll changes each time, for clients that almost never pipeline.
        try pipeline.configureHTTPServerPipeline(
            withPipeliningAssistance: false, withServerUpgrade: (upgraders: [], completionHandler: { _ in }), withErrorHandling: false,
            withOutboundHeaderValidation: true, withEncoderConfiguration: .init(), withDecoderLimitConfiguration: decoderLimits)
        try pipeline.addHandler(ProtocolErrorResponder())
        try pipeline.addHandler(EdgeRequestHandler(core: core, isHTTP2: false, connectionGuard: connectionGuard, clientAddress: clientAddress))
    }

    static func configureHTTP2(_ channel: Channel, core: EdgeCore, clientAddress: String?) throws {
        try channel.syncOptions?.setOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator())
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 128),
            HTTP2Setting(parameter: .maxHeaderListSize, value: core.limits.maxHeadBytes),
            HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
        ]
        // Large uploads from browsers come over HTTP/2: a window of 64 KiB would cap them at one
        // window per round trip. The connection has its own window, which caps every stream on it
        // together: left at HTTP/2's 64 KiB, it held uploads to half of HTTP/1.1's speed
        // (scripts/bench files). 1 MiB each doubled them; larger windows bought no more here
        // and let the edge hold more of a slow upstream's backlog in memory.
        connection.targetWindowSize = 1 << 20
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = 1 << 20
        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .server, connectionConfiguration: connection, streamConfiguration: stream,
            inboundStreamInitializer: { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                    try stream.pipeline.syncOperations.addHandler(
                        EdgeRequestHandler(core: core, isHTTP2: true, connectionGuard: nil, clientAddress: clientAddress))
                }
            })
    }
}
