import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat

struct TemplatesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "templates", abstract: "The template catalogue.", subcommands: [List.self, Get.self, Add.self, Delete.self])

    static let base = "/api/v1/launcher/templates"

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the templates you can launch.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let answer = try await global.withAPI { api in try await api.get(TemplatesCommand.base) }
            try global.show(answer) { object in
                Output.table(list(object, "templates"), [
                    Column("ID", "id"), Column("NAME", "name"), Column("VERSION", "version"), Column("SOURCE", "source"),
                    Column("AVAILABLE", value: { row in
                        row["available"] as? Bool == false
                            ? "no: " + Output.cell(row["unavailable_reason"] ?? row["problem"]) : "yes"
                    }),
                ])
                if let warning = object["warning"] as? String { Output.error("warning: \(warning)") }
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a template's YAML source (or, with --output json, its description and variables).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The template's id.") var id: String

        func run() async throws {
            let answer = try await global.withAPI { api in
                try await api.get(TemplatesCommand.base + "/" + segment(id), query: [("format", global.json ? "json" : "yaml")])
            }
            FileHandle.standardOutput.write(answer.body)
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a template (a Karvdash-style YAML file) to your private catalogue.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The template's YAML file (- for standard input).", completion: .file(extensions: ["yaml", "yml"])) var file: String
        @Option(help: "The id to save it under (default: made from the template's name).") var id: String?
        @Flag(help: "Replace a template of yours with the same id.") var overwrite = false

        func run() async throws {
            let data: Data
            if file == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let contents = FileManager.default.contents(atPath: file) else { throw KnotctlError("cannot read \(file)") }
                data = contents
            }
            guard data.count <= 256 << 10 else { throw KnotctlError("a template is at most 256 KiB") }
            let answer = try await global.withAPI { api in
                var query: [(String, String)] = []
                if let id { query.append(("id", id)) }
                if overwrite { query.append(("overwrite", "1")) }
                var request = api.request(.POST, TemplatesCommand.base, query: query)
                request.headers.add(name: "Content-Type", value: "application/yaml")
                request.body = .bytes(ByteBuffer(data: data))
                return try await api.send(request)
            }
            try global.show(answer) { object in Output.line("Added template \(Output.cell(object["id"])) (\(Output.cell(object["name"])))") }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete one of your own templates.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The template's id.") var id: String

        func run() async throws {
            let answer = try await global.withAPI { api in try await api.delete(TemplatesCommand.base + "/" + segment(id)) }
            try global.show(answer) { _ in Output.line("Deleted template \(id)") }
        }
    }
}
