import Crypto
import Foundation
import KnotAuth
import HTTPTypes
import Hummingbird

/// CSRF protection for identity's HTML forms: a random `knot_csrf` cookie
/// and, in each form, an HMAC of it under a key derived from the deployment
/// secret. A cross-site page can make a browser post a form, but it can
/// neither read the cookie nor compute the field.
struct CSRF: Sendable {
    static let cookieName = "knot_csrf"
    static let fieldName = "csrf"
    let key: SymmetricKey

    init(secret: String) {
        key = SymmetricKey(data: SHA256.hash(data: Data("knot-identity-csrf:\(secret)".utf8)))
    }

    func field(for cookie: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(cookie.utf8), using: key)
        return Base64URL.encode(Data(mac))
    }

    /// The token for a page, and the cookie to set when the browser has none yet.
    func issue(for request: Request) -> (field: String, setCookie: String?) {
        if let existing = request.cookies[Self.cookieName]?.value, existing.utf8.count == 43 {
            return (field(for: existing), nil)
        }
        let fresh = SecretToken.make()
        return (field(for: fresh), "\(Self.cookieName)=\(fresh); Path=/auth; HttpOnly; Secure; SameSite=Strict")
    }

    func isValid(_ submitted: String?, request: Request) -> Bool {
        guard let submitted, let cookie = request.cookies[Self.cookieName]?.value, cookie.utf8.count == 43 else { return false }
        return SecretToken.equal(field(for: cookie).utf8, submitted.utf8)
    }
}
