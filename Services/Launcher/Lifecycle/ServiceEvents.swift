import Foundation
import KnotDatabase
import ServiceLifecycle

/// Hands the `knot_services` notifications this replica hears to the event
/// streams open on it (`GET /services/events`), each person's stream getting
/// only changes to their own services. PostgreSQL carries the change between
/// replicas, so a stream opened on one sees what another changed.
actor ServiceEventHub {
    enum Change: Sendable, Equatable {
        /// A service of the owner's was added, changed or removed.
        case service(name: String, op: String)
        /// Notifications may have been lost (the LISTEN reconnected): send everything again.
        case resync
    }

    struct Notification: Decodable {
        var owner: String
        var name: String
        var op: String
    }

    private var subscribers: [UUID: (owner: String, continuation: AsyncStream<Change>.Continuation)] = [:]

    var count: Int { subscribers.count }

    func subscribe(owner: String) -> (id: UUID, changes: AsyncStream<Change>) {
        let id = UUID()
        // A slow reader keeps the latest changes; it resyncs from the database anyway.
        let (stream, continuation) = AsyncStream<Change>.makeStream(bufferingPolicy: .bufferingNewest(256))
        subscribers[id] = (owner, continuation)
        continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribe(id) }
        }
        return (id, stream)
    }

    func unsubscribe(_ id: UUID) {
        subscribers.removeValue(forKey: id)?.continuation.finish()
    }

    /// A notification's payload, as the trigger sends it.
    func publish(_ payload: String) {
        guard let note = try? JSONDecoder().decode(Notification.self, from: Data(payload.utf8)) else { return }
        for (_, subscriber) in subscribers where subscriber.owner == note.owner {
            subscriber.continuation.yield(.service(name: note.name, op: note.op))
        }
    }

    func resyncAll() {
        for (_, subscriber) in subscribers { subscriber.continuation.yield(.resync) }
    }

    /// Ends every stream (the launcher is shutting down).
    func finishAll() {
        for (_, subscriber) in subscribers { subscriber.continuation.finish() }
        subscribers.removeAll()
    }
}

extension ServiceEventHub {
    /// The LISTEN that feeds the hub, as a lifecycle service.
    nonisolated func listener(database: Database) -> ChannelListener {
        ChannelListener(
            database: database, channel: LauncherSchema.servicesChannel,
            resync: { [weak self] in await self?.resyncAll() },
            onNotify: { [weak self] payload in await self?.publish(payload) })
    }
}

/// Server-Sent Events framing: `event:` and `data:` lines, a blank line after each.
enum ServerSentEvents {
    static func event(_ name: String, data: String) -> String {
        let lines = data.split(separator: "\n", omittingEmptySubsequences: false).map { "data: \($0)" }.joined(separator: "\n")
        return "event: \(name)\n\(lines)\n\n"
    }

    static func comment(_ text: String) -> String { ": \(text)\n\n" }
}
