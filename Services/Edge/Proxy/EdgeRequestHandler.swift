import KnotLogging
import KnotModels
import NIOCore
import NIOHTTP1

/// One client connection's requests (or, over HTTP/2, one stream's), one at
/// a time: check, route, sign on, then answer locally or relay to an
/// upstream with back-pressure both ways, and splice the two sockets when a
/// WebSocket upgrade succeeds.
///
/// Everything runs on the connection's event loop; the only suspension is a
/// sign-on verdict that is not cached, which comes back to the loop.
final class EdgeRequestHandler: ChannelDuplexHandler, RemovableChannelHandler, UpstreamDelegate {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        /// Waiting for identity's verdict; body parts are queued.
        case signingOn
        /// Waiting for an upstream connection; body parts are queued.
        case connecting
        case forwarding
        /// The answer is given; what is left of the request body is read and dropped.
        case answered
        case upgraded
    }

    /// What the edge knows about the request in flight. A class: the handler
    /// reads and updates it at every step of a request, and as a struct of
    /// this size each `guard let` copied it whole, retaining every field
    /// (about 2% of the edge's CPU time per small request).
    private final class Exchange {
        var head: HTTPRequestHead
        var host: String
        var routeClass: RouteClass
        var started: NIODeadline
        var trace: RequestTrace
        var keepAlive: Bool
        var wantsHTML: Bool
        /// nil: chunked (length unknown); 0: no body.
        var bodyLength: Int64?
        var upgrade: String?
        var user: String?
        var destination: Destination?
        var upstreamHead: HTTPRequestHead?
        var status = 0
        var bytesIn: Int64 = 0
        var bytesOut: Int64 = 0
        var requestEnded = false
        var responseStarted = false
        var responseEnded = false
        var upstreamKeepAlive = true
        var retried = false

        init(
            head: HTTPRequestHead, host: String, routeClass: RouteClass, started: NIODeadline, trace: RequestTrace, keepAlive: Bool,
            wantsHTML: Bool, bodyLength: Int64?, upgrade: String?
        ) {
            self.head = head
            self.host = host
            self.routeClass = routeClass
            self.started = started
            self.trace = trace
            self.keepAlive = keepAlive
            self.wantsHTML = wantsHTML
            self.bodyLength = bodyLength
            self.upgrade = upgrade
        }

        /// The version answers are written in: the request's, except that
        /// HTTP/2's codec takes HTTP/1.1 heads.
        var responseVersion: HTTPVersion { head.version.major == 2 ? .http1_1 : head.version }
    }

    private let core: EdgeCore
    private let isHTTP2: Bool
    private let connectionGuard: ConnectionGuard?
    private let clientAddress: String?
    private var context: ChannelHandlerContext?
    private var state = State.idle
    private var exchange: Exchange?
    private var queued: [HTTPClientRequestPart] = []
    private var upstream: UpstreamConnection?
    private var pendingRead = false
    private var upstreamNeedsFlush = false
    private var downstreamNeedsFlush = false
    private var closeAfterResponse = false
    /// When the upstream's answer must have begun; nil while none is awaited.
    private var responseDeadline: NIODeadline?
    private var responseTimer = DeadlineTimer()

    init(core: EdgeCore, isHTTP2: Bool, connectionGuard: ConnectionGuard?, clientAddress: String?) {
        self.core = core
        self.isHTTP2 = isHTTP2
        self.connectionGuard = connectionGuard
        self.clientAddress = clientAddress
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        pool = core.pool(for: context.eventLoop)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        responseTimer.cancel()
    }

    /// This event loop's upstream connections, looked up once per client connection (in `handlerAdded`).
    private var pool: UpstreamPool!

    // MARK: inbound from the client

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        // A client that pipelines sends the next request before this one is
        // answered: it waits, in order, with reads paused, until its turn.
        if !pipelined.isEmpty {
            pipelined.append(part)
            return
        }
        if case .head = part, !isIdle {
            pipelined.append(part)
            return
        }
        handle(part, context: context)
    }

    private var isIdle: Bool {
        if case .idle = state { return true }
        return false
    }

    /// Requests that arrived while another was in flight (HTTP/1 pipelining).
    private var pipelined: [HTTPServerRequestPart] = []

    private func drainPipelined() {
        guard let context else { return }
        while !pipelined.isEmpty {
            if case .head = pipelined[0], !isIdle { return }
            handle(pipelined.removeFirst(), context: context)
        }
        resumeReading()
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            begin(head, context: context)
        case .body(let buffer):
            guard let exchange else { return }
            exchange.bytesIn += Int64(buffer.readableBytes)
            if let limit = exchange.destination?.maxBodyBytes, exchange.bytesIn > limit {
                refuseOversizedBody(limit: limit)
                return
            }
            if exchange.bodyLength == 0 {
                // A body the head did not announce (HTTP/2 without a length on a bodiless method).
                if !exchange.responseStarted {
                    answer(.error(.badRequest, code: "unexpected_body", message: "this request may not carry a body without a Content-Length"))
                }
                return
            }
            switch state {
            case .signingOn, .connecting:
                queued.append(.body(.byteBuffer(buffer)))
            case .forwarding:
                upstream?.channel.write(HTTPClientRequestPart.body(.byteBuffer(buffer)), promise: nil)
                upstreamNeedsFlush = true
            case .idle, .answered, .upgraded:
                break
            }
        case .end:
            guard exchange != nil else { return }
            exchange!.requestEnded = true
            connectionGuard?.requestBodyEnded()
            switch state {
            case .signingOn, .connecting:
                queued.append(.end(nil))
            case .forwarding:
                upstream?.channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
                upstreamNeedsFlush = false
            case .answered:
                finishIfDone()
            case .idle, .upgraded:
                break
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if upstreamNeedsFlush {
            upstreamNeedsFlush = false
            upstream?.channel.flush()
        }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { upstream?.handler.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The client left (mid-exchange, or a spliced WebSocket ended): the upstream connection goes too.
        detachUpstream(reuse: false)
        if let exchange, !exchange.responseEnded {
            exchange.status = exchange.responseStarted ? exchange.status : 499
            log(exchange)
        }
        exchange = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    /// Reads from the client wait while the request has nowhere to go yet, or the upstream cannot take more.
    func read(context: ChannelHandlerContext) {
        if !pipelined.isEmpty {
            pendingRead = true
            return
        }
        switch state {
        case .signingOn, .connecting:
            pendingRead = true
            return
        case .forwarding where upstream?.channel.isWritable == false:
            pendingRead = true
            return
        default:
            context.read()
        }
    }

    /// Called wherever a reason to pause may have gone; the rules above decide again.
    private func resumeReading() {
        guard pendingRead, let context else { return }
        pendingRead = false
        read(context: context)
    }

    // MARK: a new request

    private func begin(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let trace = RequestTrace.continuing(requestID: nil, traceparent: nil)
        let bodyLength = Self.bodyLength(of: head, isHTTP2: isHTTP2)
        var upgrade: String?
        if !isHTTP2, let value = head.headers.first(name: "upgrade"), HeaderPolicy.hasConnectionToken(head.headers, "upgrade") {
            upgrade = value
        }
        exchange = Exchange(
            head: head, host: "", routeClass: .unknown, started: .now(), trace: trace, keepAlive: isHTTP2 || head.isKeepAlive,
            wantsHTML: EdgeAnswer.wantsHTML(head.headers), bodyLength: bodyLength, upgrade: upgrade)
        connectionGuard?.requestHeadReceived(bodyComplete: bodyLength == 0)
        // HTTP/1's parser stops after an upgrade request: unless the upgrade happens, the connection ends with this answer.
        if upgrade != nil { closeAfterResponse = true }

        let host: String
        let target: (path: Substring, query: Substring?)
        do {
            host = try RequestCheck.host(of: head)
            target = try RequestCheck.target(head.uri, maxBytes: core.limits.maxTargetBytes)
            try RequestCheck.headerBlock(head, limits: core.limits)
            try RequestCheck.framing(head)
        } catch {
            closeAfterResponse = true
            answer(.error(error.status, code: error.code, message: error.message))
            return
        }
        exchange!.host = host
        exchange!.routeClass = core.router.classify(host: host, path: target.path)
        if upgrade != nil && exchange!.routeClass != .service {
            answer(.error(.badRequest, code: "upgrade_not_supported", message: "protocol upgrades are only passed to user services"))
            return
        }
        follow(core.router.plan(method: head.method, host: host, path: target.path))
    }

    /// The body's length as announced: nil for chunked, 0 for none.
    static func bodyLength(of head: HTTPRequestHead, isHTTP2: Bool) -> Int64? {
        if let length = head.headers.first(name: "content-length").flatMap({ Int64($0) }) { return length }
        if isHTTP2 {
            // HTTP/2 frames its own bodies; methods that carry one are relayed chunked.
            return head.method.expectsBody ? nil : 0
        }
        return head.headers.contains(name: "transfer-encoding") ? nil : 0
    }

    private func follow(_ plan: EdgeRouter.Plan) {
        switch plan {
        case .answer(let answer):
            self.answer(answer)
        case .asset(let path):
            serveAsset(path)
        case .forward(let destination):
            forward(to: destination)
        case .signOn(let protected):
            signOn(protected)
        }
    }

    // MARK: sign-on

    private func signOn(_ protected: Protected) {
        guard let exchange else { return }
        let headers = exchange.head.headers
        var credentials: [SessionCache.Credential] = []
        if let token = Credentials.sessionToken(headers) { credentials.append(.session(token)) }
        if case .api = protected, let token = Credentials.apiToken(headers) { credentials.append(.apiToken(token)) }
        resolve(credentials[...], protected: protected)
    }

    /// Tries each credential in turn (session first): a cached verdict decides
    /// at once, otherwise identity is asked and the answer comes back to the loop.
    private func resolve(_ credentials: ArraySlice<SessionCache.Credential>, protected: Protected) {
        guard let credential = credentials.first else {
            decide(protected, verdict: nil)
            return
        }
        let rest = credentials.dropFirst()
        switch core.sessions.cached(credential) {
        case .hit(let verdict):
            judged(credential, verdict: verdict, rest: rest, protected: protected)
        case .miss:
            guard let context else { return }
            state = .signingOn
            let sessions = core.sessions
            let future = context.eventLoop.makeFutureWithTask { try await sessions.fetch(credential) }
            future.assumeIsolated().whenComplete { [self] result in
                guard case .signingOn = state, self.context != nil else { return }
                state = .idle
                switch result {
                case .success(let verdict):
                    judged(credential, verdict: verdict, rest: rest, protected: protected)
                case .failure(let error):
                    core.logger.warning("sign-on check failed", metadata: ["error": "\(error)"])
                    answer(.error(.serviceUnavailable, code: "sign_on_unavailable", message: "sign-on is not answering; try again shortly"))
                }
                resumeReading()
            }
        }
    }

    /// A valid credential decides; an invalid session cookie lets the next
    /// credential try; an invalid API token says so, rather than "sign in".
    private func judged(
        _ credential: SessionCache.Credential, verdict: SessionVerdict?, rest: ArraySlice<SessionCache.Credential>, protected: Protected
    ) {
        if let verdict {
            decide(protected, verdict: verdict)
        } else if case .apiToken = credential {
            answer(.error(.unauthorized, code: "unauthorized", message: "the API token is not valid, expired or revoked"))
        } else {
            resolve(rest, protected: protected)
        }
    }

    private func decide(_ protected: Protected, verdict: SessionVerdict?) {
        guard let exchange else { return }
        self.exchange!.user = verdict?.username
        let plan = core.router.authorize(
            protected, verdict: verdict, method: exchange.head.method,
            fullURL: core.settings.publicURL(forHost: exchange.host) + exchange.head.uri)
        follow(plan)
    }

    // MARK: forwarding

    private func forward(to destination: Destination) {
        guard let exchange, let context else { return }
        if let length = exchange.bodyLength, length > destination.maxBodyBytes {
            closeAfterResponse = true
            answer(.bodyTooLarge(limit: destination.maxBodyBytes))
            return
        }
        exchange.destination = destination
        if case .service = destination.hop { core.activity.record(host: destination.publicHost) }
        if !isHTTP2, exchange.head.version == .http1_1, !exchange.retried,
            exchange.head.headers["expect"].contains(where: { $0.lowercased() == "100-continue" })
        {
            // The upstream never sees the expectation (it is hop-by-hop here); the client is told to go on at once.
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .continue))), promise: nil)
        }
        let forwarding = HeaderPolicy.Forwarding(
            clientAddress: clientAddress, requestID: exchange.trace.requestID, traceparent: exchange.trace.traceparent, upgrade: exchange.upgrade)
        exchange.upstreamHead = HeaderPolicy.upstreamHead(
            for: exchange.head, path: destination.pathPrefix + exchange.head.uri, destination: destination, forwarding: forwarding,
            bodyLength: exchange.bodyLength)
        if let connection = pool.idleConnection(to: destination.address) {
            attach(connection)
            return
        }
        state = .connecting
        pool.connect(destination.address).assumeIsolated().whenComplete { [self] result in
            guard case .connecting = state, self.context != nil else {
                if case .success(let connection) = result { connection.channel.close(promise: nil) }
                return
            }
            switch result {
            case .success(let connection):
                attach(connection)
            case .failure(let error):
                core.logger.debug("upstream connection failed", metadata: ["upstream": "\(destination.address)", "error": "\(error)"])
                state = .idle
                upstreamUnavailable(timedOut: false)
            }
        }
    }

    private func attach(_ connection: UpstreamConnection) {
        guard let exchange, let head = exchange.upstreamHead, let destination = exchange.destination, let context else { return }
        upstream = connection
        connection.handler.attach(self)
        state = .forwarding
        connection.channel.write(HTTPClientRequestPart.head(head), promise: nil)
        for part in queued { connection.channel.write(part, promise: nil) }
        queued.removeAll()
        connection.channel.flush()
        awaitResponse(by: .now() + .interval(destination.timeout), context: context)
        resumeReading()
    }

    private func awaitResponse(by deadline: NIODeadline, context: ChannelHandlerContext) {
        responseDeadline = deadline
        responseTimer.arm(by: deadline, on: context.eventLoop) { [self] in
            responseTimer.fired()
            responseTimerFired()
        }
    }

    private func responseTimerFired() {
        guard let deadline = responseDeadline, let context else { return }
        guard deadline <= .now() else {
            awaitResponse(by: deadline, context: context)
            return
        }
        responseDeadline = nil
        guard case .forwarding = state, let exchange = self.exchange, !exchange.responseStarted else { return }
        detachUpstream(reuse: false)
        state = .idle
        upstreamUnavailable(timedOut: true)
    }

    private func detachUpstream(reuse: Bool) {
        guard let connection = upstream else { return }
        upstream = nil
        responseDeadline = nil
        if reuse {
            pool.release(connection)
        } else {
            connection.handler.delegate = nil
            connection.channel.close(promise: nil)
        }
        // Reading may have paused while this upstream took no more of the body.
        // With it gone, what is left of the body (an upload answered before it was
        // all read) is read and dropped, and the next request is read.
        resumeReading()
    }

    private func upstreamUnavailable(timedOut: Bool) {
        guard let exchange else { return }
        if exchange.bodyLength != 0 && !exchange.requestEnded { closeAfterResponse = true }
        answer(.upstreamDown(host: exchange.host, wantsHTML: exchange.wantsHTML, timedOut: timedOut))
    }

    private func refuseOversizedBody(limit: Int64) {
        closeAfterResponse = true
        if let exchange, exchange.responseStarted {
            context?.close(promise: nil)
            return
        }
        detachUpstream(reuse: false)
        queued.removeAll()
        state = .idle
        answer(.bodyTooLarge(limit: limit))
    }

    // MARK: UpstreamDelegate

    var downstreamWritable: Bool { context?.channel.isWritable ?? false }

    func upstreamRead(_ part: HTTPClientResponsePart) {
        if case .upgraded = state { return }
        guard let context, exchange != nil else { return }
        switch part {
        case .head(let answer):
            responseDeadline = nil
            if answer.status == .switchingProtocols {
                guard exchange!.upgrade != nil else {
                    // A 101 nobody asked for cannot be relayed honestly.
                    detachUpstream(reuse: false)
                    upstreamUnavailable(timedOut: false)
                    return
                }
                switchProtocols(answer, context: context)
                return
            }
            exchange!.responseStarted = true
            exchange!.status = Int(answer.status.code)
            exchange!.upstreamKeepAlive = answer.isKeepAlive
            let hasLength = answer.headers.contains(name: "content-length")
            if exchange!.head.version == .http1_0 && !hasLength { closeAfterResponse = true }
            let keepAlive = exchange!.keepAlive && !closeAfterResponse
            if !keepAlive { closeAfterResponse = true }
            let head = HeaderPolicy.downstreamHead(from: answer, version: exchange!.responseVersion, keepAlive: keepAlive, switching: false)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            downstreamNeedsFlush = true
        case .body(let buffer):
            guard case .forwarding = state else { return }
            exchange!.bytesOut += Int64(buffer.readableBytes)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            downstreamNeedsFlush = true
        case .end:
            guard case .forwarding = state else { return }
            exchange!.responseEnded = true
            let reusable = exchange!.requestEnded && exchange!.upstreamKeepAlive
            detachUpstream(reuse: reusable)
            downstreamNeedsFlush = false
            state = .answered
            writeEnd()
        }
    }

    func upstreamReadComplete() {
        if downstreamNeedsFlush {
            downstreamNeedsFlush = false
            context?.flush()
        }
    }

    func upstreamWritabilityChanged(writable: Bool) {
        if writable { resumeReading() }
    }

    func upstreamClosed() {
        guard let connection = upstream, let exchange else { return }
        upstream = nil
        responseDeadline = nil
        if case .upgraded = state { return }
        guard !exchange.responseStarted else {
            // Part of an answer is out; cutting the connection is the only honest end.
            context?.close(promise: nil)
            return
        }
        // A kept-alive connection the upstream closed as it was reused: try once more, if no body was to be sent.
        if connection.reused, !exchange.retried, exchange.bodyLength == 0, let destination = exchange.destination {
            self.exchange!.retried = true
            queued = exchange.requestEnded ? [.end(nil)] : []
            forward(to: destination)
            return
        }
        state = .idle
        upstreamUnavailable(timedOut: false)
    }

    // MARK: WebSocket and other upgrades

    private func switchProtocols(_ answer: HTTPResponseHead, context: ChannelHandlerContext) {
        guard let connection = upstream, let exchange else { return }
        exchange.status = 101
        exchange.responseStarted = true
        exchange.responseEnded = true
        state = .upgraded
        closeAfterResponse = false
        // The handler stays this connection's delegate until the splice removes it, so the parser's end-of-message is ignored here, not taken for an idle connection talking.
        let head = HeaderPolicy.downstreamHead(from: answer, version: exchange.responseVersion, keepAlive: true, switching: true)
        context.writeAndFlush(wrapOutboundOut(.head(head)), promise: nil)
        log(exchange)
        connectionGuard?.becameTunnel()
        // The splice is set up after this read returns: both parsers have
        // stopped at the upgrade and keep any early bytes until they are removed.
        let client = context.channel
        let logger = core.logger
        context.eventLoop.assumeIsolated().execute {
            Splice.join(client: client, upstream: connection.channel, logger: logger)
        }
    }

    // MARK: local answers

    private func serveAsset(_ path: Substring) {
        guard let exchange else { return }
        guard let (status, headers, body) = core.assets.answer(path: path, headers: exchange.head.headers, head: exchange.head.method == .HEAD)
        else {
            answer(
                exchange.wantsHTML
                    ? .page(.notFound, title: "Not found", text: "There is nothing at this address.")
                    : .error(.notFound, code: "not_found", message: "no such file"))
            return
        }
        respond(status, headers: headers, body: body)
    }

    private func answer(_ answer: EdgeAnswer) {
        guard let exchange, let context else { return }
        guard !exchange.responseStarted else {
            context.close(promise: nil)
            return
        }
        var headers = HTTPHeaders(answer.headers)
        let body = context.channel.allocator.buffer(string: answer.body)
        headers.replaceOrAdd(name: "Content-Length", value: String(body.readableBytes))
        if exchange.host == core.settings.domain || exchange.routeClass == .unknown {
            headers.add(name: "Strict-Transport-Security", value: "max-age=31536000")
        }
        if !exchange.requestEnded && exchange.bodyLength != 0 && !isHTTP2 {
            // The body was not wanted; reading it to the end only to drop it could take long.
            closeAfterResponse = true
        }
        queued.removeAll()
        respond(answer.status, headers: headers, body: exchange.head.method == .HEAD || body.readableBytes == 0 ? nil : body)
        resumeReading()
    }

    /// Writes a whole answer the edge made itself, and ends the exchange's response.
    private func respond(_ status: HTTPResponseStatus, headers: HTTPHeaders, body: ByteBuffer?) {
        guard let exchange, let context else { return }
        var headers = headers
        prepareClose(&headers)
        exchange.status = Int(status.code)
        exchange.responseStarted = true
        exchange.responseEnded = true
        exchange.bytesOut = Int64(body?.readableBytes ?? 0)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: exchange.responseVersion, status: status, headers: headers))), promise: nil)
        if let body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        state = .answered
        writeEnd()
    }

    private func prepareClose(_ headers: inout HTTPHeaders) {
        guard !isHTTP2, let exchange else { return }
        if !exchange.keepAlive { closeAfterResponse = true }
        if closeAfterResponse { headers.replaceOrAdd(name: "Connection", value: "close") }
    }

    /// Ends the response; the connection closes after it or waits for the next request.
    private func writeEnd() {
        guard let context else { return }
        let close = closeAfterResponse
        let promise: EventLoopPromise<Void>? = close ? context.eventLoop.makePromise() : nil
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
        if let promise {
            promise.futureResult.assumeIsolated().whenComplete { [context] _ in context.close(promise: nil) }
        }
        if let exchange { log(exchange) }
        finishIfDone()
    }

    /// Once both the answer and the request are complete, the connection is
    /// ready for the next request (unless it is closing after this answer).
    private func finishIfDone() {
        guard let exchange, exchange.responseEnded, exchange.requestEnded, !closeAfterResponse else { return }
        self.exchange = nil
        state = .idle
        connectionGuard?.exchangeFinished()
        drainPipelined()
    }

    private func log(_ exchange: Exchange) {
        let elapsed = Double((NIODeadline.now() - exchange.started).nanoseconds) / 1_000_000
        core.accessLog.record(
            AccessLog.Entry(
                requestID: exchange.trace.requestID, client: clientAddress ?? "-", method: exchange.head.method.rawValue, host: exchange.host,
                target: exchange.head.uri, status: exchange.status, bytesIn: exchange.bytesIn, bytesOut: exchange.bytesOut,
                milliseconds: elapsed, user: exchange.user, routeClass: exchange.routeClass,
                upstream: exchange.destination.map { "\($0.address.host):\($0.address.port)" }))
    }
}
