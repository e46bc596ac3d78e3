import Foundation
import KnotErrors

#if canImport(Glibc)
import Glibc
#endif

/// Where each member of a tar file lies, found by reading only the 512-byte
/// headers (never the contents), so a many-gigabyte image archive is indexed
/// in moments and in little memory. Every header's checksum is checked and
/// every member must lie inside the file and the archive must end with its
/// end-of-archive block: a corrupt or truncated tar is refused here, before
/// anything else is read from it. Knows ustar, GNU long names and pax paths.
struct TarIndex: Sendable {
    struct Member: Sendable, Equatable {
        var offset: Int64
        var size: Int64
    }

    /// Regular files by normalised name (no leading `./`).
    private(set) var files: [String: Member] = [:]
    /// Symbolic links by name → target (old `docker save` links repeated layers).
    private(set) var links: [String: String] = [:]

    static let maxMembers = 100_000
    static let block: Int64 = 512

    enum Problem: Error, Equatable {
        case compressed, corrupt(String), truncated(String)
    }

    /// A regular file by name, following at most a few relative links.
    func member(_ name: String) -> Member? {
        var current = Self.normalise(name)
        for _ in 0..<4 {
            if let member = files[current] { return member }
            guard let target = links[current] else { return nil }
            if target.hasPrefix("/") { return nil }
            let base = current.split(separator: "/").dropLast().map(String.init)
            var parts = base
            for part in target.split(separator: "/") {
                if part == "." { continue }
                if part == ".." {
                    guard !parts.isEmpty else { return nil }
                    parts.removeLast()
                } else {
                    parts.append(String(part))
                }
            }
            current = parts.joined(separator: "/")
        }
        return nil
    }

    static func normalise(_ name: String) -> String {
        var name = Substring(name)
        while name.hasPrefix("./") { name = name.dropFirst(2) }
        while name.hasPrefix("/") { name = name.dropFirst() }
        while name.hasSuffix("/") { name = name.dropLast() }
        return String(name)
    }

    static func read(fd: Int32, fileSize: Int64) throws(Problem) -> TarIndex {
        var index = TarIndex()
        var offset: Int64 = 0
        var longName: String?
        var paxPath: String?
        var paxSize: Int64?
        var header = [UInt8](repeating: 0, count: Int(block))
        if fileSize >= 2 {
            var magic = [UInt8](repeating: 0, count: 2)
            if pread(fd, &magic, 2, 0) == 2 && magic == [0x1f, 0x8b] { throw .compressed }
        }
        var count = 0
        while true {
            guard offset + block <= fileSize else {
                throw .truncated(offset == 0 ? "the file is empty or shorter than one tar header" : "it ends at byte \(fileSize) without the end-of-archive block")
            }
            guard pread(fd, &header, Int(block), off_t(offset)) == Int(block) else { throw .truncated("it could not be read at byte \(offset)") }
            if header.allSatisfy({ $0 == 0 }) { break }
            guard let stored = octal(header[148..<156]), stored == checksum(header) else {
                throw .corrupt("the header at byte \(offset) has a bad checksum")
            }
            guard var size = number(header[124..<136]), size >= 0 else { throw .corrupt("the header at byte \(offset) has an unreadable size") }
            if let override = paxSize { size = override }
            let type = header[156]
            let dataStart = offset + block
            guard dataStart + size <= fileSize else {
                throw .truncated("the member at byte \(offset) needs \(size) bytes but the file ends at \(fileSize)")
            }
            count += 1
            guard count <= maxMembers else { throw .corrupt("it has more than \(maxMembers) members") }
            func data(limit: Int64) throws(Problem) -> [UInt8] {
                guard size <= limit else { throw .corrupt("an extended header at byte \(offset) is too large") }
                var bytes = [UInt8](repeating: 0, count: Int(size))
                guard size == 0 || pread(fd, &bytes, Int(size), off_t(dataStart)) == Int(size) else { throw .truncated("it could not be read at byte \(dataStart)") }
                return bytes
            }
            switch type {
            case UInt8(ascii: "L"):
                // GNU long name: the next header's name.
                longName = String(decoding: try data(limit: 64 * 1024).prefix { $0 != 0 }, as: UTF8.self)
            case UInt8(ascii: "x"):
                // pax extended header for the next member: path and size matter here.
                let records = try parsePax(try data(limit: 1024 * 1024), at: offset)
                paxPath = records["path"]
                if let text = records["size"] {
                    guard let value = Int64(text), value >= 0 else { throw .corrupt("a pax size at byte \(offset) is not a number") }
                    paxSize = value
                }
            case UInt8(ascii: "g"):
                break  // pax global header: nothing here needs it.
            default:
                var name = paxPath ?? longName ?? Self.headerName(header)
                name = normalise(name)
                if type == 0 || type == UInt8(ascii: "0") || type == UInt8(ascii: "7") {
                    index.files[name] = Member(offset: dataStart, size: size)
                    index.links[name] = nil
                } else if type == UInt8(ascii: "2") {
                    index.links[name] = string(header[157..<257])
                    index.files[name] = nil
                }
                longName = nil
                paxPath = nil
                paxSize = nil
            }
            offset = dataStart + (size + block - 1) / block * block
        }
        return index
    }

    static func headerName(_ header: [UInt8]) -> String {
        let name = string(header[0..<100])
        // ustar: a prefix in 345..<500 joined with "/".
        if header[257..<262].elementsEqual("ustar".utf8) {
            let prefix = string(header[345..<500])
            if !prefix.isEmpty { return prefix + "/" + name }
        }
        return name
    }

    static func string(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }

    static func checksum(_ header: [UInt8]) -> Int64 {
        var sum: Int64 = 0
        for (index, byte) in header.enumerated() { sum += (148..<156).contains(index) ? 32 : Int64(byte) }
        return sum
    }

    static func octal(_ bytes: ArraySlice<UInt8>) -> Int64? {
        let text = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty, text.count <= 21, text.allSatisfy({ ("0"..."7").contains($0) }) else { return nil }
        return Int64(text, radix: 8)
    }

    /// Octal, or GNU's base-256 for large sizes (high bit set).
    static func number(_ bytes: ArraySlice<UInt8>) -> Int64? {
        if let first = bytes.first, first & 0x80 != 0 {
            var value: Int64 = Int64(first & 0x7f)
            for byte in bytes.dropFirst() {
                guard value < (Int64.max >> 8) else { return nil }
                value = value << 8 | Int64(byte)
            }
            return value
        }
        return octal(bytes)
    }

    /// `"<length> <key>=<value>\n"` records.
    static func parsePax(_ bytes: [UInt8], at offset: Int64) throws(Problem) -> [String: String] {
        var records: [String: String] = [:]
        var position = 0
        while position < bytes.count {
            guard let space = bytes[position...].firstIndex(of: UInt8(ascii: " ")),
                let length = Int(String(decoding: bytes[position..<space], as: UTF8.self)), length > 0,
                position + length <= bytes.count, bytes[position + length - 1] == UInt8(ascii: "\n")
            else { throw .corrupt("the pax header at byte \(offset) is malformed") }
            let record = bytes[(space + 1)..<(position + length - 1)]
            if let equals = record.firstIndex(of: UInt8(ascii: "=")) {
                records[String(decoding: record[record.startIndex..<equals], as: UTF8.self)] =
                    String(decoding: record[(equals + 1)...], as: UTF8.self)
            }
            position += length
        }
        return records
    }
}
