import Foundation
import KnotErrors
import Yams

/// Clients described by the deployment (`KNOT_OIDC_CLIENTS_FILE`, YAML or
/// JSON): applied at every start-up, so the file is the truth for them; they
/// are marked `configured` and the admin API will not change them.
struct ClientsFile: Sendable {
    struct Document: Decodable {
        var clients: [ClientRegistration]
    }

    let path: String

    /// Reads and validates every entry; any error names the entry and stops start-up.
    func load() throws -> [OAuthClient] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw KnotError.badRequest("cannot read the clients file \(path)")
        }
        let document: Document
        do {
            document = try YAMLDecoder().decode(Document.self, from: text)
        } catch {
            throw KnotError.badRequest("the clients file \(path) is not valid: \(error)")
        }
        var seen: Set<String> = []
        return try document.clients.map { registration in
            guard seen.insert(registration.clientID).inserted else {
                throw KnotError.badRequest("the clients file lists \(registration.clientID) twice")
            }
            do {
                var client = try registration.validated(configured: true)
                if !client.isPublic {
                    let secret = try secret(of: registration)
                    guard secret.count >= 16 else {
                        throw KnotError.badRequest("the secret must have at least 16 characters")
                    }
                    client.secretHash = OAuthClient.digest(secret)
                } else if registration.secret != nil || registration.secretFile != nil {
                    throw KnotError.badRequest("a public client has no secret")
                }
                return client
            } catch let error as KnotError {
                throw KnotError.badRequest("client \(registration.clientID) in \(path): \(error.message)")
            }
        }
    }

    func secret(of registration: ClientRegistration) throws -> String {
        if let secret = registration.secret, registration.secretFile == nil { return secret }
        if let file = registration.secretFile, registration.secret == nil {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw KnotError.badRequest("cannot read secret_file \(file)")
            }
            return text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        throw KnotError.badRequest("give exactly one of secret or secret_file (or public: true)")
    }
}
