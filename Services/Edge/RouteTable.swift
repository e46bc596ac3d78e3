import Foundation
import KnotModels
import NIOConcurrencyHelpers

/// The user-service routes, as an immutable dictionary swapped whole on each
/// change, so a request sees either the old table or the new one, never half.
final class RouteTable: Sendable {
    private let current = NIOLockedValueBox<[String: RouteEntry]>([:])
    private let loaded = NIOLockedValueBox(false)

    func route(for host: String) -> RouteEntry? {
        current.withLockedValue { $0[host] }
    }

    func replace(with routes: [RouteEntry]) {
        let table = Dictionary(routes.map { ($0.host.lowercased(), $0) }, uniquingKeysWith: { _, last in last })
        current.withLockedValue { $0 = table }
        loaded.withLockedValue { $0 = true }
    }

    var isLoaded: Bool { loaded.withLockedValue { $0 } }
    var count: Int { current.withLockedValue { $0.count } }
}
