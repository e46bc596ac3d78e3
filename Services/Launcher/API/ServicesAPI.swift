import Foundation
import HTTPTypes
import Hummingbird
import KnotErrors
import KnotInternalClient
import KnotRuntime
import KnotServiceKit
import NIOCore
import ServiceLifecycle

/// `/api/v1/launcher/services`: what a person runs.
extension LauncherApp {
    struct LaunchRequest: Decodable {
        var template: String
        var values: [String: String]?
    }

    /// How often an idle event stream gets a comment, so that proxies keep it open.
    static let keepAliveInterval: Duration = .seconds(
        ProcessInfo.processInfo.environment["KNOT_EVENTS_KEEPALIVE_SECONDS"].flatMap(Int.init).map { max(1, $0) } ?? 15)

    func addServicesAPI(to api: RouterGroup<KnotRequestContext>) {
        let limit = host.settings.maxJSONBody
        api.get("services") { _, context in
            let identity = try context.requireIdentity()
            let records = try await store.list(owner: identity.username)
            return JSONResponse(.ok, ["services": try await present(records, for: identity.username)])
        }
        api.post("services") { request, context in
            let identity = try context.requireEditor()
            let body = try await request.decodeJSON(LaunchRequest.self, limit: limit)
            return JSONResponse(.accepted, try await launch(body, for: identity.username))
        }
        api.get("services/events") { _, context in
            let identity = try context.requireIdentity()
            return eventStream(owner: identity.username)
        }
        api.get("services/:name") { _, context in
            let identity = try context.requireIdentity()
            var record = try await service(named: context.parameters.require("name"), owner: identity.username)
            record = try await present([record], for: identity.username)[0]
            record.details = (try? await liveStatus(record))??.details
            return JSONResponse(.ok, record)
        }
        api.delete("services/:name") { _, context in
            let identity = try context.requireEditor()
            let record = try await service(named: context.parameters.require("name"), owner: identity.username)
            // Withdraw the route first, so the edge stops sending traffic before the process goes away.
            try await store.update(id: record.id, status: "stopping", message: "removing", route: .withdraw)
            try await supervisor.remove(id: record.id, owner: record.owner)
            try await store.delete(id: record.id, host: record.host)
            context.logger.info("service deleted", metadata: ["name": "\(record.name)"])
            return JSONResponse(.ok, ["status": "deleted"])
        }
        api.post("services/:name/stop") { _, context in
            let identity = try context.requireEditor()
            let record = try await service(named: context.parameters.require("name"), owner: identity.username)
            if record.status != "stopped" {
                try await store.update(id: record.id, status: "stopping", message: "stopping", reason: record.reason, route: .keep)
                try await supervisor.stop(id: record.id, owner: record.owner, message: "stopped by \(identity.username)")
                context.logger.info("service stopped", metadata: ["name": "\(record.name)"])
            }
            return JSONResponse(.ok, try await current(record))
        }
        api.post("services/:name/start") { _, context in
            let identity = try context.requireEditor()
            let record = try await service(named: context.parameters.require("name"), owner: identity.username)
            guard !record.isWanted else { return JSONResponse(.ok, try await current(record)) }
            guard record.status != "stopping" else {
                throw KnotError.conflict("\(record.name) is still stopping; try again in a moment", code: "busy")
            }
            try await start(record)
            context.logger.info("service started", metadata: ["name": "\(record.name)"])
            return JSONResponse(.accepted, try await current(record))
        }
        api.post("services/:name/upgrade") { _, context in
            let identity = try context.requireEditor()
            let record = try await service(named: context.parameters.require("name"), owner: identity.username)
            let upgraded = try await upgrade(record)
            context.logger.info("service upgraded", metadata: ["name": "\(record.name)", "version": "\(upgraded.templateVersion)"])
            return JSONResponse(.accepted, upgraded)
        }
        api.get("services/:name/events") { _, context in
            let identity = try context.requireIdentity()
            let record = try await service(named: context.parameters.require("name"), owner: identity.username)
            let status = try await liveStatus(record) ?? nil
            return JSONResponse(.ok, ["events": status?.details?.events ?? []])
        }
        api.get("services/:name/logs") { request, context in
            let identity = try context.requireIdentity()
            let record = try await service(named: context.parameters.require("name"), owner: identity.username)
            let query = request.uri.queryParameters
            let tail = try query["tail"].map { raw -> Int in
                guard let value = Int(raw), value >= 0 else {
                    throw KnotError.badRequest("tail is a number of lines, 0 or more", code: "invalid_value")
                }
                return min(value, 100_000)
            }
            let follow = ["1", "true", "yes"].contains(query["follow"].map(String.init) ?? "")
            return try await logStream(record, follow: follow, tail: tail ?? 1000)
        }
    }

