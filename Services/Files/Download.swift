import Foundation
import HTTPTypes
import Hummingbird
import KnotErrors
import KnotLinuxCalls
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// A file's download: validators (ETag, Last-Modified), conditional requests,
/// one byte range, a type from the name, and always as an attachment in a
/// sandbox, so a user's HTML is never rendered under Knot's origin.
struct Download: Sendable {
    let fd: FileDescriptorBox
    let size: Int64
    let etag: String
    let modified: Date
    let name: String

    /// Opens a regular file (never following a link) and reads what the validators need.
    static func open(in directory: DirectoryHandle, name: String, path: SafePath) throws -> Download {
        let fd = openat(directory.fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw FileErrors.from(errno: errno, path: path) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw KnotError.conflict("\(path.display) is not a regular file", code: "not_a_file")
        }
        return Download(
            fd: FileDescriptorBox(fd), size: Int64(info.st_size), etag: Self.etag(info),
            modified: Date(timeIntervalSince1970: TimeInterval(info.st_mtim.tv_sec)), name: name)
    }

    /// Changes whenever the file is replaced (inode), grows or shrinks, or is written (mtime in ns).
    static func etag(_ info: stat) -> String {
        let nanoseconds = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        return "\"\(String(info.st_ino, radix: 16))-\(String(info.st_size, radix: 16))-\(String(nanoseconds, radix: 16))\""
    }

    /// Whether an `If-None-Match` list names this version (weak comparison, RFC 9110 13.1.2).
    func matches(ifNoneMatch header: String) -> Bool {
        let strip = { (tag: Substring) -> Substring in tag.hasPrefix("W/") ? tag.dropFirst(2) : tag }
        return header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.contains { candidate in
            candidate == "*" || strip(Substring(candidate)) == strip(Substring(etag))
        }
    }

    enum RangeAnswer: Equatable {
        case whole
        case part(ClosedRange<Int64>)
        case unsatisfiable
    }

