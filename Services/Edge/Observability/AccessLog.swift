import Foundation
import Metrics
import NIOConcurrencyHelpers

/// One line per request (who, what, status, bytes, time) as JSON, buffered
/// and written by a background thread twice a second, so a busy edge pays a
/// string append per request, not a system call.
final class AccessLog: Sendable {
    struct Entry {
        var requestID: String
        var client: String
        var method: String
        var host: String
        var target: String
        var status: Int
        var bytesIn: Int64
        var bytesOut: Int64
        var milliseconds: Double
        var user: String?
        var routeClass: RouteClass
        var upstream: String?
    }

    private let buffer = NIOLockedValueBox<[UInt8]>([])
    private let descriptor: Int32
    private let enabled: Bool
    private static let flushBytes = 256 * 1024

    init(path: String?, enabled: Bool) throws {
        self.enabled = enabled
        if let path {
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
            guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
            descriptor = fd
        } else {
            descriptor = STDOUT_FILENO
        }
        guard enabled else { return }
        let thread = Thread { [weak self] in
            while let self {
                Thread.sleep(forTimeInterval: 0.5)
                self.flush()
            }
        }
        thread.name = "knot-edge-access-log"
        thread.start()
    }

    func record(_ entry: Entry) {
        RequestMetrics.record(entry.routeClass, status: entry.status, milliseconds: entry.milliseconds)
        guard enabled else { return }
        var line = "{\"time\":\"\(Self.timestamp())\",\"request_id\":\"\(entry.requestID)\",\"client\":\"\(entry.client)\""
        line += ",\"method\":\(Self.quoted(entry.method)),\"host\":\(Self.quoted(entry.host)),\"target\":\(Self.quoted(String(entry.target.prefix(512))))"
        line += ",\"status\":\(entry.status),\"bytes_in\":\(entry.bytesIn),\"bytes_out\":\(entry.bytesOut)"
        line += ",\"ms\":\((entry.milliseconds * 10).rounded() / 10),\"class\":\"\(entry.routeClass.rawValue)\""
        if let user = entry.user { line += ",\"user\":\(Self.quoted(user))" }
        if let upstream = entry.upstream { line += ",\"upstream\":\(Self.quoted(upstream))" }
        line += "}\n"
        let full = buffer.withLockedValue { buffer in
            buffer.append(contentsOf: line.utf8)
            return buffer.count >= Self.flushBytes
        }
        if full { flush() }
    }

    func flush() {
        let bytes = buffer.withLockedValue { buffer in
            defer { buffer.removeAll(keepingCapacity: true) }
            return buffer
        }
        guard !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if written <= 0 {
                    if written < 0 && errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }

    /// A JSON string literal; client-controlled text is escaped so a line is always one valid object.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var parts = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min,
            parts.tm_sec, now.tv_nsec / 1_000_000)
    }
}

/// Prometheus series per route class: requests by status class, and durations.
enum RequestMetrics {
    private static let counters = NIOLockedValueBox<[String: Counter]>([:])
    private static let timers = NIOLockedValueBox<[RouteClass: Timer]>([:])

    static func record(_ routeClass: RouteClass, status: Int, milliseconds: Double) {
        let key = routeClass.rawValue + String(status / 100)
        let counter = counters.withLockedValue { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(
                label: "knot_edge_requests_total", dimensions: [("class", routeClass.rawValue), ("status", "\(status / 100)xx")])
            counters[key] = counter
            return counter
        }
        counter.increment()
        let timer = timers.withLockedValue { timers in
            if let timer = timers[routeClass] { return timer }
            let timer = Timer(label: "knot_edge_request_duration_seconds", dimensions: [("class", routeClass.rawValue)])
            timers[routeClass] = timer
            return timer
        }
        timer.recordNanoseconds(Int64(milliseconds * 1_000_000))
    }
}
