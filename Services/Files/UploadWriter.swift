import Glibc
import KnotLinuxCalls
import NIOCore

/// An upload's body written to its file.
///
/// Chunks arrive as the network delivers them (often 16 KiB or less); they are
/// gathered into blocks of 1 MiB, so the thread pool is asked to write far less
/// often, in two buffers allocated once and used in turn. A block is written
/// while the next one is gathered: receiving and writing each cost about as much
/// as the other, and done in turn each waited for the other. At most one write is
/// under way, and every way out of an upload waits for it (`flush` or `abandon`)
/// before the file is closed.
///
/// Whole blocks at a whole-block offset are written with direct I/O where the
/// filesystem allows it: straight to the disk, not copied into the page cache
/// first. On the benchmark's machine copying a multi-GiB upload into the page
/// cache cost the kernel 2-4 CPU-seconds per GiB (more than receiving it) and
/// held the upload to half of what dd reached; direct I/O costs almost nothing
/// and leaves the cache to files people read. Partial blocks (the head of a
/// resumed upload that stopped mid-block, and the tail) go through the page
/// cache, as does everything on network filesystems (NFS, SMB, Ceph, FUSE),
/// where a direct write waits for a round trip, and on any filesystem that
/// refuses direct I/O. The final fsync makes both kinds durable.
///
/// What goes through the page cache is handed to the disk every few MiB: left
/// alone the kernel would keep a multi-GiB upload dirty until the final fsync
/// and only then write all of it, while the network sat idle.
struct UploadWriter {
    static let blockBytes = 1 << 20
    static let writeBackBytes = 8 << 20

    let fd: Int32
    let path: SafePath
    /// The offset of the first byte not yet known to be written: where the write
    /// under way starts, or the pending block when none is.
    private var offset: Int64
    private var pending = UploadBlock()
    private var spare: UploadBlock?
    private var inFlight: (write: Task<(UploadBlock, FileMode), any Error>, bytes: Int)?
    private var mode: FileMode
    private var writtenSinceWriteBack = 0
    /// Bytes known to be in the file (not counting what is gathered or being written).
    private(set) var written: Int64 = 0
    /// Of those, the blocks that went to the disk directly.
    private(set) var directBlocks = 0

    /// How the file is being written: the descriptor's O_DIRECT flag as it was
    /// last set, and whether direct I/O is still worth asking for.
    struct FileMode: Sendable {
        var directAllowed: Bool
        var directOn = false
    }

    /// `startingAt` is the file's size (writes append); `direct` allows direct I/O.
    init(fd: Int32, path: SafePath, startingAt offset: Int64, direct: Bool) {
        self.fd = fd
        self.path = path
        self.offset = offset
        self.mode = FileMode(directAllowed: direct && knot_is_remote_filesystem(fd) == 0)
    }

    /// Bytes received but not yet known to be written.
    var gathered: Int { pending.count + (inFlight?.bytes ?? 0) }

    mutating func add(_ chunk: inout ByteBuffer) async throws {
        while chunk.readableBytes > 0 {
            let target = blockTarget
            let taken = min(target - pending.count, chunk.readableBytes)
            chunk.withUnsafeReadableBytes { pending.append(UnsafeRawBufferPointer(rebasing: $0.prefix(taken))) }
            chunk.moveReaderIndex(forwardBy: taken)
            if pending.count == target { try await startWriting() }
        }
    }

    /// Writes everything received; when it returns (or throws) no write is under way.
    mutating func flush() async throws {
        if pending.count > 0 { try await startWriting() }
        try await settle()
    }

    /// Waits for the write under way, if any, ignoring its outcome: for an upload
    /// that is being thrown away, before its file is closed.
    mutating func abandon() async {
        try? await settle()
    }

    /// The size the pending block is written at: a whole block, or what is left
    /// up to the next block boundary when the file does not end on one.
    private var blockTarget: Int {
        let start = offset + Int64(inFlight?.bytes ?? 0)
        return Self.blockBytes - Int(start % Int64(Self.blockBytes))
    }

    private mutating func startWriting() async throws {
        try await settle()
        let block = pending
        pending = spare ?? UploadBlock()
        spare = nil
        let direct = mode.directAllowed && block.count == Self.blockBytes && offset % Int64(Self.blockBytes) == 0
        if !direct { writtenSinceWriteBack += block.count }
        let startWriteBack = writtenSinceWriteBack >= Self.writeBackBytes
        if startWriteBack { writtenSinceWriteBack = 0 }
        let (fd, path, mode) = (fd, path, mode)
        let write = Task {
            try await FileOperations.blocking { () throws -> (UploadBlock, FileMode) in
                let mode = try block.write(to: fd, direct: direct, mode: mode, path: path)
                // Only starts the writing (pages already on their way are skipped);
                // a failure here changes nothing, the final fsync still reports it.
                if startWriteBack { _ = knot_start_write_back(fd) }
                return (block, mode)
            }
        }
        inFlight = (write, block.count)
    }

    private mutating func settle() async throws {
        guard let (write, bytes) = inFlight else { return }
        inFlight = nil
        let (block, mode) = try await write.value
        self.mode = mode
        if mode.directOn { directBlocks += 1 }
        written += Int64(bytes)
        offset += Int64(bytes)
        block.count = 0
        spare = block
    }
}

/// One block of an upload, in memory aligned as direct I/O needs it. Owned by
/// one party at a time: the writer while it gathers, then the write under way,
/// which hands it back (hence unchecked Sendable).
final class UploadBlock: @unchecked Sendable {
    /// Direct I/O needs the buffer, the length and the offset aligned to the
    /// device's logical block size; 4096 covers every common one.
    static let alignment = 4096
    private let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: UploadWriter.blockBytes, alignment: alignment)
    var count = 0

    deinit { memory.deallocate() }

    func append(_ bytes: UnsafeRawBufferPointer) {
        precondition(count + bytes.count <= memory.count, "an upload block overflowed")
        UnsafeMutableRawBufferPointer(rebasing: memory[count..<count + bytes.count]).copyMemory(from: bytes)
        count += bytes.count
    }

    /// Writes the block at the file's end and answers the file's mode afterwards.
    /// A filesystem that refuses direct I/O (when it is turned on, or on a write)
    /// is written through the page cache from then on.
    func write(to fd: Int32, direct: Bool, mode: UploadWriter.FileMode, path: SafePath) throws -> UploadWriter.FileMode {
        var mode = mode
        if direct != mode.directOn {
            if knot_set_direct_io(fd, direct ? 1 : 0) == 0 {
                mode.directOn = direct
            } else if direct {
                mode.directAllowed = false
            } else {
                throw FileErrors.from(errno: errno, path: path)
            }
        }
        try FileOperations.writeAll(fd: fd, UnsafeRawBufferPointer(rebasing: memory[..<count]), path: path) { error in
            // Direct I/O refused after all (an alignment this device needs, or a
            // short write that left the rest unaligned): the rest goes buffered.
            guard error == EINVAL, mode.directOn, knot_set_direct_io(fd, 0) == 0 else { return false }
            mode = UploadWriter.FileMode(directAllowed: false, directOn: false)
            return true
        }
        return mode
    }
}