    /// One `bytes=` range, as RFC 9110 14.1.2 reads it. Several ranges, or a
    /// form this does not know, are answered with the whole file (which the
    /// RFC allows); a range entirely past the end is unsatisfiable.
    static func range(_ header: String?, size: Int64) -> RangeAnswer {
        guard let header, header.hasPrefix("bytes="), !header.contains(",") else { return .whole }
        let spec = header.dropFirst(6).trimmingCharacters(in: .whitespaces)
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .whole }
        let first = parts[0].trimmingCharacters(in: .whitespaces)
        let last = parts[1].trimmingCharacters(in: .whitespaces)
        let digits = { (text: String) in !text.isEmpty && text.count <= 18 && text.allSatisfy(\.isASCII) && text.allSatisfy(\.isNumber) }
        if first.isEmpty {
            // The last N bytes.
            guard digits(last), let suffix = Int64(last) else { return .whole }
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .part(max(0, size - suffix)...(size - 1))
        }
        guard digits(first), let start = Int64(first) else { return .whole }
        guard start < size else { return .unsatisfiable }
        if last.isEmpty { return .part(start...(size - 1)) }
        guard digits(last), let end = Int64(last), end >= start else { return .whole }
        return .part(start...min(end, size - 1))
    }

    func response(for request: Request, on eventLoop: any EventLoop) -> Response {
        var headers: HTTPFields = [
            .contentType: MediaTypes.type(of: name),
            .contentDisposition: FilesApp.attachment(name),
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            .contentSecurityPolicy: "sandbox; default-src 'none'",
            .cacheControl: "private, no-cache",
            .eTag: etag,
            .lastModified: Self.httpDate(modified),
            .acceptRanges: "bytes",
        ]
        if let ifNoneMatch = request.headers[.ifNoneMatch], matches(ifNoneMatch: ifNoneMatch) {
            fd.close()
            headers[.contentType] = nil
            headers[.contentDisposition] = nil
            return Response(status: .notModified, headers: headers)
        }
        var answer = Self.range(request.headers[.range], size: size)
        // If-Range: the range holds only for the version the client already has.
        if answer != .whole, let ifRange = request.headers[.ifRange], ifRange != etag { answer = .whole }
        let span: ClosedRange<Int64>
        switch answer {
        case .unsatisfiable:
            fd.close()
            headers[.contentRange] = "bytes */\(size)"
            headers[.contentLength] = "0"
            return Response(status: .rangeNotSatisfiable, headers: headers)
        case .whole:
            span = 0...max(size - 1, 0)
            headers[.contentLength] = "\(size)"
        case .part(let part):
            span = part
            headers[.contentRange] = "bytes \(part.lowerBound)-\(part.upperBound)/\(size)"
            headers[.contentLength] = "\(part.count)"
        }
        let status: HTTPResponse.Status = answer == .whole ? .ok : .partialContent
        if request.method == .head || size == 0 {
            fd.close()
            return Response(status: status, headers: headers, body: .init())
        }
        let handle = fd
        let length = answer == .whole ? size : Int64(span.count)
        let start = span.lowerBound
        let body = ResponseBody.paced(contentLength: Int(length), on: eventLoop) { writer in
            defer { handle.close() }
            var offset = start
            var remaining = length
            while remaining > 0 {
                let chunk = try await Self.read(handle, at: offset, upTo: Int(min(remaining, Self.chunkSize)))
                // The file shrank under us: end here rather than promise bytes that are gone.
                guard chunk.readableBytes > 0 else { break }
                offset += Int64(chunk.readableBytes)
                remaining -= Int64(chunk.readableBytes)
                try await writer.write(chunk)
            }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }

    static let chunkSize: Int64 = 256 * 1024

    /// Up to `count` bytes at `offset`; empty at the end of the file. What the
    /// page cache holds is copied on the calling task at once; only a read that
    /// would wait for the disk goes to the thread pool. A trip to the pool for
    /// every chunk, two thread wake-ups each, was the files service's largest
    /// cost in a download of a cached file (scripts/bench files).
    static func read(_ handle: FileDescriptorBox, at offset: Int64, upTo count: Int) async throws -> ByteBuffer {
        var cached = ByteBufferAllocator().buffer(capacity: count)
        if Self.fill(&cached, upTo: count, with: { knot_read_cached(handle.fd, $0, UInt(count), Int(offset)) }) { return cached }
        return try await FileOperations.blocking {
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            guard Self.fill(&buffer, upTo: count, with: { pread(handle.fd, $0, count, off_t(offset)) }) else {
                throw KnotError.internalError("the file could not be read")
            }
            return buffer
        }
    }

    /// Appends what `read` reads into `buffer`; false when it failed (and nothing was appended).
    private static func fill(_ buffer: inout ByteBuffer, upTo count: Int, with read: (UnsafeMutableRawPointer) -> Int) -> Bool {
        var succeeded = false
        // The closure's answer moves the writer index, so a failed read must answer 0, not -1.
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
            let bytes = read(raw.baseAddress!)
            succeeded = bytes >= 0
            return max(bytes, 0)
        }
        return succeeded
    }

    static func httpDate(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.string(from: date)
    }
}

/// Content types by file extension, for downloads (always attachments anyway).
enum MediaTypes {
    static let byExtension: [String: String] = [
        "txt": "text/plain; charset=utf-8", "md": "text/markdown; charset=utf-8", "csv": "text/csv; charset=utf-8",
        "tsv": "text/tab-separated-values; charset=utf-8", "json": "application/json", "yaml": "application/yaml",
        "yml": "application/yaml", "xml": "application/xml", "html": "text/html; charset=utf-8", "htm": "text/html; charset=utf-8",
        "css": "text/css", "js": "text/javascript", "py": "text/x-python; charset=utf-8", "ipynb": "application/x-ipynb+json",
        "pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif",
        "svg": "image/svg+xml", "webp": "image/webp", "zip": "application/zip", "tar": "application/x-tar",
        "gz": "application/gzip", "tgz": "application/gzip", "parquet": "application/vnd.apache.parquet",
        "h5": "application/x-hdf5", "mp4": "video/mp4", "wav": "audio/wav", "mp3": "audio/mpeg",
    ]

    static func type(of name: String) -> String {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return "application/octet-stream" }
        return byExtension[name[name.index(after: dot)...].lowercased()] ?? "application/octet-stream"
    }
}
