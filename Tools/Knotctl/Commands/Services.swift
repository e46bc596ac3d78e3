import ArgumentParser
import Foundation
import NIOCore
import NIOFoundationCompat

struct ServicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "services",
        abstract: "Launch and manage your services.",
        subcommands: [List.self, Create.self, Status.self, Logs.self, Stop.self, Start.self, Delete.self, Upgrade.self])

    static let base = "/api/v1/launcher/services"
    static func path(_ name: String) -> String { base + "/" + segment(name) }

    static let columns = [
        Column("NAME", "name"), Column("TEMPLATE", "template"), Column("VERSION", "template_version"),
        Column("STATUS", value: { row in
            let status = Output.cell(row["status"])
            let reason = Output.cell(row["reason"])
            return reason.isEmpty ? status : "\(status) (\(reason))"
        }),
        Column("URL", "url"),
    ]

    static func showRecord(_ record: [String: Any]) {
        Output.details(record, [
            ("name", "name"), ("template", "template"), ("version", "template_version"), ("status", "status"), ("reason", "reason"),
            ("message", "message"), ("url", "url"), ("ready", "ready_replicas"), ("desired", "desired_replicas"),
            ("restarts", "restarts"), ("public", "public"), ("created", "created_at"), ("started", "started_at"),
            ("upgrade to", "latest_version"),
        ])
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List your services.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let answer = try await global.withAPI { api in try await api.get(ServicesCommand.base) }
            try global.show(answer) { Output.table(list($0, "services"), ServicesCommand.columns) }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Launch a service from a template.",
            discussion: "Variables are KEY=value arguments: knotctl services create jupyter NAME=lab CPU=2")

        @OptionGroup var global: GlobalOptions
        @Argument(help: "The template's id (see knotctl templates list).") var template: String
        @Argument(help: "Template variables, KEY=value.") var variables: [String] = []
        @Option(help: "The service's name (the same as NAME=...).") var name: String?
        @Flag(help: "Wait until the service is ready (exit 1 if it fails).") var wait = false
        @Option(help: "How long --wait waits, in seconds.") var timeout: Int = 300

        func validate() throws {
            // The parser reports ValidationError as a usage error (exit 2).
            do { _ = try values() } catch let error as KnotctlError { throw ValidationError(error.message) }
        }

        func values() throws -> [String: String] {
            var values = try Assignments.parse(variables)
            if let name {
                if let given = values["NAME"], given != name { throw KnotctlError.usage("--name and NAME= disagree") }
                values["NAME"] = name
            }
            return values
        }

        func run() async throws {
            let values = try self.values()
            let (answer, final) = try await global.withAPI { api -> (APIClient.Answer, APIClient.Answer?) in
                let created = try await api.post(ServicesCommand.base, ["template": template, "values": values])
                guard wait else { return (created, nil) }
                let name = Output.cell(try created.object()["name"])
                return (created, try await ServicesCommand.waitReady(api, name: name, timeout: timeout))
            }
            let shown = final ?? answer
            try global.show(shown) { ServicesCommand.showRecord($0) }
            if let final, (try? final.object()["status"] as? String) != "ready" {
                throw KnotctlError("the service did not become ready: \(Output.cell(try final.object()["message"]))")
            }
        }
    }

    /// Polls the service until it is ready or failed (or the time is up); returns the last record.
    static func waitReady(_ api: APIClient, name: String, timeout: Int) async throws -> APIClient.Answer {
        let deadline = ContinuousClock.now + .seconds(timeout)
        while true {
            let answer = try await api.get(path(name))
            let status = try answer.object()["status"] as? String
            if status == "ready" || status == "failed" || ContinuousClock.now >= deadline { return answer }
            try await Task.sleep(for: .milliseconds(500))
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one service, with its live status.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The service's name.") var name: String

        func run() async throws {
            let answer = try await global.withAPI { api in try await api.get(ServicesCommand.path(name)) }
            try global.show(answer) { ServicesCommand.showRecord($0) }
        }
    }

    struct Logs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a service's output (-f to keep following it).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The service's name.") var name: String
        @Flag(name: [.short, .long], help: "Keep printing new lines until interrupted.") var follow = false
        @Option(help: "How many of the last lines to print first.") var tail: Int = 1000

        func validate() throws {
            guard tail >= 0 else { throw ValidationError("--tail must be 0 or more") }
        }

        func run() async throws {
            try await global.withAPI { api in
                var query = [("tail", String(tail))]
                if follow { query.append(("follow", "1")) }
                let logs = api.request(.GET, ServicesCommand.path(name) + "/logs", query: query)
                let response = try await api.stream(logs, timeout: follow ? nil : .seconds(120))
                for try await chunk in response.body {
                    FileHandle.standardOutput.write(Data(buffer: chunk))
                }
            }
        }
    }

    /// stop, start, delete, upgrade: one POST (or DELETE) on the named service.
    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a service (it keeps its address and can be started again).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The service's name.") var name: String
        func run() async throws { try await ServicesCommand.action(global, name, "stop") }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a stopped service.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The service's name.") var name: String
        @Flag(help: "Wait until the service is ready (exit 1 if it fails).") var wait = false
        @Option(help: "How long --wait waits, in seconds.") var timeout: Int = 300
        func run() async throws { try await ServicesCommand.action(global, name, "start", wait: wait ? timeout : nil) }
    }

    struct Upgrade: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Re-launch a service with its template's newer version, keeping its values.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The service's name.") var name: String
        func run() async throws { try await ServicesCommand.action(global, name, "upgrade") }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a service.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The service's name.") var name: String

        func run() async throws {
            let answer = try await global.withAPI { api in try await api.delete(ServicesCommand.path(name)) }
            try global.show(answer) { _ in Output.line("Deleted \(name)") }
        }
    }

    static func action(_ global: GlobalOptions, _ name: String, _ verb: String, wait: Int? = nil) async throws {
        let answer = try await global.withAPI { api -> APIClient.Answer in
            let answer = try await api.post(path(name) + "/" + verb)
            guard let wait else { return answer }
            return try await waitReady(api, name: name, timeout: wait)
        }
        try global.show(answer) { showRecord($0) }
        if wait != nil, (try? answer.object()["status"] as? String) != "ready" {
            throw KnotctlError("the service did not become ready: \(Output.cell(try answer.object()["message"]))")
        }
    }
}
