import Foundation
import KnotDatabase
import Logging
import KnotErrors
import KnotServiceKit
import ServiceLifecycle

@main
struct IdentityMain {
    static func main() async { await ServiceHost.exitOnFailure(service: "identity", start) }

    static func start() async throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let host = try await ServiceHost.bootstrap(service: "identity", logToStandardError: arguments.first == "create-admin")
        let environment = ProcessInfo.processInfo.environment
        func number(_ name: String, _ fallback: Int, _ range: ClosedRange<Int>) -> Int {
            environment[name].flatMap(Int.init).map { min(max($0, range.lowerBound), range.upperBound) } ?? fallback
        }
        let settings = host.settings
        let database = host.database
        let accessSeconds = TimeInterval(number("KNOT_OIDC_ACCESS_TOKEN_SECONDS", 600, 30...3600))
        let idSeconds = TimeInterval(number("KNOT_OIDC_ID_TOKEN_SECONDS", 3600, 60...86400))
        // No token outlives this, so revocations and retired keys need not be kept longer.
        let longestToken = max(accessSeconds, idSeconds, 3600)
        let keys = SigningKeys(
            database: database, secret: settings.internalSecret,
            settings: .init(
                publishLead: TimeInterval(number("KNOT_KEY_PUBLISH_SECONDS", 600, 0...86400)), retention: longestToken,
                rotateAfter: environment["KNOT_KEY_ROTATION_DAYS"].flatMap(Int.init).map { TimeInterval(max($0, 1)) * 86400 }))
        let sessions = SessionStore(
            database: database, lifetime: TimeInterval(number("KNOT_SESSION_HOURS", 12, 1...24 * 30)) * 3600,
            idle: TimeInterval(number("KNOT_SESSION_IDLE_MINUTES", 120, 5...24 * 60 * 30)) * 60)
        let clients = ClientRegistry(database: database)
        let revocations = RevocationList(database: database, horizon: longestToken)
        let grants = GrantStore(
            database: database, codeLifetime: TimeInterval(number("KNOT_OIDC_CODE_SECONDS", 60, 5...600)),
            offlineLifetime: TimeInterval(number("KNOT_OIDC_OFFLINE_DAYS", 30, 1...365)) * 86400)
        let provider = OIDCProvider(
            settings: settings, issuer: settings.publicURL, keys: keys, clients: clients, grants: grants, revocations: revocations,
            sessions: sessions, directory: UserDirectory(users: host.client(for: "users")),
            pages: try await Pages(settings: settings, environment: environment), csrf: CSRF(secret: settings.internalSecret),
            lifetimes: .init(accessToken: accessSeconds, idToken: idSeconds))
        var upstream: UpstreamLogin?
        if let issuer = environment["KNOT_UPSTREAM_ISSUER"], !issuer.isEmpty {
            do {
                guard let clientID = environment["KNOT_UPSTREAM_CLIENT_ID"], !clientID.isEmpty else {
                    throw KnotError.badRequest("KNOT_UPSTREAM_CLIENT_ID is required with KNOT_UPSTREAM_ISSUER")
                }
                let secret = try environment["KNOT_UPSTREAM_CLIENT_SECRET"]
                    ?? environment["KNOT_UPSTREAM_CLIENT_SECRET_FILE"].map {
                        guard let text = try? String(contentsOfFile: $0, encoding: .utf8) else {
                            throw KnotError.badRequest("cannot read KNOT_UPSTREAM_CLIENT_SECRET_FILE \($0)")
                        }
                        return text.trimmingCharacters(in: .whitespacesAndNewlines)
                    }
                guard let secret, !secret.isEmpty else {
                    throw KnotError.badRequest("KNOT_UPSTREAM_CLIENT_SECRET or KNOT_UPSTREAM_CLIENT_SECRET_FILE is required")
                }
                upstream = try UpstreamLogin(
                    settings: .init(
                        issuer: issuer, clientID: clientID, clientSecret: secret,
                        displayName: environment["KNOT_UPSTREAM_NAME"].flatMap { $0.isEmpty ? nil : $0 } ?? "single sign-on"),
                    publicURL: settings.publicURL, secret: settings.internalSecret)
            } catch let error as KnotError {
                FileHandle.standardError.write(Data("knot-identity: upstream login: \(error.message)\n".utf8))
                exit(2)
            }
        }
        let app = IdentityApp(
            host: host, keys: keys, passwords: Passwords(cost: UInt8(number("KNOT_BCRYPT_COST", 12, 4...16))), sessions: sessions,
            throttle: LoginThrottle(
                database: database, accountLimit: number("KNOT_LOGIN_ACCOUNT_LIMIT", 5, 1...1000),
                addressLimit: number("KNOT_LOGIN_ADDRESS_LIMIT", 20, 1...100_000)),
            provider: provider, verdictCacheSeconds: number("KNOT_SESSION_CACHE_SECONDS", 5, 0...30), upstream: upstream)

