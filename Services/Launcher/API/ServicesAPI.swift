import Hummingbird
import KnotErrors
import KnotServiceKit

/// `/api/v1/launcher/services`: what a person runs.
extension LauncherApp {
    struct LaunchRequest: Decodable {
        var template: String
        var values: [String: String]?
    }

    func addServicesAPI(to api: RouterGroup<KnotRequestContext>) {
        let limit = host.settings.maxJSONBody
        api.get("services") { _, context in
            let identity = try context.requireIdentity()
            return JSONResponse(.ok, ["services": try await store.list(owner: identity.username)])
        }
        api.post("services") { request, context in
            let identity = try context.requireEditor()
            let body = try await request.decodeJSON(LaunchRequest.self, limit: limit)
            return JSONResponse(.accepted, try await launch(body, for: identity.username))
        }
        api.get("services/:name") { _, context in
            let identity = try context.requireIdentity()
            return JSONResponse(.ok, try await service(named: context.parameters.require("name"), owner: identity.username))
        }
        api.delete("services/:name") { _, context in
            let identity = try context.requireEditor()
            let record = try await service(named: context.parameters.require("name"), owner: identity.username)
            // Withdraw the route first, so the edge stops sending traffic before the process goes away.
            try await store.setStatus(id: record.id, status: "stopping", message: "stopping", upstream: nil)
            try await supervisor.remove(id: record.id, owner: record.owner)
            try await store.delete(id: record.id, host: record.host)
            context.logger.info("service deleted", metadata: ["name": "\(record.name)"])
            return JSONResponse(.ok, ["status": "deleted"])
        }
    }

    func service(named name: String, owner: String) async throws -> ServiceRecord {
        guard let record = try await store.find(owner: owner, name: name) else {
            throw KnotError.notFound("you have no service named \"\(name.prefix(64))\"")
        }
        return record
    }
}
