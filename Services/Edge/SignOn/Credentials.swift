import Foundation
import KnotModels
import NIOHTTP1

/// The credentials a request carries: Knot's session cookie, and for APIs a personal API token.
enum Credentials {
    /// The value of `knot_session` among all `Cookie` headers (HTTP/2 may split them).
    static func sessionToken(_ headers: HTTPHeaders) -> String? {
        for header in headers["cookie"] {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop(while: { $0 == " " })
                guard let equals = trimmed.firstIndex(of: "=") else { continue }
                if trimmed[..<equals].trimmingTrailingSpaces == SessionCookie.name {
                    let value = trimmed[trimmed.index(after: equals)...].trimmingTrailingSpaces
                    return value.isEmpty ? nil : String(value)
                }
            }
        }
        return nil
    }

    /// `Authorization: Bearer knot_pat_…`; other bearer tokens are not Knot's to judge.
    static func apiToken(_ headers: HTTPHeaders) -> String? {
        guard let header = headers.first(name: "authorization"), header.utf8.count > 7, header.prefix(7).lowercased() == "bearer " else {
            return nil
        }
        let token = header.dropFirst(7).trimmingCharacters(in: .whitespaces)
        return token.hasPrefix("knot_pat_") ? token : nil
    }
}

extension Substring {
    var trimmingTrailingSpaces: Substring {
        var copy = self
        while copy.last == " " || copy.last == "\t" { copy = copy.dropLast() }
        return copy
    }
}
