import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The few calls of Harbor's REST API v2.0 that Knot makes, as Harbor's
/// system administrator (basic authentication; API calls with basic
/// authentication need no CSRF token). "Already there" (409) is success for
/// every create: Knot's calls converge like its Kubernetes applies.
struct HarborClient: Sendable {
    let base: String
    let username: String
    let password: String
    var http: HTTPClient = .shared
    var timeout: TimeAmount = .seconds(10)

    struct Failure: Error, CustomStringConvertible {
        var status: Int
        var detail: String
        var description: String { status == 0 ? "Harbor cannot be reached: \(detail)" : "Harbor answered \(status): \(detail)" }
    }

    struct User: Decodable, Sendable, Equatable {
        var userID: Int
        var username: String
        enum CodingKeys: String, CodingKey {
            case userID = "user_id"
            case username
        }
    }

    struct UserDetail: Decodable, Sendable {
        struct OIDC: Decodable, Sendable { var secret: String? }
        var userID: Int
        var username: String
        var oidcUserMeta: OIDC?
        enum CodingKeys: String, CodingKey {
            case userID = "user_id"
            case username
            case oidcUserMeta = "oidc_user_meta"
        }
    }

    /// `PUT /api/v2.0/configurations`: Harbor's own settings (here, OIDC sign-on).
    func configure(_ items: [String: HarborValue]) async throws {
        _ = try await send(.PUT, "configurations", body: try JSONEncoder().encode(items), expect: [200])
    }

    /// `POST /api/v2.0/projects`; true when made now, false when it was there.
    @discardableResult
    func ensureProject(_ name: String, isPublic: Bool) async throws -> Bool {
        struct Body: Encodable {
            var project_name: String
            var metadata: [String: String]
        }
        let status = try await send(
            .POST, "projects", body: try JSONEncoder().encode(Body(project_name: name, metadata: ["public": isPublic ? "true" : "false"])),
            expect: [201, 409])
        return status == 201
    }

    /// `POST /api/v2.0/projects/{name}/members`: 1 project admin, 2 developer, 3 guest, 4 maintainer.
    @discardableResult
    func ensureMember(project: String, username: String, role: Int) async throws -> Bool {
        struct Body: Encodable {
            struct Member: Encodable { var username: String }
            var role_id: Int
            var member_user: Member
        }
        let status = try await send(
            .POST, "projects/\(project.harborPathSegment)/members",
            body: try JSONEncoder().encode(Body(role_id: role, member_user: .init(username: username))), expect: [201, 409],
            headers: [("X-Is-Resource-Name", "true")])
        return status == 201
    }

    /// `GET /api/v2.0/users/search?username=`: a fuzzy search, so only an exact match counts.
    func findUser(_ username: String) async throws -> User? {
        let (_, body) = try await request(.GET, "users/search?username=\(username.harborQueryValue)&page_size=100", body: nil, expect: [200])
        let users = try decode([User].self, body)
        return users.first { $0.username == username }
    }

    /// `GET /api/v2.0/users/{id}`: the user's CLI secret is `oidc_user_meta.secret`.
    func cliSecret(userID: Int) async throws -> String? {
        let (_, body) = try await request(.GET, "users/\(userID)", body: nil, expect: [200])
        return try decode(UserDetail.self, body).oidcUserMeta?.secret.flatMap { $0.isEmpty ? nil : $0 }
    }

    // MARK: Plumbing

    private func decode<T: Decodable>(_ type: T.Type, _ bytes: ByteBuffer) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer: bytes))
        } catch {
            throw Failure(status: 200, detail: "an answer that is not a \(T.self)")
        }
    }

    @discardableResult
    private func send(
        _ method: HTTPMethod, _ path: String, body: Data?, expect: Set<Int>, headers: [(String, String)] = []
    ) async throws -> Int {
        try await request(method, path, body: body, expect: expect, headers: headers).status
    }

    private func request(
        _ method: HTTPMethod, _ path: String, body: Data?, expect: Set<Int>, headers: [(String, String)] = []
    ) async throws -> (status: Int, body: ByteBuffer) {
        var request = HTTPClientRequest(url: base + "api/v2.0/" + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Basic " + Data("\(username):\(password)".utf8).base64EncodedString())
        request.headers.add(name: "Accept", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: body))
        }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await http.execute(request, timeout: timeout)
            bytes = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw Failure(status: 0, detail: "\(error)")
        }
        let status = Int(response.status.code)
        guard expect.contains(status) else {
            // Harbor's errors: {"errors": [{"code": "...", "message": "..."}]}.
            let text = String(buffer: bytes).prefix(300)
            throw Failure(status: status, detail: "\(method) \(path): \(text)")
        }
        return (status, bytes)
    }
}

/// A value in Harbor's configuration body (strings and booleans are all Knot sets).
enum HarborValue: Encodable, Sendable, Equatable {
    case string(String), bool(Bool)
    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        }
    }
}

extension String {
    /// Harbor project and user names Knot sends are DNS labels; escaping keeps any other text in its segment.
    var harborPathSegment: String { addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "" }
    var harborQueryValue: String { addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "" }
}
