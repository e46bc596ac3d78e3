import Foundation
import Hummingbird
import KnotErrors
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// A folder downloaded as one archive (POSIX pax tar, or ZIP through
/// `ZipStream`), written while it is read: a few hundred kilobytes of memory
/// whatever the folder's size. Links and special files are left out (they
/// are never followed); uploads in progress are left out too.
enum FolderArchive {
    static let block = 512

    /// One thing the walk found, with its path under the archive's top folder.
    enum Entry {
        case folder(String)
        /// An open file; the walk closes it after the visit.
        case file(String, Download)
    }

    /// Depth-first over `folder`, the top folder itself first, names sorted;
    /// one open directory per level, so never more descriptors than the tree is deep.
    static func walk(_ folder: DirectoryHandle, top: String, path: SafePath, visit: (Entry) async throws -> Void) async throws {
        var stack: [(DirectoryHandle, String)] = [(folder, top)]
        try await visit(.folder(top))
        while let (directory, prefix) = stack.popLast() {
            let names = try await FileOperations.blocking { try FileOperations.names(in: directory).sorted() }
            var subfolders: [(DirectoryHandle, String)] = []
            for name in names where !name.hasPrefix(UploadNames.prefix) {
                let entryPath = prefix + "/" + name
                switch FileOperations.kind(in: directory, name: name) {
                case .folder:
                    let opened = try await FileOperations.blocking { () -> DirectoryHandle? in
                        let fd = openat(directory.fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                        return fd >= 0 ? DirectoryHandle.adopt(fd) : nil
                    }
                    guard let opened else { continue }
                    try await visit(.folder(entryPath))
                    subfolders.append((opened, entryPath))
                case .file:
                    guard let download = try? await FileOperations.blocking({ try Download.open(in: directory, name: name, path: path) }) else {
                        continue
                    }
                    defer { download.fd.close() }
                    try await visit(.file(entryPath, download))
                default:
                    continue
                }
            }
            stack.append(contentsOf: subfolders.reversed())
        }
    }

    /// Streams `folder` as a ZIP whose entries sit under `top/`.
    static func zip(_ folder: DirectoryHandle, top: String, path: SafePath, on eventLoop: any EventLoop) -> ResponseBody {
        ResponseBody.paced(on: eventLoop) { writer in
            var zip = ZipStream()
            try await walk(folder, top: top, path: path) { entry in
                switch entry {
                case .folder(let name):
                    try await writer.write(zip.begin(name: name, folder: true, modified: Date()))
                case .file(let name, let download):
                    try await writer.write(zip.begin(name: name, folder: false, modified: download.modified))
                    // Whatever the file holds as it is read: the descriptor records the true size and CRC.
                    var offset: Int64 = 0
                    while true {
                        let chunk = try await Download.read(download.fd, at: offset, upTo: Int(Download.chunkSize))
                        if chunk.readableBytes == 0 { break }
                        offset += Int64(chunk.readableBytes)
                        zip.data(chunk)
                        try await writer.write(chunk)
                    }
                }
                try await writer.write(zip.endEntry())
            }
            try await writer.write(zip.finish())
            try await writer.finish(nil)
        }
    }

    /// Streams `folder` as a tar whose entries sit under `top/`.
    static func tar(_ folder: DirectoryHandle, top: String, path: SafePath, on eventLoop: any EventLoop) -> ResponseBody {
        ResponseBody.paced(on: eventLoop) { writer in
            try await walk(folder, top: top, path: path) { entry in
                switch entry {
                case .folder(let name):
                    try await writer.write(header(name: name + "/", size: 0, mode: 0o755, modified: Date(), type: "5"))
                case .file(let name, let download):
                    try await writer.write(header(name: name, size: download.size, mode: 0o644, modified: download.modified, type: "0"))
                    try await copy(download, to: &writer)
                }
            }
            // Two empty blocks end the archive.
            try await writer.write(ByteBuffer(repeating: 0, count: block * 2))
            try await writer.finish(nil)
        }
    }

    /// A file's bytes as the tar header promised: cut or padded to the size it had when opened.
    static func copy(_ download: Download, to writer: inout some ResponseBodyWriter) async throws {
        var offset: Int64 = 0
        while offset < download.size {
            let want = Int(min(download.size - offset, Download.chunkSize))
            var chunk = try await Download.read(download.fd, at: offset, upTo: want)
            if chunk.readableBytes == 0 {
                // Shrunk since it was opened: pad with zeros to the size already promised.
                chunk = ByteBuffer(repeating: 0, count: want)
            }
            offset += Int64(chunk.readableBytes)
            try await writer.write(chunk)
        }
        let padding = (block - Int(download.size % Int64(block))) % block
        if padding > 0 { try await writer.write(ByteBuffer(repeating: 0, count: padding)) }
    }

    /// A ustar header, preceded by a pax header when the name or size does not fit ustar.
    static func header(name: String, size: Int64, mode: Int, modified: Date, type: Character) -> ByteBuffer {
        var buffer = ByteBuffer()
        let nameBytes = Array(name.utf8)
        let needsPax = nameBytes.count > 100 || size >= 8 * 1024 * 1024 * 1024 || !name.allSatisfy(\.isASCII)
        if needsPax {
            var records = ""
            for (key, value) in [("path", name), ("size", String(size))] {
                // Each record is "<length> key=value\n", the length counting itself.
                let body = " \(key)=\(value)\n"
                var length = body.utf8.count + 1
                while String(length).count + body.utf8.count != length { length += 1 }
                records += "\(length)\(body)"
            }
            let data = Array(records.utf8)
            var paxHeader = ustar(name: "PaxHeaders/entry", size: Int64(data.count), mode: 0o644, modified: modified, type: "x")
            buffer.writeBuffer(&paxHeader)
            buffer.writeBytes(data)
            buffer.writeBytes([UInt8](repeating: 0, count: (block - data.count % block) % block))
        }
        let shortName = needsPax ? String(decoding: nameBytes.filter { $0 < 0x80 }.suffix(99), as: UTF8.self) : name
        var main = ustar(name: shortName, size: size >= 8 * 1024 * 1024 * 1024 ? 0 : size, mode: mode, modified: modified, type: type)
        buffer.writeBuffer(&main)
        return buffer
    }

    static func ustar(name: String, size: Int64, mode: Int, modified: Date, type: Character) -> ByteBuffer {
        var header = [UInt8](repeating: 0, count: block)
        func put(_ text: String, at offset: Int, width: Int) {
            for (index, byte) in text.utf8.prefix(width).enumerated() { header[offset + index] = byte }
        }
        func octal(_ value: Int64, at offset: Int, width: Int) {
            put(String(repeating: "0", count: max(0, width - 1 - String(value, radix: 8).count)) + String(value, radix: 8), at: offset, width: width - 1)
        }
        put(name, at: 0, width: 100)
        octal(Int64(mode), at: 100, width: 8)
        octal(0, at: 108, width: 8)
        octal(0, at: 116, width: 8)
        octal(size, at: 124, width: 12)
        octal(Int64(modified.timeIntervalSince1970), at: 136, width: 12)
        put("        ", at: 148, width: 8)
        header[156] = type.asciiValue ?? 0x30
        put("ustar", at: 257, width: 6)
        put("00", at: 263, width: 2)
        put("knot", at: 265, width: 32)
        put("knot", at: 297, width: 32)
        let checksum = header.reduce(0) { $0 + Int64($1) }
        put(String(repeating: "0", count: max(0, 6 - String(checksum, radix: 8).count)) + String(checksum, radix: 8), at: 148, width: 6)
        header[154] = 0
        header[155] = 0x20
        var buffer = ByteBuffer()
        buffer.writeBytes(header)
        return buffer
    }
}
