import Foundation
import KnotErrors
import KnotServiceKit
import ServiceLifecycle

@main
struct IdentityMain {
    static func main() async throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let host = try await ServiceHost.bootstrap(service: "identity", logToStandardError: arguments.first == "create-admin")
        let environment = ProcessInfo.processInfo.environment
        let app = IdentityApp(
            host: host,
            keys: SigningKeys(database: host.database, secret: host.settings.internalSecret),
            passwords: Passwords(cost: UInt8(environment["KNOT_BCRYPT_COST"].flatMap(Int.init).map { min(max($0, 4), 16) } ?? 12)),
            sessionLifetime: TimeInterval(environment["KNOT_SESSION_HOURS"].flatMap(Int.init).map { max($0, 1) } ?? 12) * 3600,
            verdictCacheSeconds: environment["KNOT_SESSION_CACHE_SECONDS"].flatMap(Int.init).map { min(max($0, 0), 30) } ?? 5)

        if arguments.first == "create-admin" {
            exit(await CreateAdminCommand(app: app, arguments: Array(arguments.dropFirst())).run())
        }
        try await host.run(
            app.makeApplication(),
            background: [host.migrationService(IdentitySchema.migrations) { try await app.keys.load() }])
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
