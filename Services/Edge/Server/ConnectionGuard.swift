import NIOCore
import NIOSSL
import NIOTLS

/// Keeps a connection from holding the edge without doing anything useful:
/// a TLS handshake or a request head must finish within `headTimeout` of
/// starting (slowloris), a request body that stops arriving ends the
/// connection after `bodyTimeout`, and a keep-alive connection with no
/// request is closed after `idleTimeout`. A WebSocket, once spliced, is
/// left alone: idle is its normal state.
///
/// It sits between TLS and HTTP, sees plaintext bytes, and learns where a
/// request is from the request handler. One timer at a time, re-armed
/// lazily: events only move the deadline, the timer checks it when it fires.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    enum Phase {
        case handshaking
        case idle
        case readingHead
        case inRequest(bodyComplete: Bool)
        case http2
        case tunnel
    }

    private let limits: EdgeLimits
    private var phase = Phase.handshaking
    private var lastActivity = NIODeadline.now()
    private var phaseStarted = NIODeadline.now()
    private var timer = DeadlineTimer()
    private var context: ChannelHandlerContext?

    init(limits: EdgeLimits) {
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { arm() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer.cancel()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        phaseStarted = .now()
        arm()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer.cancel()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent, case .handshaking = phase {
            enter(.idle)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = .now()
        if case .idle = phase { enter(.readingHead) }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .http2 = phase { lastActivity = .now() }
        context.write(data, promise: promise)
    }

    // MARK: what the request handler reports

    func speaksHTTP2() { enter(.http2) }
    func requestHeadReceived(bodyComplete: Bool) { enter(.inRequest(bodyComplete: bodyComplete)) }
    func requestBodyEnded() {
        if case .inRequest = phase { phase = .inRequest(bodyComplete: true) }
    }
    func exchangeFinished() { enter(.idle) }
    func becameTunnel() { enter(.tunnel) }

    // MARK: the timer

    private func enter(_ next: Phase) {
        phase = next
        phaseStarted = .now()
        lastActivity = phaseStarted
        arm()
    }

    /// When the current phase runs out, or nil when it never does.
    private var deadline: NIODeadline? {
        switch phase {
        case .handshaking, .readingHead: phaseStarted + .interval(limits.headTimeout)
        case .idle: phaseStarted + .interval(limits.idleTimeout)
        case .inRequest(let bodyComplete): bodyComplete ? nil : lastActivity + .interval(limits.bodyTimeout)
        case .http2: lastActivity + .interval(limits.idleTimeout)
        case .tunnel: nil
        }
    }

    private func arm() {
        // A phase without a deadline leaves any timer running: it finds nothing to do when it fires.
        guard let context, let deadline else { return }
        timer.arm(by: deadline, on: context.eventLoop) { [self] in
            timer.fired()
            fire()
        }
    }

    private func fire() {
        guard let context, context.channel.isActive, let deadline else { return }
        guard deadline <= .now() else {
            arm()
            return
        }
        switch phase {
        case .readingHead:
            // Tell an HTTP/1 client why, in the only words it can still read.
            let text = EdgeAnswer.error(.requestTimeout, code: "request_timeout", message: "the request head did not arrive in time").rawHTTP1()
            let answer = context.channel.allocator.buffer(string: text)
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(answer))).whenComplete { _ in context.close(promise: nil) }
        default:
            context.close(promise: nil)
        }
    }
}

extension TimeAmount {
    static func interval(_ seconds: Double) -> TimeAmount { .nanoseconds(Int64(seconds * 1_000_000_000)) }
}
