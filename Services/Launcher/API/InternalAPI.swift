import Foundation
import Hummingbird
import KnotErrors
import KnotRuntime
import KnotServiceKit

/// What other Knot services ask of the launcher: the edge reads the route
/// table and reports traffic (for idle culling); the users service acts on
/// everything a person (or team) runs on deactivation (stop, keep),
/// reactivation (start again) and deletion (remove).
extension LauncherApp {
    /// `POST /internal/v1/activity`: `{"hosts": {"<host>": <unix seconds of the last request>}}`.
    struct ActivityReport: Decodable {
        var hosts: [String: Double]
    }

    static let maxActivityHosts = 20_000

    func addRoutesAPI(to router: Router<KnotRequestContext>) {
        let internalAPI = host.internalAPI(router, "/internal/v1", allowed: ["edge"])
        let limit = host.settings.maxJSONBody
        internalAPI.get("routes") { _, _ in
            JSONResponse(.ok, ["routes": try await store.routes()])
        }
        internalAPI.post("activity") { request, _ in
            let report = try await request.decodeJSON(ActivityReport.self, limit: limit)
            guard report.hosts.count <= Self.maxActivityHosts else {
                throw KnotError.badRequest("at most \(Self.maxActivityHosts) hosts per report", code: "too_many")
            }
            let now = Date().timeIntervalSince1970
            // A time from the future (a skewed clock) counts as now; nothing earlier than 2001 is a time.
            let hosts = report.hosts.compactMapValues { seen -> Double? in seen.isFinite && seen > 1e9 ? min(seen, now) : nil }
            return JSONResponse(.ok, ["updated": try await store.recordActivity(hosts)])
        }
    }

    func addOwnersAPI(to router: Router<KnotRequestContext>) {
        let owners = host.internalAPI(router, "/internal/v1/owners", allowed: ["users"])
        owners.post(":owner/stop") { _, context in
            let owner = try context.parameters.require("owner")
            var stopped = 0
            for record in try await store.list(owner: owner) where record.isWanted {
                try await store.update(id: record.id, status: "stopping", message: "stopping", route: .keep)
                try await supervisor.stop(
                    id: record.id, owner: owner, message: "stopped: the account was deactivated", reason: "deactivated",
                    route: .withdraw)
                stopped += 1
            }
            context.logger.info("stopped an owner's services", metadata: ["owner": "\(owner)", "count": "\(stopped)"])
            return JSONResponse(.ok, ["stopped": stopped])
        }
        owners.post(":owner/resume") { _, context in
            let owner = try context.parameters.require("owner")
            var resumed = 0
            // Only what deactivation stopped: what the person stopped themselves stays stopped.
            for record in try await store.list(owner: owner) where record.status == "stopped" && record.reason == "deactivated" {
                do {
                    try await start(record)
                    resumed += 1
                } catch {
                    context.logger.warning("could not start a service again", metadata: ["name": "\(record.name)", "error": "\(error)"])
                }
            }
            return JSONResponse(.ok, ["resumed": resumed])
        }
        owners.delete(":owner") { _, context in
            let owner = try context.parameters.require("owner")
            var removed = 0
            for record in try await store.list(owner: owner) {
                try await store.update(id: record.id, status: "stopping", message: "removing", route: .withdraw)
                try await supervisor.remove(id: record.id, owner: owner)
                try await store.delete(id: record.id, host: record.host)
                removed += 1
            }
            context.logger.info("removed an owner's services", metadata: ["owner": "\(owner)", "count": "\(removed)"])
            return JSONResponse(.ok, ["removed": removed])
        }
    }
}
