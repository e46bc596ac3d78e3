import Foundation
import KnotModels
import NIOHTTP1

/// The credentials a request carries: Knot's session cookie, and for APIs a personal API token.
enum Credentials {
    /// The value of `knot_session` among all `Cookie` headers (HTTP/2 may split them).
    static func sessionToken(_ headers: HTTPHeaders) -> String? {
        for header in headers["cookie"] {
            if let token = sessionToken(inCookieHeader: header) { return token }
        }
        return nil
    }

    /// One pass over the bytes of a `Cookie` header, without splitting it into arrays.
    static func sessionToken(inCookieHeader header: String) -> String? {
        let name = Array(SessionCookie.name.utf8)
        let bytes = header.utf8
        var index = bytes.startIndex
        while index < bytes.endIndex {
            // Skip separators and spaces before a cookie's name.
            while index < bytes.endIndex, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: ";") || bytes[index] == UInt8(ascii: "\t") {
                index = bytes.index(after: index)
            }
            let pairStart = index
            while index < bytes.endIndex, bytes[index] != UInt8(ascii: ";") { index = bytes.index(after: index) }
            let pair = header.utf8[pairStart..<index]
            guard let equals = pair.firstIndex(of: UInt8(ascii: "=")) else { continue }
            var key = pair[pair.startIndex..<equals]
            while key.last == UInt8(ascii: " ") || key.last == UInt8(ascii: "\t") { key = key.dropLast() }
            guard key.elementsEqual(name) else { continue }
            var value = pair[pair.index(after: equals)...]
            while value.first == UInt8(ascii: " ") { value = value.dropFirst() }
            while value.last == UInt8(ascii: " ") || value.last == UInt8(ascii: "\t") { value = value.dropLast() }
            return value.isEmpty ? nil : String(Substring(value))
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
