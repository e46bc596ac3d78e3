import Foundation
import Synchronization

/// The request id and W3C trace context of the request being handled, carried
/// in a task-local so that every outgoing internal call passes them on
/// without each handler threading them through by hand.
public struct RequestTrace: Sendable {
    public var requestID: String
    public var traceparent: String

    @TaskLocal public static var current: RequestTrace?

    public init(requestID: String, traceparent: String) {
        self.requestID = requestID
        self.traceparent = traceparent
    }

    /// Starts a new trace, or continues the caller's when its headers are well formed.
    public static func continuing(requestID: String?, traceparent: String?) -> RequestTrace {
        let id = requestID.flatMap { isSafeRequestID($0) ? $0 : nil } ?? newRequestID()
        if let parent = traceparent, let continued = childTraceparent(of: parent) {
            return RequestTrace(requestID: id, traceparent: continued)
        }
        return RequestTrace(requestID: id, traceparent: "00-\(randomHex(16))-\(randomHex(8))-01")
    }

    /// Request ids arrive from clients, so only short, plain values are trusted into logs.
    static func isSafeRequestID(_ value: String) -> Bool {
        value.utf8.count <= 128 && !value.isEmpty
            && value.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F
            }
    }

    /// Keeps the trace id, gives this hop a new span id (W3C Trace Context).
    static func childTraceparent(of parent: String) -> String? {
        let parts = parent.split(separator: "-")
        guard parts.count == 4, parts[0] == "00", parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
            parts.dropFirst().allSatisfy({ $0.allSatisfy(\.isHexDigit) })
        else { return nil }
        return "00-\(parts[1].lowercased())-\(randomHex(8))-\(parts[3].lowercased())"
    }

    /// Random-looking hex of `bytes` bytes. Trace and request ids must be
    /// unique, not secret, and one is made for every request: SplitMix64 of a
    /// counter from a random start gives distinct values without a system call.
    public static func randomHex(_ bytes: Int) -> String {
        var hex = [UInt8]()
        hex.reserveCapacity(bytes * 2)
        var remaining = bytes
        while remaining > 0 {
            var word = IDSource.next()
            for _ in 0..<min(remaining, 8) {
                let byte = UInt8(truncatingIfNeeded: word)
                hex.append(hexDigits[Int(byte >> 4)])
                hex.append(hexDigits[Int(byte & 0x0f)])
                word >>= 8
            }
            remaining -= 8
        }
        return String(decoding: hex, as: UTF8.self)
    }

    /// A request id in UUID form (8-4-4-4-12 hex digits).
    static func newRequestID() -> String {
        let hex = Array(randomHex(16).utf8)
        var id = [UInt8]()
        id.reserveCapacity(36)
        for (index, digit) in hex.enumerated() {
            if index == 8 || index == 12 || index == 16 || index == 20 { id.append(UInt8(ascii: "-")) }
            id.append(digit)
        }
        return String(decoding: id, as: UTF8.self)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}

/// The process-wide source of trace ids.
private enum IDSource {
    static let counter = Atomic<UInt64>(0)
    static let seed: UInt64 = {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }()

    static func next() -> UInt64 {
        let (value, _) = counter.add(1, ordering: .relaxed)
        var z = seed &+ value &* 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
