import Foundation
import Logging

/// One JSON object per line on standard output, so that log collectors can
/// index by `service`, `level` and `request_id` without parsing prose.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let service: String

    public init(label: String, service: String, level: Logger.Level) {
        self.label = label
        self.service = service
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object: [String: Any] = [
            "ts": JSONLogHandler.timestamp(),
            "level": event.level.rawValue,
            "service": service,
            "logger": label,
            "msg": "\(event.message)",
        ]
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        for (key, value) in merged where object[key] == nil {
            object[key] = JSONLogHandler.plain(value)
        }
        if event.level >= .warning {
            object["source"] = "\(event.file.split(separator: "/").last ?? ""):\(event.line)"
        }
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        data.append(0x0A)
        LogOutput.shared.write(data)
    }

    public func log(
        level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?,
        source: String, file: String, function: String, line: UInt
    ) {
        log(event: LogEvent(level: level, message: message, metadata: metadata, file: file, line: line))
    }

    public struct LogEvent {
        var level: Logger.Level
        var message: Logger.Message
        var metadata: Logger.Metadata?
        var file: String
        var line: UInt
    }

    static func plain(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let c): return c.description
        case .array(let a): return a.map(plain)
        case .dictionary(let d): return d.mapValues(plain)
        }
    }

    static func timestamp() -> String {
        var tv = timeval()
        gettimeofday(&tv, nil)
        var seconds = tv.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
            parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec, Int(tv.tv_usec / 1000))
    }
}

/// Serialises whole lines so that concurrent log calls never interleave.
final class LogOutput: @unchecked Sendable {
    static let shared = LogOutput()
    private let lock = NSLock()
    /// Commands that print results on standard output log to standard error instead.
    nonisolated(unsafe) var toStandardError = false

    func write(_ data: Data) {
        lock.lock()
        defer { lock.unlock() }
        let fd: Int32 = toStandardError ? 2 : 1
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written <= 0 { break }
                offset += written
            }
        }
    }
}

public enum KnotLogging {
    /// Installs the JSON handler process-wide; call once, first thing in `main`.
    public static func bootstrap(service: String, level: String, toStandardError: Bool = false) {
        LogOutput.shared.toStandardError = toStandardError
        let parsed = Logger.Level(rawValue: level.lowercased()) ?? .info
        LoggingSystem.bootstrap { label in
            JSONLogHandler(label: label, service: service, level: parsed)
        }
    }
}
