import Foundation
import Hummingbird
import KnotErrors
import KnotServiceKit

/// identity's public API under `/api/v1/identity` (through the edge, with an
/// identity assertion): OAuth clients and signing keys for admins, personal
/// API tokens for everyone, password resets for admins.
struct IdentityAPI: Sendable {
    let app: IdentityApp
    var provider: OIDCProvider { app.provider }
    var clients: ClientRegistry { provider.clients }

    /// A client as the API shows it, with its secret only when just made.
    struct ClientAnswer: Encodable {
        var client: OAuthClient
        var secret: String?
        func encode(to encoder: any Encoder) throws {
            try client.encode(to: encoder)
            var container = encoder.container(keyedBy: DynamicKey.self)
            if let secret { try container.encode(secret, forKey: DynamicKey("client_secret")) }
        }
    }

    func register(on api: RouterGroup<KnotRequestContext>) {
        let limit = app.host.settings.maxJSONBody

        api.get("session") { _, context in
            let identity = try context.requireIdentity()
            return JSONResponse(
                .ok, SessionInfo(username: identity.username, admin: identity.admin, actor: identity.act?.username, role: identity.role))
        }

        // Clients (admins).
        api.get("clients") { _, context in
            _ = try context.requireAdmin()
            return JSONResponse(.ok, ["clients": clients.all()])
        }
        api.post("clients") { request, context in
            let admin = try context.requireAdmin()
            let registration = try await request.decodeJSON(ClientRegistration.self, limit: limit)
            guard registration.secret == nil, registration.secretFile == nil else {
                throw KnotError.badRequest("Knot generates client secrets; leave secret out", code: "invalid_client_metadata")
            }
            var client = try registration.validated(configured: false)
            var secret: String?
            if !client.isPublic {
                secret = ClientRegistry.newSecret()
                client.secretHash = OAuthClient.digest(secret!)
            }
            try await clients.save(client, insertOnly: true)
            await app.audit(actor: admin.username, action: "client.create", subject: client.clientID)
            return JSONResponse(.created, ClientAnswer(client: client, secret: secret))
        }
        api.get("clients/:id") { _, context in
            _ = try context.requireAdmin()
            return JSONResponse(.ok, ClientAnswer(client: try existing(context)))
        }
        api.patch("clients/:id") { request, context in
            let admin = try context.requireAdmin()
            let current = try existing(context)
            guard !current.configured else {
                throw KnotError.conflict("this client comes from the configuration file; change it there", code: "configured")
            }
            var registration = try await request.decodeJSON(ClientRegistration.self, limit: limit)
            guard registration.clientID == current.clientID || registration.clientID.isEmpty else {
                throw KnotError.badRequest("client_id cannot change", code: "invalid_client_metadata")
            }
            guard registration.isPublic == nil || registration.isPublic == current.isPublic else {
                throw KnotError.badRequest("a client cannot change between public and confidential", code: "invalid_client_metadata")
            }
            registration.clientID = current.clientID
            let client = try registration.validated(existing: current, configured: false)
            try await clients.save(client, insertOnly: false)
            await app.audit(actor: admin.username, action: "client.update", subject: client.clientID)
            return JSONResponse(.ok, ClientAnswer(client: client))
        }
        api.delete("clients/:id") { _, context in
            let admin = try context.requireAdmin()
            let current = try existing(context)
            guard !current.configured else {
                throw KnotError.conflict("this client comes from the configuration file; remove it there", code: "configured")
            }
            try await clients.delete(current.clientID)
            try await provider.revocations.reload()
            await app.audit(actor: admin.username, action: "client.delete", subject: current.clientID)
            return JSONResponse(.ok, ["status": "deleted"])
        }
        api.post("clients/:id/secret") { _, context in
            let admin = try context.requireAdmin()
            var client = try existing(context)
            guard !client.isPublic else { throw KnotError.conflict("a public client has no secret", code: "public_client") }
            guard !client.configured else {
                throw KnotError.conflict("this client's secret comes from the configuration file", code: "configured")
            }
            let secret = ClientRegistry.newSecret()
            client.secretHash = OAuthClient.digest(secret)
            try await clients.save(client, insertOnly: false)
            await app.audit(actor: admin.username, action: "client.secret.rotate", subject: client.clientID)
            return JSONResponse(.ok, ClientAnswer(client: client, secret: secret))
        }

        // Signing keys (admins).
        api.get("keys") { _, context in
            _ = try context.requireAdmin()
            let ring = try provider.keys.ring()
            let keys = ring.keys.map { key in
                KeyInfo(
                    kid: key.kid, algorithm: key.algorithm.rawValue, createdAt: key.createdAt, useAfter: key.useAfter,
                    signing: ring.signing[key.algorithm]?.kid == key.kid)
            }
            return JSONResponse(.ok, ["keys": keys])
        }
        api.post("keys/rotate") { _, context in
            let admin = try context.requireAdmin()
            let kids = try await provider.keys.rotate()
            await app.audit(actor: admin.username, action: "keys.rotate", subject: "", detail: kids.joined(separator: " "))
            return JSONResponse(.ok, ["published": kids])
        }

        // Personal API tokens (everyone, for themselves).
        api.get("tokens") { _, context in
            let identity = try context.requireIdentity()
            return JSONResponse(.ok, ["tokens": try await app.apiTokens.list(userID: try subject(identity.userID))])
        }
        api.post("tokens") { request, context in
            let identity = try context.requireIdentity()
            let body = try await request.decodeJSON(APITokenStore.NewToken.self, limit: 4096)
            let token = try await app.apiTokens.create(userID: try subject(identity.userID), body)
            await app.audit(
                actor: identity.act?.username ?? identity.username, action: "token.create", subject: identity.username,
                detail: "\(token.name) (\(token.scope))")
            return JSONResponse(.created, token)
        }
        api.delete("tokens/:id") { _, context in
            let identity = try context.requireIdentity()
            guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)) else {
                throw KnotError.badRequest("the token id must be a UUID")
            }
            guard try await app.apiTokens.revoke(userID: try subject(identity.userID), id: id) else {
                throw KnotError.notFound("no such token")
            }
            await app.audit(actor: identity.act?.username ?? identity.username, action: "token.revoke", subject: identity.username)
            return JSONResponse(.ok, ["status": "revoked"])
        }

        // One's own password (the session making the change stays signed in).
        api.post("password") { request, context in
            let identity = try context.requireIdentity()
            guard identity.act == nil else { throw KnotError.forbidden("stop impersonating before changing a password") }
            let change = try await request.decodeJSON(IdentityApp.PasswordChange.self, limit: 8192)
            guard let user = try await app.directory.activeUser(try subject(identity.userID)) else { throw KnotError.unauthorized() }
            try await app.changePassword(
                of: user, change, keeping: identity.sid.flatMap(UUID.init(uuidString:)), address: FormInput.clientAddress(request))
            return JSONResponse(.ok, ["status": "changed"])
        }

        // Password reset (admins): a generated password, shown once; the person's sessions end.
        api.post("users/:username/password") { _, context in
            let admin = try context.requireAdmin()
            let username = try context.parameters.require("username")
            guard let user = try await app.directory.byName(username) else { throw KnotError.notFound("no user \"\(username.prefix(64))\"") }
            let password = Passwords.generate()
            try await app.credentials.set(userID: user.id, hash: try await app.passwords.hash(password))
            provider.revocations.add(families: try await app.sessions.revokeAll(userID: user.id, everything: false))
            await app.audit(actor: admin.username, action: "password.reset", subject: user.username)
            return JSONResponse(.ok, ["username": user.username, "password": password])
        }
    }

    struct SessionInfo: Encodable {
        var username: String
        var admin: Bool
        var actor: String?
        /// Acting as a team: the member's role in it.
        var role: String?
    }

    struct KeyInfo: Encodable {
        var kid: String
        var algorithm: String
        var createdAt: Date
        var useAfter: Date
        var signing: Bool
        enum CodingKeys: String, CodingKey {
            case kid, algorithm, signing
            case createdAt = "created_at"
            case useAfter = "use_after"
        }
    }

    func existing(_ context: KnotRequestContext) throws -> OAuthClient {
        let id = try context.parameters.require("id")
        guard let client = clients.client(id) else { throw KnotError.notFound("no client \"\(id.prefix(64))\"") }
        return client
    }

    func subject(_ id: UUID?) throws -> UUID {
        guard let id else { throw KnotError.unauthorized() }
        return id
    }
}
