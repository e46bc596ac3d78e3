import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// Keeps a LISTEN open on one channel for the life of the service. Every time
/// the connection is (re)established it first calls `resync` — notifications
/// sent while disconnected are lost, so the listener reloads everything —
/// then calls `onNotify` for each notification.
public struct ChannelListener: Service {
    public let database: Database
    public let channel: String
    public let resync: @Sendable () async throws -> Void
    public let onNotify: @Sendable (String) async throws -> Void

    public init(
        database: Database, channel: String,
        resync: @escaping @Sendable () async throws -> Void,
        onNotify: @escaping @Sendable (String) async throws -> Void
    ) {
        precondition(channel.allSatisfy { $0.isLetter || $0 == "_" }, "channel names are plain identifiers")
        self.database = database
        self.channel = channel
        self.resync = resync
        self.onNotify = onNotify
    }

    public func run() async throws {
        let logger = database.logger
        var delay: Duration = .milliseconds(200)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let attempt = ContinuousClock.now
            do {
                let connection = try await database.dedicatedConnection()
                defer { Task { try? await connection.close() } }
                try await cancelWhenGracefulShutdown {
                    try await connection.listen(on: channel) { notifications in
                        try await resync()
                        logger.info("listening", metadata: ["channel": "\(channel)"])
                        for try await notification in notifications {
                            // A failed reaction is the handler's to retry; it must not drop the LISTEN.
                            do {
                                try await onNotify(notification.payload)
                            } catch {
                                logger.warning("notification handler failed", metadata: ["channel": "\(channel)", "error": "\(error)"])
                            }
                        }
                    }
                }
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { return }
                logger.warning("listen connection lost; reconnecting", metadata: ["channel": "\(channel)", "error": "\(error)"])
            }
            // A connection that held for a while earns a quick reconnect; a flapping one backs off.
            delay = ContinuousClock.now - attempt > .seconds(10) ? .milliseconds(200) : min(delay * 2, .seconds(5))
            try? await Task.sleep(for: delay)
        }
    }
}
