import Foundation

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
        let id = requestID.flatMap { isSafeRequestID($0) ? $0 : nil } ?? UUID().uuidString.lowercased()
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

    public static func randomHex(_ bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
