import Foundation
import KnotModels
import NIOConcurrencyHelpers

/// The user-service routes, as an immutable dictionary swapped whole on each
/// change, so a request sees either the old table or the new one, never half.
/// Upstream addresses are parsed once here, not on every request.
final class RouteTable: Sendable {
    private let current = NIOLockedValueBox<[String: (RouteEntry, UpstreamAddress)]>([:])
    private let loaded = NIOLockedValueBox(false)

    private static let nowhere = UpstreamAddress(url: "http://127.0.0.1:9")!

    func lookup(_ host: String) -> (RouteEntry, UpstreamAddress)? {
        current.withLockedValue { $0[host] }
    }

    func route(for host: String) -> RouteEntry? { lookup(host)?.0 }

    /// Replaces the table; entries whose upstream is not an `http://host:port` address are left out (and returned).
    @discardableResult
    func replace(with routes: [RouteEntry]) -> [RouteEntry] {
        var table: [String: (RouteEntry, UpstreamAddress)] = [:]
        var unusable: [RouteEntry] = []
        for route in routes {
            // A stopped service is answered by the edge itself; its upstream is never used.
            if route.stopped {
                table[route.host.lowercased()] = (route, Self.nowhere)
                continue
            }
            guard let address = UpstreamAddress(url: route.upstream) else {
                unusable.append(route)
                continue
            }
            table[route.host.lowercased()] = (route, address)
        }
        current.withLockedValue { $0 = table }
        loaded.withLockedValue { $0 = true }
        return unusable
    }

    var isLoaded: Bool { loaded.withLockedValue { $0 } }
    var count: Int { current.withLockedValue { $0.count } }
}
