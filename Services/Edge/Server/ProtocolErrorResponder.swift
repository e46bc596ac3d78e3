import NIOCore
import NIOHTTP1

/// Answers a request the HTTP/1 parser rejects (smuggling attempts among
/// them: a length and chunking together, two lengths, an odd
/// Transfer-Encoding, a bad chunk) with a clear status, then closes: after
/// a framing error nothing later on the connection can be trusted.
final class ProtocolErrorResponder: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private var responseInFlight = false

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard error is HTTPParserError || error is NIOHTTPDecoderError || error is ByteToMessageDecoderError else {
            context.fireErrorCaught(error)
            return
        }
        if responseInFlight {
            context.close(promise: nil)
            return
        }
        let (status, code, message): (HTTPResponseStatus, String, String) =
            switch error as? HTTPParserError {
            case .headerOverflow?: (.requestHeaderFieldsTooLarge, "headers_too_large", "the request's headers are too large or too many")
            case .invalidURL?: (.badRequest, "bad_target", "the request target is not valid")
            default: (.badRequest, "bad_request", "the request is not well-formed HTTP/1.1")
            }
        var answer = EdgeAnswer.error(status, code: code, message: message)
        answer.headers.append(("Connection", "close"))
        var headers = HTTPHeaders(answer.headers)
        headers.add(name: "Content-Length", value: String(answer.body.utf8.count))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: answer.body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        responseInFlight = true
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200 || head.status == .switchingProtocols:
            responseInFlight = true
        case .end:
            responseInFlight = false
        default:
            break
        }
        context.write(data, promise: promise)
    }
}
