import Foundation
import Hummingbird
import KnotErrors
import KnotServiceKit

/// Personal API tokens that the launcher asks for on a person's behalf, one
/// per running service, so that `knotctl` (or any script) inside the service
/// acts as its owner with no setup (`KNOT_TOKEN`, docs/knotctl.md).
///
/// - Only the launcher may call these (`Knot-Service-Token`, caller `launcher`).
/// - The token is an ordinary personal API token of the owner, named
///   `service:<name>`: it shows in the person's token list and they can revoke it.
/// - Each start of the service mints a fresh one and revokes the previous one
///   of the same name (so a token never outlives the process it was given to
///   by more than one start); deleting the service revokes it.
/// - The secret crosses the wire once, launcher ← identity, and is kept only
///   where the runtime hands it to the service (a Kubernetes Secret, or the
///   local process's environment), never in the launcher's database.
struct ServiceAPITokens: Sendable {
    let app: IdentityApp

    struct Request: Decodable {
        var username: String
        var service: String
    }

    struct Minted: Encodable {
        var id: UUID
        var name: String
        var token: String
        var expiresAt: Date
        enum CodingKeys: String, CodingKey {
            case id, name, token
            case expiresAt = "expires_at"
        }
    }

    /// The token's name in the person's list.
    static func tokenName(service: String) -> String { "service:" + service }

    func register(on internalAPI: RouterGroup<KnotRequestContext>) {
        internalAPI.post("service-tokens") { request, context in
            try requireLauncher(context)
            let body = try await request.decodeJSON(Request.self, limit: 4096)
            let (userID, name) = try await resolve(body)
            try await app.apiTokens.revoke(userID: userID, named: name)
            let token = try await app.apiTokens.create(userID: userID, .init(name: name, scope: "full", expiresInDays: 365))
            await app.audit(actor: "launcher", action: "token.create", subject: body.username, detail: "\(name) (service)")
            return JSONResponse(.created, Minted(id: token.id, name: name, token: token.token ?? "", expiresAt: token.expiresAt))
        }
        internalAPI.post("service-tokens/revoke") { request, context in
            try requireLauncher(context)
            let body = try await request.decodeJSON(Request.self, limit: 4096)
            let (userID, name) = try await resolve(body)
            let count = try await app.apiTokens.revoke(userID: userID, named: name)
            if count > 0 { await app.audit(actor: "launcher", action: "token.revoke", subject: body.username, detail: "\(name) (service)") }
            return JSONResponse(.ok, ["revoked": count])
        }
    }

    func requireLauncher(_ context: KnotRequestContext) throws {
        guard context.caller == "launcher" else { throw KnotError.forbidden("only the launcher asks for service tokens") }
    }

    /// The owner's id (an active account only) and the token's name (a valid service name).
    func resolve(_ body: Request) async throws -> (UUID, String) {
        let service = body.service
        guard !service.isEmpty, service.count <= 63,
            service.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" })
        else { throw KnotError.badRequest("service must be a service name (a-z, 0-9, -)", code: "invalid_name") }
        guard let user = try await app.directory.byName(body.username), user.active else {
            throw KnotError.notFound("no active user \"\(body.username.prefix(64))\"")
        }
        return (user.id, Self.tokenName(service: service))
    }
}
