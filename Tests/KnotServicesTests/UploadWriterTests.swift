import Foundation
import Glibc
import NIOCore
import KnotErrors
import KnotLinuxCalls
import XCTest

@testable import KnotFiles

/// The upload writer (Services/Files/UploadWriter.swift) against real files: every
/// byte lands where it belongs whatever sizes the network delivers, whether the
/// file starts empty or mid-block (a resumed upload), with direct I/O on a local
/// disk and through the page cache where direct I/O is off or refused.
final class UploadWriterTests: XCTestCase {
    static let block = UploadWriter.blockBytes

    /// The byte at a position of the test's stream, so a byte out of place shows.
    static func byte(at position: Int) -> UInt8 { UInt8(truncatingIfNeeded: position &* 131 &+ position >> 12 &+ 7) }
    /// The stream itself, made once (every case fits in it).
    static let stream = (0..<(8 * block)).map(byte(at:))

    func folder(under base: String) throws -> String {
        let path = "\(base)/knot-upload-writer-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    /// Writes `length` bytes after `existing` bytes already in the file, in chunks
    /// of the given sizes (cycled), and checks the whole file.
    @discardableResult
    func write(in folder: String, existing: Int, length: Int, chunks: [Int], direct: Bool) async throws -> UploadWriter {
        let file = "\(folder)/upload-\(existing)-\(length)-\(chunks.count)-\(direct)"
        FileManager.default.createFile(atPath: file, contents: Data(Self.stream[0..<existing]))
        let fd = open(file, O_WRONLY | O_APPEND | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var writer = UploadWriter(fd: fd, path: try SafePath.parse("upload"), startingAt: Int64(existing), direct: direct)
        var position = existing
        var index = 0
        while position < existing + length {
            let size = min(chunks[index % chunks.count], existing + length - position)
            var chunk = ByteBuffer(bytes: Self.stream[position..<position + size])
            try await writer.add(&chunk)
            XCTAssertEqual(chunk.readableBytes, 0)
            XCTAssertEqual(Int(writer.written) + writer.gathered, position + size - existing)
            position += size
            index += 1
        }
        try await writer.flush()
        XCTAssertEqual(writer.written, Int64(length))
        XCTAssertEqual(writer.gathered, 0)
        let stored = try XCTUnwrap(FileManager.default.contents(atPath: file))
        XCTAssertEqual(stored.count, existing + length)
        if stored != Data(Self.stream[0..<min(stored.count, existing + length)]),
            let first = zip(stored.indices, stored).first(where: { $0.1 != Self.byte(at: $0.0) }) {
            XCTFail("byte \(first.0) of \(file) is \(first.1), expected \(Self.byte(at: first.0))")
        }
        return writer
    }

    static let cases: [(existing: Int, length: Int, chunks: [Int])] = [
        (0, 0, [1]),
        (0, 1, [1]),
        (0, block, [16384]),
        (0, 3 * block + 12345, [16384, 1, 65536, 7]),
        (0, 2 * block, [block + 1]),
        (0, 2 * block + 1, [3 * block]),
        (5000, 2 * block + 3, [16384]),
        (block - 1, block + 2, [2, 16384]),
        (block, block, [65536]),
        (3 * block + 4095, 4 * block, [100_000]),
    ]

    func testEveryByteLandsInPlaceOnALocalDiskWithAndWithoutDirectIO() async throws {
        // Under the package's build folder: a real disk, not a memory filesystem.
        let folder = try folder(under: FileManager.default.currentDirectoryPath + "/.build")
        for direct in [true, false] {
            for (existing, length, chunks) in Self.cases {
                try await write(in: folder, existing: existing, length: length, chunks: chunks, direct: direct)
            }
        }
    }

    func testWholeBlocksGoDirectlyToALocalDiskAndPartialOnesDoNot() async throws {
        let folder = try folder(under: FileManager.default.currentDirectoryPath + "/.build")
        let folderFD = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        let type = knot_filesystem_type(folderFD)
        close(folderFD)
        let local: Set<Int> = [0xEF53, 0x5846_5342, 0x9123_683E]  // ext4, XFS, Btrfs
        try XCTSkipUnless(local.contains(type), "the build folder is not on ext4, XFS or Btrfs")
        // Starts mid-block: one partial block up to the boundary, three whole ones, a tail.
        let writer = try await write(in: folder, existing: 5000, length: 4 * Self.block, chunks: [16384], direct: true)
        XCTAssertEqual(writer.directBlocks, 3)
        let buffered = try await write(in: folder, existing: 0, length: 3 * Self.block, chunks: [16384], direct: false)
        XCTAssertEqual(buffered.directBlocks, 0)
    }

    func testAMemoryFilesystemIsWrittenWhetherOrNotItTakesDirectIO() async throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: "/dev/shm"), "no /dev/shm")
        let folder = try folder(under: "/dev/shm")
        for (existing, length, chunks) in Self.cases {
            try await write(in: folder, existing: existing, length: length, chunks: chunks, direct: true)
        }
    }

    func testAnAbandonedUploadWaitsForItsWriteBeforeTheFileCloses() async throws {
        let folder = try folder(under: FileManager.default.currentDirectoryPath + "/.build")
        let file = "\(folder)/abandoned"
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        XCTAssertGreaterThanOrEqual(fd, 0)
        var writer = UploadWriter(fd: fd, path: try SafePath.parse("abandoned"), startingAt: 0, direct: true)
        var chunk = ByteBuffer(bytes: Self.stream[0..<(Self.block + 10)])
        try await writer.add(&chunk)
        await writer.abandon()
        // The whole block was written before abandon returned; the 10 gathered bytes never are.
        var info = stat()
        XCTAssertEqual(fstat(fd, &info), 0)
        XCTAssertEqual(Int(info.st_size), Self.block)
        close(fd)
    }

    func testAFailedWriteIsReportedAndLeavesNothingUnderWay() async throws {
        let folder = try folder(under: FileManager.default.currentDirectoryPath + "/.build")
        let file = "\(folder)/read-only"
        FileManager.default.createFile(atPath: file, contents: Data())
        let fd = open(file, O_RDONLY | O_CLOEXEC)  // every write fails with EBADF
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var writer = UploadWriter(fd: fd, path: try SafePath.parse("read-only"), startingAt: 0, direct: false)
        var chunk = ByteBuffer(bytes: [UInt8](repeating: 1, count: 2 * Self.block))
        do {
            try await writer.add(&chunk)
            try await writer.flush()
            XCTFail("writing to a read-only descriptor succeeded")
        } catch {
            XCTAssertTrue(error is KnotError, "\(error)")
        }
        XCTAssertEqual(writer.written, 0)
        await writer.abandon()
    }
}
