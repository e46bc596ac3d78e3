import Foundation
import KnotErrors

/// The rules for names and addresses people choose. Usernames end up in DNS
/// names (`<service>-<user>.<domain>`), namespaces (`knot-<user>`) and paths,
/// so they are short lowercase DNS labels, and a few are reserved.
enum UserValidation {
    static let reserved: Set<String> = [
        "root", "system", "default", "kube", "knot", "api", "auth", "www", "static", "assets",
        "public", "shared", "private", "internal", "admins", "nobody", "edge", "identity", "users",
        "launcher", "files", "dashboard", "teams", "messages", "audit", "me", "archive",
    ]

    static func checkUsername(_ name: String) throws {
        guard (2...32).contains(name.count) else {
            throw KnotError.badRequest("a username has 2 to 32 characters", code: "invalid_username")
        }
        let allowed = name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        guard allowed, let first = name.first, first.isLetter, name.last != "-", !name.contains("--") else {
            throw KnotError.badRequest(
                "a username is lowercase letters, digits and single hyphens, starting with a letter and not ending with a hyphen",
                code: "invalid_username")
        }
        guard !reserved.contains(name) else {
            throw KnotError.badRequest("the username \"\(name)\" is reserved", code: "invalid_username")
        }
    }

    static func checkEmail(_ email: String) throws {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard email.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
            !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
            email.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F })
        else {
            throw KnotError.badRequest("\"\(email.prefix(80))\" is not an email address", code: "invalid_email")
        }
    }

    static func checkFullName(_ name: String) throws {
        guard name.count <= 200, name.unicodeScalars.allSatisfy({ !CharacterSet.controlCharacters.contains($0) }) else {
            throw KnotError.badRequest("a full name has at most 200 characters and no control characters", code: "invalid_name")
        }
    }
}
