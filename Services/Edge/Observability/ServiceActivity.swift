import Foundation
import KnotInternalClient
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// When each user service last had traffic through this edge, reported to the
/// launcher, which stops services idle for longer than allowed (culling).
/// Recording is one lock and one dictionary write per forwarded request; the
/// report sends only hosts seen since the last one, so an idle platform sends nothing.
final class ServiceActivity: Sendable {
    private let seen = NIOLockedValueBox<[String: Int]>([:])

    func record(host: String) {
        let now = Int(Date().timeIntervalSince1970)
        seen.withLockedValue { $0[host] = now }
    }

    /// Hands over what was seen since the last call.
    func drain() -> [String: Int] {
        seen.withLockedValue { hosts in
            defer { hosts.removeAll(keepingCapacity: true) }
            return hosts
        }
    }

    /// Puts back a report that could not be delivered, keeping the later time of each host.
    func restore(_ hosts: [String: Int]) {
        seen.withLockedValue { current in current.merge(hosts) { max($0, $1) } }
    }
}

/// Sends `ServiceActivity` to the launcher every `interval` (and once more on shutdown).
struct ServiceActivityReport: Service {
    let activity: ServiceActivity
    let launcher: InternalClient
    let interval: Duration
    let logger: Logger

    struct Report: Encodable { var hosts: [String: Int] }
    /// Whatever the launcher answers beyond success is not the edge's business.
    struct Answer: Decodable { init(from decoder: any Decoder) {} }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                await send()
            }
        }
        await send()
    }

    func send() async {
        let hosts = activity.drain()
        guard !hosts.isEmpty else { return }
        do {
            _ = try await launcher.post("/internal/v1/activity", body: Report(hosts: hosts), as: Answer.self)
        } catch {
            // Kept for the next round: a restarting launcher must not make busy services look idle.
            activity.restore(hosts)
            logger.warning("could not report service activity to the launcher", metadata: ["error": "\(error)", "hosts": "\(hosts.count)"])
        }
    }
}
