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
        var line = "{\"time\":\""
        line.reserveCapacity(320)
        line += timestamps.withLockedValue { $0.now() }
        line += "\",\"request_id\":\""
        line += entry.requestID
        line += "\",\"client\":"
        Self.appendQuoted(entry.client, to: &line)
        line += ",\"method\":"
        Self.appendQuoted(entry.method, to: &line)
        line += ",\"host\":"
        Self.appendQuoted(entry.host, to: &line)
        line += ",\"target\":"
        Self.appendQuoted(String(entry.target.utf8.count > 512 ? entry.target.prefix(512) : Substring(entry.target)), to: &line)
        line += ",\"status\":"
        line += String(entry.status)
        line += ",\"bytes_in\":"
        line += String(entry.bytesIn)
        line += ",\"bytes_out\":"
        line += String(entry.bytesOut)
        let tenths = Int((entry.milliseconds * 10).rounded())
        line += ",\"ms\":"
        line += String(tenths / 10)
        line += "."
        line += String(tenths % 10)
        line += ",\"class\":\""
        line += entry.routeClass.rawValue
        line += "\""
        if let user = entry.user {
            line += ",\"user\":"
            Self.appendQuoted(user, to: &line)
        }
        if let upstream = entry.upstream {
            line += ",\"upstream\":"
            Self.appendQuoted(upstream, to: &line)
        }
        line += "}\n"
        // Copied as one block: appending a String's UTF8View to an array goes byte by byte.
        let full = line.withUTF8 { bytes in
            buffer.withLockedValue { buffer in
                buffer.append(contentsOf: bytes)
                return buffer.count >= Self.flushBytes
            }
        }
        if full { flush() }
    }

    /// The time, formatted once per second and the milliseconds appended: formatting a date is not cheap.
    private struct Timestamps {
        var second = 0
        var prefix = ""

        mutating func now() -> String {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            if now.tv_sec != second {
                second = now.tv_sec
                var parts = tm()
                var seconds = now.tv_sec
                gmtime_r(&seconds, &parts)
                prefix =
                    "\(parts.tm_year + 1900)-\(Self.two(parts.tm_mon + 1))-\(Self.two(parts.tm_mday))T\(Self.two(parts.tm_hour)):\(Self.two(parts.tm_min)):\(Self.two(parts.tm_sec))."
            }
            let millis = now.tv_nsec / 1_000_000
            return prefix + (millis < 10 ? "00" : millis < 100 ? "0" : "") + String(millis) + "Z"
        }

        static func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    }

    private let timestamps = NIOLockedValueBox(Timestamps())

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

    /// Appends a JSON string literal; client-controlled text is escaped so a line is always one valid object.
    static func appendQuoted(_ text: String, to line: inout String) {
        let plain = text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }
        if plain {
            line += "\""
            line += text
            line += "\""
        } else {
            line += quoted(text)
        }
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

/// Prometheus series per route class: requests by status class, and durations.
/// The series are made once, so recording is an array index, not a lookup.
enum RequestMetrics {
    private static let classes: [RouteClass] = [.auth, .api, .dashboard, .service, .unknown, .publicFiles]
    private static let counters: [[Counter]] = classes.map { routeClass in
        (1...5).map { Counter(label: "knot_edge_requests_total", dimensions: [("class", routeClass.rawValue), ("status", "\($0)xx")]) }
    }
    private static let timers: [Timer] = classes.map {
        Timer(label: "knot_edge_request_duration_seconds", dimensions: [("class", $0.rawValue)])
    }

    static func record(_ routeClass: RouteClass, status: Int, milliseconds: Double) {
        guard let index = classes.firstIndex(of: routeClass) else { return }
        counters[index][min(max(status / 100, 1), 5) - 1].increment()
        timers[index].recordNanoseconds(Int64(milliseconds * 1_000_000))
    }
}
