import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat

#if canImport(Glibc)
import Glibc
#endif

/// `knotctl files`: paths are `DOMAIN/PATH` with DOMAIN private, shared or admin.
struct FilesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "files",
        abstract: "Your files: private/…, shared/…, admin/… (administrators).",
        subcommands: [Ls.self, Get.self, Put.self, Mkdir.self, Mv.self, Rm.self, Share.self])

    struct Ls: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a folder (or describe a file).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "DOMAIN/PATH (default: private).") var path: String = "private"

        func run() async throws {
            let remote = try RemotePath(parsing: path)
            let (stat, entries, pages) = try await global.withAPI { api -> ([String: Any], [Any], [Data]) in
                let stat = try await api.get(remote.apiPath, query: [("stat", "1")]).object()
                guard stat["kind"] as? String == "folder" else { return (stat, [], []) }
                // Every page of the listing (10,000 entries each).
                var entries: [Any] = []
                var pages: [Data] = []
                var after: String?
                repeat {
                    var query = [("limit", "10000")]
                    if let after { query.append(("after", after)) }
                    let page = try await api.get(remote.apiPath, query: query)
                    let object = try page.object()
                    entries += object["entries"] as? [Any] ?? []
                    pages.append(page.body)
                    after = object["next"] as? String
                } while after != nil
                return (stat, entries, pages)
            }
            if stat["kind"] as? String != "folder" {
                if global.json { Output.json(object: stat) } else { Output.details(stat, [("name", "name"), ("kind", "kind"), ("size", "size"), ("modified", "modified")]) }
                return
            }
            if global.json {
                // One page: the API's answer as is; several: the same shape with every entry.
                if pages.count == 1 { Output.json(pages[0]) } else {
                    Output.json(object: ["domain": remote.domain, "path": remote.path, "entries": entries, "total": entries.count])
                }
                return
            }
            Output.table(entries.compactMap { $0 as? [String: Any] }, [
                Column("KIND", "kind"),
                Column("SIZE", value: { row in row["kind"] as? String == "file" ? Output.cell(row["size"]) : "-" }),
                Column("MODIFIED", "modified"), Column("NAME", "name"),
            ])
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Download a file (- as LOCAL writes to standard output).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "DOMAIN/PATH of the file.") var remote: String
        @Argument(help: "Where to save it (default: its name, here).", completion: .file()) var local: String?
        @Flag(help: "Replace LOCAL if it exists.") var force = false

        func run() async throws {
            let source = try RemotePath(parsing: remote)
            guard let name = source.name else { throw KnotctlError.usage("give a file, not a domain") }
            var target = local ?? name
            var isFolder: ObjCBool = false
            if target != "-", FileManager.default.fileExists(atPath: target, isDirectory: &isFolder), isFolder.boolValue {
                target += "/" + name
            }
            if target != "-" && !force && FileManager.default.fileExists(atPath: target) {
                throw KnotctlError("\(target) exists; add --force to replace it", status: .conflict)
            }
            let bytes = try await global.withAPI { api -> Int64 in
                let response = try await api.stream(api.request(.GET, source.apiPath), timeout: nil)
                let total = response.headers.first(name: "Content-Length").flatMap(Int64.init)
                let writer = try LocalWriter(target)
                let progress = ProgressBar(label: name, total: total, enabled: target != "-" && Output.stderrIsTerminal)
                var count: Int64 = 0
                do {
                    for try await chunk in response.body {
                        try writer.write(chunk)
                        count += Int64(chunk.readableBytes)
                        progress.set(count)
                    }
                    if let total, total != count { throw KnotctlError("the download stopped after \(count) of \(total) bytes") }
                    try writer.commit()
                } catch {
                    writer.abandon()
                    if let error = error as? KnotctlError { throw error }
                    throw KnotctlError("the download failed: \(APIClient.describe(error))")
                }
                progress.finish()
                return count
            }
            if target != "-" {
                if global.json { Output.json(object: ["path": source.display, "local": target, "size": bytes]) }
                else { Output.line("Saved \(source.display) to \(target) (\(Output.bytes(bytes)))") }
            }
        }
    }

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Upload a file (resumable: --resume continues an interrupted upload of the same file).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The local file.", completion: .file()) var local: String
        @Argument(help: "DOMAIN/PATH to upload to (ending in / : into that folder, under the local name).") var remote: String
        @Flag(help: "Continue an earlier, interrupted upload of this file to this path.") var resume = false
        @Flag(help: "Replace the remote file if it exists.") var overwrite = false
        @Option(name: .customLong("chunk-size"), help: "Bytes per request (e.g. 8M).") var chunkSize: String = "8M"
        @Option(name: .customLong("limit-rate"), help: "At most this many bytes per second (e.g. 2M).") var limitRate: String?

        func validate() throws {
            guard let size = Assignments.byteCount(chunkSize), size >= 1024 else { throw ValidationError("--chunk-size must be at least 1K") }
            _ = size
            if let limitRate, Assignments.byteCount(limitRate) == nil { throw ValidationError("--limit-rate must be a size like 512K or 2M") }
        }

        func run() async throws {
            var target = try RemotePath(parsing: remote)
            if remote.hasSuffix("/") || target.segments.isEmpty { target = target.appending((local as NSString).lastPathComponent) }
            let stateFolder = (global.configPath as NSString).deletingLastPathComponent + "/uploads"
            let outcome = try await global.withAPI { api in
                var uploader = Uploader(api: api, stateFolder: stateFolder)
                uploader.chunkSize = Assignments.byteCount(chunkSize)!
                uploader.rate = limitRate.flatMap(Assignments.byteCount)
                return try await uploader.upload(local: local, to: target, overwrite: overwrite, resume: resume)
            }
            if global.json {
                var object: [String: Any] = ["domain": target.domain, "path": target.path, "size": outcome.bytes]
                if let from = outcome.resumedFrom { object["resumed_from"] = from }
                Output.json(object: object)
            } else {
                let resumed = outcome.resumedFrom.map { " (resumed at byte \($0))" } ?? ""
                Output.line("Uploaded \(local) to \(target.display) (\(Output.bytes(outcome.bytes)))\(resumed)")
            }
        }
    }

    struct Mkdir: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a folder (and its parents).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "DOMAIN/PATH of the new folder.") var path: String

        func run() async throws {
            let remote = try RemotePath(parsing: path)
            let answer = try await global.withAPI { api in
                try await api.post("/api/v1/files/folders", ["domain": remote.domain, "path": remote.path])
            }
            try global.show(answer) { _ in Output.line("Made \(remote.display)") }
        }
    }

    struct Mv: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Move or rename a file or folder (also across domains).")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "DOMAIN/PATH to move.") var from: String
        @Argument(help: "DOMAIN/PATH it becomes.") var to: String
        @Flag(help: "Replace what is at the target.") var overwrite = false

        func run() async throws {
            let source = try RemotePath(parsing: from)
            let target = try RemotePath(parsing: to)
            let answer = try await global.withAPI { api in
                try await api.post("/api/v1/files/move", [
                    "from": ["domain": source.domain, "path": source.path], "to": ["domain": target.domain, "path": target.path],
                    "overwrite": overwrite,
                ] as [String: Any])
            }
            try global.show(answer) { _ in Output.line("Moved \(source.display) to \(target.display)") }
        }
    }

    struct Rm: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a file, or a folder with -r.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "DOMAIN/PATH to remove.") var path: String
        @Flag(name: [.short, .customLong("recursive")], help: "Remove a folder and everything in it.") var recursive = false

        func run() async throws {
            let remote = try RemotePath(parsing: path)
            guard !remote.segments.isEmpty else { throw KnotctlError.usage("a domain's root cannot be removed") }
            let answer = try await global.withAPI { api in
                try await api.delete(remote.apiPath, query: recursive ? [("recursive", "true")] : [])
            }
            try global.show(answer) { _ in Output.line("Removed \(remote.display)") }
        }
    }

    struct Share: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a read-only link to a file or folder that anyone with it can open.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "DOMAIN/PATH to share.") var path: String
        @Option(help: "Hours until the link stops working (1 to 2160).") var expires: Int = 168

        func run() async throws {
            let remote = try RemotePath(parsing: path)
            let answer = try await global.withAPI { api in
                try await api.post("/api/v1/files/shares", ["domain": remote.domain, "path": remote.path, "expires_in_hours": expires] as [String: Any])
            }
            try global.show(answer) { object in
                Output.line(Output.cell(object["url"]))
            }
        }
    }
}

