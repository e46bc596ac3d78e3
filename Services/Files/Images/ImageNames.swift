import KnotAuth
import KnotErrors

/// The distribution grammar for names, and who may see or push what.
/// With a plain registry Knot is the gatekeeper: a person sees repositories
/// under `<user>/` and the common `library/`, and pushes only under `<user>/`;
/// admins see and push anywhere. (Harbor's own projects and robot accounts
/// can narrow this further; Knot's credentials decide what it can reach.)
enum ImageNames {
    static let maxRepositoryLength = 255

    /// `path-component ("/" path-component)*`, each `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
    static func checkRepository(_ name: String) throws {
        guard !name.isEmpty, name.utf8.count <= maxRepositoryLength else {
            throw KnotError.badRequest("a repository name has 1 to \(maxRepositoryLength) characters", code: "invalid_repository")
        }
        for component in name.split(separator: "/", omittingEmptySubsequences: false) {
            guard isComponent(component) else {
                throw KnotError.badRequest(
                    "\"\(name.prefix(80))\" is not a repository name: lowercase letters and digits in parts separated by /, joined inside a part by ., _, __ or dashes",
                    code: "invalid_repository")
            }
        }
    }

    static func isComponent(_ part: Substring) -> Bool {
        let bytes = Array(part.utf8)
        func alnum(_ byte: UInt8) -> Bool { (0x61...0x7a).contains(byte) || (0x30...0x39).contains(byte) }
        guard let first = bytes.first, let last = bytes.last, alnum(first), alnum(last) else { return false }
        var index = 0
        while index < bytes.count {
            if alnum(bytes[index]) { index += 1; continue }
            // A separator run: ".", "_", "__" or one or more "-", always followed by an alphanumeric.
            var end = index
            while end < bytes.count && !alnum(bytes[end]) { end += 1 }
            let run = bytes[index..<end]
            let ok = run.elementsEqual([0x2e]) || run.elementsEqual([0x5f]) || run.elementsEqual([0x5f, 0x5f]) || run.allSatisfy { $0 == 0x2d }
            guard ok else { return false }
            index = end
        }
        return true
    }

    /// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    static func checkTag(_ tag: String) throws {
        let bytes = Array(tag.utf8)
        func word(_ byte: UInt8) -> Bool { (0x61...0x7a).contains(byte) || (0x41...0x5a).contains(byte) || (0x30...0x39).contains(byte) || byte == 0x5f }
        guard let first = bytes.first, word(first), bytes.count <= 128, bytes.allSatisfy({ word($0) || $0 == 0x2e || $0 == 0x2d }) else {
            throw KnotError.badRequest("\"\(tag.prefix(80))\" is not a tag: up to 128 letters, digits, _, . and -, not starting with . or -", code: "invalid_tag")
        }
    }

    static func isDigest(_ reference: String) -> Bool {
        reference.hasPrefix("sha256:") && reference.utf8.count == 71
            && reference.utf8.dropFirst(7).allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// A tag or a `sha256:` digest.
    static func checkReference(_ reference: String) throws {
        if reference.hasPrefix("sha256:") {
            guard isDigest(reference) else { throw KnotError.badRequest("a digest is sha256: and 64 lowercase hex digits", code: "invalid_reference") }
            return
        }
        try checkTag(reference)
    }

    static func mayRead(_ repository: String, _ identity: IdentityAssertion) -> Bool {
        identity.admin || repository.hasPrefix(identity.username + "/") || repository.hasPrefix("library/")
    }

    static func mayPush(_ repository: String, _ identity: IdentityAssertion) -> Bool {
        identity.admin || repository.hasPrefix(identity.username + "/")
    }
}