    func service(named name: String, owner: String) async throws -> ServiceRecord {
        guard let record = try await store.find(owner: owner, name: name) else {
            throw KnotError.notFound("you have no service named \"\(name.prefix(64))\"")
        }
        return record
    }

    /// The record as it is now, as the API shows it.
    func current(_ record: ServiceRecord) async throws -> ServiceRecord {
        let fresh = try await store.find(id: record.id) ?? record
        return try await present([fresh], for: record.owner)[0]
    }

    /// What the runtime says now, waiting at most three seconds (nil: it did not answer in time).
    func liveStatus(_ record: ServiceRecord) async throws -> WorkloadStatus?? {
        let runtime = self.runtime
        let ref = record.ref
        return try await withThrowingTaskGroup(of: WorkloadStatus??.self) { group in
            group.addTask { .some(try await runtime.status(ref)) }
            group.addTask {
                try await Task.sleep(for: .seconds(3))
                return .none
            }
            let first = try await group.next() ?? .none
            group.cancelAll()
            return first
        }
    }

    /// `text/event-stream`: a `snapshot` of the person's services, then a
    /// `service` event (the record) or `deleted` event (`{"name"}`) whenever
    /// one changes, on any launcher replica; a comment keeps it open.
    func eventStream(owner: String) -> Response {
        let hub = events
        let app = self
        let interval = Self.keepAliveInterval
        let body = ResponseBody { writer in
            let (id, changes) = await hub.subscribe(owner: owner)
            // Changes and keep-alive ticks (nil) in one sequence.
            let (items, input) = AsyncStream<ServiceEventHub.Change?>.makeStream()
            let forward = Task {
                for await change in changes { input.yield(change) }
                input.finish()
            }
            let ticker = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    input.yield(nil)
                }
            }
            defer {
                forward.cancel()
                ticker.cancel()
                input.finish()
            }
            do {
                try await withGracefulShutdownHandler {
                    try await writer.write(ByteBuffer(string: "retry: 3000\n" + ServerSentEvents.comment("connected")))
                    try await writer.write(ByteBuffer(string: try await app.snapshotEvent(owner)))
                    for await item in items {
                        switch item {
                        case nil:
                            try await writer.write(ByteBuffer(string: ServerSentEvents.comment("keep-alive")))
                        case .resync?:
                            try await writer.write(ByteBuffer(string: try await app.snapshotEvent(owner)))
                        case .service(let name, let op)?:
                            try await writer.write(ByteBuffer(string: try await app.changeEvent(owner: owner, name: name, op: op)))
                        }
                    }
                } onGracefulShutdown: {
                    Task { await hub.unsubscribe(id) }
                }
            } catch {
                // The client went away (or the database did): the stream ends.
            }
            await hub.unsubscribe(id)
            try? await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store",
                HTTPField.Name("X-Accel-Buffering")!: "no",
            ],
            body: body)
    }

    func snapshotEvent(_ owner: String) async throws -> String {
        let records = try await present(try await store.list(owner: owner), for: owner)
        return ServerSentEvents.event("snapshot", data: try ServiceStore.json(["services": records]))
    }

    func changeEvent(owner: String, name: String, op: String) async throws -> String {
        if op != "delete", let record = try await store.find(owner: owner, name: name) {
            return ServerSentEvents.event("service", data: try ServiceStore.json(try await present([record], for: owner)[0]))
        }
        return ServerSentEvents.event("deleted", data: try ServiceStore.json(["name": name]))
    }

    /// The service's output as text: the last `tail` lines, then (with
    /// `follow`) new lines as they come, until the client goes away.
    func logStream(_ record: ServiceRecord, follow: Bool, tail: Int) async throws -> Response {
        let lines: AsyncThrowingStream<String, Error>
        do {
            lines = try await runtime.logs(record.ref, follow: follow, tailLines: tail)
        } catch let error as RuntimeError {
            throw KnotError.conflict("no logs for \(record.name) here: \(error.message)", code: "no_logs")
        }
        let headers: HTTPFields = [
            .contentType: "text/plain; charset=utf-8", .cacheControl: "no-store", HTTPField.Name("X-Accel-Buffering")!: "no",
        ]
        guard follow else {
            var text = ""
            for try await line in lines { text += line + "\n" }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        let body = ResponseBody { writer in
            let (output, input) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
            let pump = Task {
                do { for try await line in lines { input.yield(line) } } catch {}
                input.finish()
            }
            defer { pump.cancel() }
            do {
                try await withGracefulShutdownHandler {
                    for await line in output { try await writer.write(ByteBuffer(string: line + "\n")) }
                } onGracefulShutdown: {
                    pump.cancel()
                    input.finish()
                }
            } catch {
                // The client went away.
            }
            try? await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}