        if arguments.first == "create-admin" {
            exit(await CreateAdminCommand(app: app, arguments: Array(arguments.dropFirst())).run())
        }
        // A broken clients file stops start-up with one sentence, before anything listens.
        var configured: [OAuthClient] = []
        if let path = environment["KNOT_OIDC_CLIENTS_FILE"], !path.isEmpty {
            do {
                configured = try ClientsFile(path: path).load()
            } catch let error as KnotError {
                FileHandle.standardError.write(Data("knot-identity: \(error.message)\n".utf8))
                exit(2)
            }
        }
        let configuredClients = configured
        try await host.run(
            app.makeApplication(),
            background: [
                host.migrationService(IdentitySchema.migrations) {
                    try await keys.load()
                    try await clients.apply(configured: configuredClients)
                    try await revocations.reload()
                },
                ChannelListener(
                    database: database, channel: "knot_identity",
                    resync: {
                        try await clients.reload()
                        try await revocations.reload()
                    },
                    onNotify: { payload in
                        switch payload {
                        case "clients": try await clients.reload()
                        case "revocations": try await revocations.reload()
                        case "keys": try await keys.load()
                        default: break
                        }
                    }),
                IdentityMaintenance(keys: keys, grants: grants, revocations: revocations, logger: host.logger),
            ])
    }
}

/// Every minute: reload keys (another replica may have rotated) and rotate
/// when due, drop dead codes and families, reload the revocation list.
struct IdentityMaintenance: Service {
    let keys: SigningKeys
    let grants: GrantStore
    let revocations: RevocationList
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(30))
                guard (try? keys.ring()) != nil else { continue }
                do {
                    try await keys.maintain()
                    try await grants.sweep()
                    try await revocations.reload()
                } catch {
                    logger.warning("maintenance failed", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}

/// `knot-identity create-admin [--username NAME] [--email ADDRESS]`: creates
/// the first administrator with a generated password and prints only the
/// password on standard output. Exit status 0 created, 3 already there, 1 error.
struct CreateAdminCommand {
    let app: IdentityApp
    let arguments: [String]

    func run() async -> Int32 {
        var username = "admin"
        var email: String?
        var index = 0
        while index < arguments.count {
            let flag = arguments[index]
            let value = index + 1 < arguments.count ? arguments[index + 1] : nil
            switch (flag, value) {
            case ("--username", let v?): username = v
            case ("--email", let v?): email = v
            default:
                FileHandle.standardError.write(Data("usage: knot-identity create-admin [--username NAME] [--email ADDRESS]\n".utf8))
                return 2
            }
            index += 2
        }
        let host = app.host
        let database = host.database.client
        let pool = Task { await database.run() }
        defer { pool.cancel() }
        do {
            try await IdentitySchema.migrations.run(on: host.database)
            let password = try await app.createAdmin(
                username: username, email: email ?? "\(username)@\(host.settings.domain)")
            print(password)
            return 0
        } catch let error as KnotError where error.code == "exists" {
            FileHandle.standardError.write(Data("\(error.message)\n".utf8))
            return 3
        } catch {
            FileHandle.standardError.write(Data("create-admin failed: \(error)\n".utf8))
            return 1
        }
    }
}
