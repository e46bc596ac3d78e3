import NIOCore
import NIOEmbedded
import XCTest

@testable import KnotEdge

/// The record coalescer (Services/Edge/TLS/RecordCoalescer.swift) in a channel
/// of its own: what reaches the TLS handler's place is every byte, in order,
/// in as few writes as the rules allow, and every write's promise completes.
final class RecordCoalescerTests: XCTestCase {
    func channel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(RecordCoalescer())
        return channel
    }

    func bytes(_ count: Int, from start: Int) -> ByteBuffer {
        ByteBuffer(bytes: (start..<(start + count)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) })
    }

    /// The buffers written out since the last call, in order.
    func written(_ channel: EmbeddedChannel) throws -> [ByteBuffer] {
        var out: [ByteBuffer] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { out.append(buffer) }
        return out
    }

    func testHTTP2FramesGoOutAsOneWritePerFlush() throws {
        let channel = try channel()
        var expected = ByteBuffer()
        var position = 0
        for _ in 0..<4 {
            for size in [9, 16384] {
                let part = bytes(size, from: position)
                position += size
                expected.writeImmutableBuffer(part)
                channel.write(part, promise: nil)
            }
        }
        XCTAssertEqual(try written(channel), [], "nothing leaves before the flush")
        channel.flush()
        XCTAssertEqual(try written(channel), [expected])
        XCTAssertTrue(try channel.finish().isClean)
    }

    func testALargeWriteWithNothingWaitingPassesThroughUncopied() throws {
        let channel = try channel()
        let body = bytes(256 << 10, from: 3)
        channel.write(body, promise: nil)
        channel.flush()
        let out = try written(channel)
        XCTAssertEqual(out, [body])
        // The same storage: the body was not copied.
        body.withUnsafeReadableBytes { original in
            out[0].withUnsafeReadableBytes { passed in XCTAssertEqual(original.baseAddress, passed.baseAddress) }
        }
        XCTAssertTrue(try channel.finish().isClean)
    }

    func testAHeadAndASmallBodyBecomeOneWrite() throws {
        let channel = try channel()
        let head = ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: 20\r\n\r\n")
        let body = ByteBuffer(string: "hello from upstream\n")
        channel.write(head, promise: nil)
        channel.write(body, promise: nil)
        channel.flush()
        XCTAssertEqual(try written(channel), [ByteBuffer(string: "HTTP/1.1 200 OK\r\ncontent-length: 20\r\n\r\nhello from upstream\n")])
        XCTAssertTrue(try channel.finish().isClean)
    }

    func testAJoinedBufferGoesOutAtItsLimitAndKeepsTheOrder() throws {
        let channel = try channel()
        var expected = ByteBuffer()
        var position = 0
        // 9 + 16384 repeated past the limit, then a small tail.
        for size in Array(repeating: [9, 16384], count: 20).flatMap({ $0 }) + [100] {
            let part = bytes(size, from: position)
            position += size
            expected.writeImmutableBuffer(part)
            channel.write(part, promise: nil)
        }
        channel.flush()
        let out = try written(channel)
        XCTAssertEqual(out.count, 2, "the joined buffer went out when it reached the limit, the rest at the flush")
        XCTAssertGreaterThanOrEqual(out.first?.readableBytes ?? 0, RecordCoalescer.maximumJoinedBytes)
        XCTAssertLessThan(out.first?.readableBytes ?? .max, RecordCoalescer.maximumJoinedBytes + 16384)
        var all = ByteBuffer()
        for buffer in out { all.writeImmutableBuffer(buffer) }
        XCTAssertEqual(all, expected)
        XCTAssertTrue(try channel.finish().isClean)
    }

    func testEveryPromiseCompletesWithTheWriteItJoined() throws {
        let channel = try channel()
        let promises = (0..<3).map { _ in channel.eventLoop.makePromise(of: Void.self) }
        var done = 0
        for promise in promises { promise.futureResult.whenSuccess { done += 1 } }
        channel.write(bytes(9, from: 0), promise: promises[0])
        channel.write(bytes(16384, from: 9), promise: promises[1])
        channel.write(bytes(9, from: 16393), promise: promises[2])
        XCTAssertEqual(done, 0)
        channel.flush()
        channel.embeddedEventLoop.run()
        XCTAssertEqual(done, 3)
        XCTAssertEqual(try written(channel).count, 1)
        XCTAssertTrue(try channel.finish().isClean)
    }

    func testAJoinedWriteWaitingAtACloseIsHandedOnBeforeTheClose() throws {
        let channel = EmbeddedChannel()
        let recorder = OutboundRecorder()
        try channel.pipeline.syncOperations.addHandler(recorder)
        try channel.pipeline.syncOperations.addHandler(RecordCoalescer())
        let promise = channel.eventLoop.makePromise(of: Void.self)
        channel.write(bytes(9, from: 0), promise: promise)
        channel.write(bytes(100, from: 9), promise: nil)
        XCTAssertEqual(recorder.events, [], "the joined writes wait for a flush")
        // The TLS handler below must see the writes before the close, as it would without the coalescer.
        let closed = channel.close()
        channel.embeddedEventLoop.run()
        XCTAssertNoThrow(try closed.wait())
        XCTAssertEqual(recorder.events, ["write 109", "close"])
        promise.succeed()  // EmbeddedChannel leaves unflushed writes pending at a close; settle it here
    }
}

/// Notes what passes toward the socket, in order.
final class OutboundRecorder: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    var events: [String] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        events.append("write \(unwrapOutboundIn(data).readableBytes)")
        context.write(data, promise: promise)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        events.append("close")
        context.close(mode: mode, promise: promise)
    }
}
