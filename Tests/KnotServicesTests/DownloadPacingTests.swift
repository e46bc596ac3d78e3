import Dispatch
import Foundation
import Glibc
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import XCTest

@testable import KnotFiles

/// How knot-files streams a file out (Services/Files/Download.swift,
/// PacedBodyWriter.swift): reads from the page cache and from the disk give the
/// same bytes, and a producer never gets more than one chunk ahead of the
/// connection's event loop, even when the socket would take everything.
final class DownloadPacingTests: XCTestCase {
    /// A body writer standing in for a socket that always has room: it never waits.
    final class AcceptingWriter: ResponseBodyWriter, @unchecked Sendable {
        let received = NIOLockedValueBox([ByteBuffer]())
        let finished = NIOLockedValueBox(false)
        func write(_ buffer: ByteBuffer) async throws { received.withLockedValue { $0.append(buffer) } }
        func finish(_ trailingHeaders: HTTPFields?) async throws { finished.withLockedValue { $0 = true } }
    }

    func testAWriteWaitsWhileTheEventLoopHasNotTakenThePreviousOne() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        // The event loop is busy (as when it falls behind a fast producer) until released.
        let release = DispatchSemaphore(value: 0)
        loop.execute { release.wait() }

        let inner = AcceptingWriter()
        let producer = Task {
            var paced = PacedBodyWriter(inner, on: loop)
            for index in 0..<3 { try await paced.write(ByteBuffer(repeating: UInt8(index), count: 1024)) }
            try await paced.finish(nil)
        }
        try await Task.sleep(for: .milliseconds(300))
        XCTAssertEqual(inner.received.withLockedValue { $0.count }, 1, "the producer ran ahead of a busy event loop")
        XCTAssertFalse(inner.finished.withLockedValue { $0 })

        release.signal()
        try await producer.value
        XCTAssertEqual(inner.received.withLockedValue { $0.map { $0.readableBytesView.first } }, [0, 1, 2])
        XCTAssertTrue(inner.finished.withLockedValue { $0 })
        try await group.shutdownGracefully()
    }

    func testAnIdleEventLoopLetsEveryWriteThrough() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let inner = AcceptingWriter()
        var paced = PacedBodyWriter(inner, on: group.next())
        for index in 0..<200 { try await paced.write(ByteBuffer(repeating: UInt8(index % 256), count: 64)) }
        try await paced.finish(nil)
        XCTAssertEqual(inner.received.withLockedValue { $0.count }, 200)
        XCTAssertEqual(inner.received.withLockedValue { $0.map { Int($0.readableBytesView.first!) } }, (0..<200).map { $0 % 256 })
        try await group.shutdownGracefully()
    }

    /// The same bytes whether the page cache holds the file (read on the calling
    /// task) or not (read on the thread pool), at any offset, short at the end.
    func testReadsGiveTheFileWhetherCachedOrNot() async throws {
        let path = NSTemporaryDirectory() + "knot-download-\(UUID().uuidString)"
        let bytes = (0..<(3 << 20) + 123).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(fd, 0)
        let handle = FileDescriptorBox(fd)

        for evicted in [false, true] {
            if evicted {
                // Out of the page cache, so a read that must not wait finds nothing.
                fsync(fd)
                XCTAssertEqual(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0)
            }
            var offset = 0
            var gathered: [UInt8] = []
            while true {
                let chunk = try await Download.read(handle, at: Int64(offset), upTo: 256 << 10)
                if chunk.readableBytes == 0 { break }
                gathered += chunk.readableBytesView
                offset += chunk.readableBytes
            }
            XCTAssertEqual(gathered.count, bytes.count, "evicted: \(evicted)")
            XCTAssertTrue(gathered == bytes, "evicted: \(evicted)")
            let past = try await Download.read(handle, at: Int64(bytes.count + 10), upTo: 4096)
            XCTAssertEqual(past.readableBytes, 0)
        }
    }
}