/// Writes a download to a hidden file beside the target and renames it into
/// place only when complete, so an interrupted download never looks finished.
final class LocalWriter {
    let target: String
    let temporary: String?
    let handle: FileHandle

    init(_ target: String) throws {
        self.target = target
        if target == "-" {
            temporary = nil
            handle = FileHandle.standardOutput
            return
        }
        let folder = (target as NSString).deletingLastPathComponent
        let name = (target as NSString).lastPathComponent
        let temporary = (folder.isEmpty ? "" : folder + "/") + ".\(name).knotctl-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: nil, attributes: [.posixPermissions: 0o644]),
            let handle = FileHandle(forWritingAtPath: temporary)
        else { throw KnotctlError("cannot write \(target)") }
        self.temporary = temporary
        self.handle = handle
    }

    func write(_ buffer: ByteBuffer) throws {
        try handle.write(contentsOf: Data(buffer: buffer))
    }

    func commit() throws {
        guard let temporary else { return }
        try handle.synchronize()
        try handle.close()
        guard rename(temporary, target) == 0 else {
            unlink(temporary)
            throw KnotctlError("cannot write \(target): \(String(cString: strerror(errno)))")
        }
    }

    func abandon() {
        guard let temporary else { return }
        try? handle.close()
        unlink(temporary)
    }
}
