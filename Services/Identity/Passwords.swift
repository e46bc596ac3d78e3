import Foundation
import HummingbirdBcrypt
import KnotErrors
import NIOPosix

/// bcrypt, from a maintained library, run off the event loops (it is slow on purpose).
struct Passwords: Sendable {
    let cost: UInt8

    static func check(_ password: String) throws {
        guard password.count >= 10 else {
            throw KnotError.badRequest("a password needs at least 10 characters", code: "weak_password")
        }
        // bcrypt reads only the first 72 bytes; longer ones would be silently truncated.
        guard password.utf8.count <= 72 else {
            throw KnotError.badRequest("a password can be at most 72 bytes long", code: "invalid_password")
        }
    }

    func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    func verify(_ password: String, hash: String) async throws -> Bool {
        guard password.utf8.count <= 72 else { return false }
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// Compared against when the account does not exist, so that the answer takes as long either way.
    static let decoyHash = Bcrypt.hash("knot-decoy-password", cost: 10)

    /// A readable generated password, for the first admin.
    static func generate() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        let groups = (0..<4).map { _ in String((0..<5).map { _ in alphabet.randomElement(using: &generator)! }) }
        return groups.joined(separator: "-")
    }
}
