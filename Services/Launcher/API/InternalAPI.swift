import Hummingbird
import KnotServiceKit

/// What other Knot services ask of the launcher: the edge reads the route
/// table; the users service acts on everything a person (or team) runs on
/// deactivation (stop, keep), reactivation (resume) and deletion (remove).
extension LauncherApp {
    func addRoutesAPI(to router: Router<KnotRequestContext>) {
        let internalAPI = host.internalAPI(router, "/internal/v1", allowed: ["edge"])
        internalAPI.get("routes") { _, _ in
            JSONResponse(.ok, ["routes": try await store.routes()])
        }
    }

    func addOwnersAPI(to router: Router<KnotRequestContext>) {
        let owners = host.internalAPI(router, "/internal/v1/owners", allowed: ["users"])
        owners.post(":owner/stop") { _, context in
            let owner = try context.parameters.require("owner")
            var stopped = 0
            for record in try await store.list(owner: owner) where ["starting", "running"].contains(record.status) {
                try await store.setStatus(id: record.id, status: "stopping", message: "stopping", upstream: nil)
                try await supervisor.stop(id: record.id, owner: owner)
                try await store.setStatus(id: record.id, status: "stopped", message: "stopped: the account was deactivated", upstream: nil)
                stopped += 1
            }
            context.logger.info("stopped an owner's services", metadata: ["owner": "\(owner)", "count": "\(stopped)"])
            return JSONResponse(.ok, ["stopped": stopped])
        }
        owners.post(":owner/resume") { _, context in
            let owner = try context.parameters.require("owner")
            var resumed = 0
            for record in try await store.list(owner: owner) where record.status == "stopped" {
                try await store.setStatus(id: record.id, status: "starting", message: "resuming", upstream: nil)
                await supervisor.resume(id: record.id, owner: owner, name: record.name)
                resumed += 1
            }
            return JSONResponse(.ok, ["resumed": resumed])
        }
        owners.delete(":owner") { _, context in
            let owner = try context.parameters.require("owner")
            var removed = 0
            for record in try await store.list(owner: owner) {
                try await store.setStatus(id: record.id, status: "stopping", message: "removing", upstream: nil)
                try await supervisor.remove(id: record.id, owner: owner)
                try await store.delete(id: record.id, host: record.host)
                removed += 1
            }
            context.logger.info("removed an owner's services", metadata: ["owner": "\(owner)", "count": "\(removed)"])
            return JSONResponse(.ok, ["removed": removed])
        }
    }
}
