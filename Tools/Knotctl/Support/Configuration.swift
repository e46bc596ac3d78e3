import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What `knotctl login` stores: `$KNOT_CONFIG`, else `$XDG_CONFIG_HOME/knot/config.json`,
/// else `~/.config/knot/config.json`, written with mode 0600.
struct ConfigFile: Codable, Equatable, Sendable {
    var url: String?
    var token: String?
    var caFile: String?

    enum CodingKeys: String, CodingKey {
        case url, token
        case caFile = "ca_file"
    }

    /// Where the file lives for this environment.
    static func path(environment: [String: String]) -> String {
        if let explicit = environment["KNOT_CONFIG"], !explicit.isEmpty { return explicit }
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") { return xdg + "/knot/config.json" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + "/.config/knot/config.json"
    }

    /// The file, nil when there is none; a file that exists but does not parse is an error, not silently ignored.
    static func load(from path: String) throws -> ConfigFile? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do {
            return try JSONDecoder().decode(ConfigFile.self, from: data)
        } catch {
            throw KnotctlError("the configuration file \(path) is not valid JSON: \(error.localizedDescription)")
        }
    }

    /// Writes the file atomically with mode 0600 from the first byte (the token is a secret),
    /// creating its folder with 0700.
    func save(to path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(self)
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw KnotctlError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        fchmod(fd, 0o600)
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == data.count, synced == 0, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw KnotctlError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}

/// Where to reach Knot and as whom, after precedence: flags, then the
/// environment (`KNOT_URL`, `KNOT_TOKEN`, `KNOT_CA_FILE`: what Knot injects
/// into services), then the configuration file. Each value is taken on its
/// own, so `KNOT_TOKEN` in the environment and the URL from the file combine.
struct Settings: Equatable, Sendable {
    var url: String?
    var token: String?
    var caFile: String?
    /// Where each value came from, for `knotctl config` and error messages.
    var sources: [String: String] = [:]

    struct Flags: Equatable, Sendable {
        var url: String?
        var token: String?
        var caFile: String?
    }

    static func resolve(flags: Flags, environment: [String: String], file: ConfigFile?) -> Settings {
        var settings = Settings()
        func pick(_ key: String, _ flag: String?, _ variable: String, _ stored: String?) -> String? {
            if let flag, !flag.isEmpty {
                settings.sources[key] = "flag"
                return flag
            }
            if let value = environment[variable], !value.isEmpty {
                settings.sources[key] = "environment (\(variable))"
                return value
            }
            if let stored, !stored.isEmpty {
                settings.sources[key] = "configuration file"
                return stored
            }
            return nil
        }
        settings.url = pick("url", flags.url, "KNOT_URL", file?.url).map(normalisedURL)
        settings.token = pick("token", flags.token, "KNOT_TOKEN", file?.token)
        settings.caFile = pick("ca_file", flags.caFile, "KNOT_CA_FILE", file?.caFile)
        return settings
    }

    /// `https://knot.example.org/` and `https://knot.example.org` are the same place.
    static func normalisedURL(_ raw: String) -> String {
        var url = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    /// The URL, checked: http(s) with a host; anything else is a usage error.
    func requireURL() throws -> String {
        guard let url else {
            throw KnotctlError("no Knot address: run knotctl login --url URL, or set KNOT_URL", status: .unauthorised)
        }
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "https" || scheme == "http", let host = components.host, !host.isEmpty
        else {
            throw KnotctlError.usage("the Knot address must be an http(s) URL, not \"\(url.prefix(100))\"")
        }
        guard components.query == nil, components.fragment == nil else {
            throw KnotctlError.usage("the Knot address must not have a query or fragment")
        }
        return url
    }

    func requireToken() throws -> String {
        guard let token else {
            throw KnotctlError("not logged in: run knotctl login, or set KNOT_TOKEN", status: .unauthorised)
        }
        return token
    }
}
