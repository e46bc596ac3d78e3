import Foundation
import NIOCore

/// A ZIP archive written as it goes (stored, not compressed: what people
/// download is mostly data that compresses poorly, and storing keeps the edge
/// and this service at disk speed). Each entry's sizes and CRC follow its data
/// in a descriptor; the central directory comes last; ZIP64 records appear
/// when an entry, an offset or the entry count outgrows the classic format.
/// Memory is the central directory (a few dozen bytes per entry), nothing more.
struct ZipStream {
    private struct Entry {
        var name: [UInt8]
        var crc: UInt32
        var size: UInt64
        var offset: UInt64
        var folder: Bool
        var dosTime: UInt16
        var dosDate: UInt16
    }

    private var entries: [Entry] = []
    private(set) var written: UInt64 = 0
    private var current: Entry?

    static let descriptorFlag: UInt16 = 0x0808  // sizes after the data; UTF-8 names

    /// The local header of a new entry; its data (for a file) follows with `data(_:)`, then `endEntry()`.
    mutating func begin(name: String, folder: Bool, modified: Date) -> ByteBuffer {
        let (time, date) = Self.dos(modified)
        let entry = Entry(name: Array((folder ? name + "/" : name).utf8), crc: 0, size: 0, offset: written, folder: folder, dosTime: time, dosDate: date)
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(0x0403_4b50), endianness: .little)
        buffer.writeInteger(UInt16(45), endianness: .little)
        buffer.writeInteger(Self.descriptorFlag, endianness: .little)
        buffer.writeInteger(UInt16(0), endianness: .little)  // stored
        buffer.writeInteger(time, endianness: .little)
        buffer.writeInteger(date, endianness: .little)
        buffer.writeInteger(UInt32(0), endianness: .little)  // crc, sizes: in the descriptor
        buffer.writeInteger(UInt32(0), endianness: .little)
        buffer.writeInteger(UInt32(0), endianness: .little)
        buffer.writeInteger(UInt16(entry.name.count), endianness: .little)
        buffer.writeInteger(UInt16(0), endianness: .little)
        buffer.writeBytes(entry.name)
        written += UInt64(buffer.readableBytes)
        current = entry
        return buffer
    }

    /// Counts a chunk of the current entry's data (the caller writes the chunk itself).
    mutating func data(_ chunk: ByteBuffer) {
        guard var entry = current else { return }
        chunk.withUnsafeReadableBytes { entry.crc = CRC32.update(entry.crc, $0) }
        entry.size += UInt64(chunk.readableBytes)
        written += UInt64(chunk.readableBytes)
        current = entry
    }

    /// The data descriptor that closes the current entry.
    mutating func endEntry() -> ByteBuffer {
        guard let entry = current else { return ByteBuffer() }
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(0x0807_4b50), endianness: .little)
        buffer.writeInteger(entry.crc, endianness: .little)
        if entry.size >= 0xFFFF_FFFF {
            buffer.writeInteger(entry.size, endianness: .little)
            buffer.writeInteger(entry.size, endianness: .little)
        } else {
            buffer.writeInteger(UInt32(entry.size), endianness: .little)
            buffer.writeInteger(UInt32(entry.size), endianness: .little)
        }
        written += UInt64(buffer.readableBytes)
        entries.append(entry)
        current = nil
        return buffer
    }

    /// The central directory and the end records.
    mutating func finish() -> ByteBuffer {
        var buffer = ByteBuffer()
        let start = written
        for entry in entries {
            let large = entry.size >= 0xFFFF_FFFF
            let far = entry.offset >= 0xFFFF_FFFF
            var extra = ByteBuffer()
            if large || far {
                extra.writeInteger(UInt16(0x0001), endianness: .little)
                extra.writeInteger(UInt16((large ? 16 : 0) + (far ? 8 : 0)), endianness: .little)
                if large {
                    extra.writeInteger(entry.size, endianness: .little)
                    extra.writeInteger(entry.size, endianness: .little)
                }
                if far { extra.writeInteger(entry.offset, endianness: .little) }
            }
            buffer.writeInteger(UInt32(0x0201_4b50), endianness: .little)
            buffer.writeInteger(UInt16(45 | (3 << 8)), endianness: .little)  // made by Unix
            buffer.writeInteger(UInt16(45), endianness: .little)
            buffer.writeInteger(Self.descriptorFlag, endianness: .little)
            buffer.writeInteger(UInt16(0), endianness: .little)
            buffer.writeInteger(entry.dosTime, endianness: .little)
            buffer.writeInteger(entry.dosDate, endianness: .little)
            buffer.writeInteger(entry.crc, endianness: .little)
            buffer.writeInteger(large ? UInt32.max : UInt32(entry.size), endianness: .little)
            buffer.writeInteger(large ? UInt32.max : UInt32(entry.size), endianness: .little)
            buffer.writeInteger(UInt16(entry.name.count), endianness: .little)
            buffer.writeInteger(UInt16(extra.readableBytes), endianness: .little)
            buffer.writeInteger(UInt16(0), endianness: .little)  // comment
            buffer.writeInteger(UInt16(0), endianness: .little)  // disk
            buffer.writeInteger(UInt16(0), endianness: .little)  // internal attributes
            let mode: UInt32 = entry.folder ? 0o040755 : 0o100644
            buffer.writeInteger(mode << 16 | (entry.folder ? 0x10 : 0), endianness: .little)
            buffer.writeInteger(far ? UInt32.max : UInt32(entry.offset), endianness: .little)
            buffer.writeBytes(entry.name)
            buffer.writeBuffer(&extra)
        }
        let size = UInt64(buffer.readableBytes)
        let count = UInt64(entries.count)
        if count >= 0xFFFF || start >= 0xFFFF_FFFF || size >= 0xFFFF_FFFF {
            let record = start + size
            buffer.writeInteger(UInt32(0x0606_4b50), endianness: .little)
            buffer.writeInteger(UInt64(44), endianness: .little)
            buffer.writeInteger(UInt16(45 | (3 << 8)), endianness: .little)
            buffer.writeInteger(UInt16(45), endianness: .little)
            buffer.writeInteger(UInt32(0), endianness: .little)
            buffer.writeInteger(UInt32(0), endianness: .little)
            buffer.writeInteger(count, endianness: .little)
            buffer.writeInteger(count, endianness: .little)
            buffer.writeInteger(size, endianness: .little)
            buffer.writeInteger(start, endianness: .little)
            buffer.writeInteger(UInt32(0x0706_4b50), endianness: .little)
            buffer.writeInteger(UInt32(0), endianness: .little)
            buffer.writeInteger(record, endianness: .little)
            buffer.writeInteger(UInt32(1), endianness: .little)
        }
        buffer.writeInteger(UInt32(0x0605_4b50), endianness: .little)
        buffer.writeInteger(UInt16(0), endianness: .little)
        buffer.writeInteger(UInt16(0), endianness: .little)
        buffer.writeInteger(UInt16(min(count, 0xFFFF)), endianness: .little)
        buffer.writeInteger(UInt16(min(count, 0xFFFF)), endianness: .little)
        buffer.writeInteger(UInt32(min(size, 0xFFFF_FFFF)), endianness: .little)
        buffer.writeInteger(UInt32(min(start, 0xFFFF_FFFF)), endianness: .little)
        buffer.writeInteger(UInt16(0), endianness: .little)
        written += UInt64(buffer.readableBytes)
        return buffer
    }

    static func dos(_ date: Date) -> (time: UInt16, date: UInt16) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let year = max((parts.year ?? 1980) - 1980, 0)
        let time = UInt16((parts.hour ?? 0) << 11 | (parts.minute ?? 0) << 5 | (parts.second ?? 0) / 2)
        let day = UInt16(min(year, 127) << 9 | (parts.month ?? 1) << 5 | (parts.day ?? 1))
        return (time, day)
    }
}

/// CRC-32 (ISO 3309, the ZIP one), a byte at a time from a table.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var value = ~crc
        table.withUnsafeBufferPointer { table in
            for byte in bytes { value = table[Int((value ^ UInt32(byte)) & 0xFF)] ^ (value >> 8) }
        }
        return ~value
    }
}
