import AsyncHTTPClient
import Crypto
import Foundation
import KnotConfig
import KnotErrors
import NIOCore
import NIOHTTP1
import NIOSSL
import ServiceLifecycle
import Synchronization

/// Where the image registry is and how Knot signs in to it.
/// `KNOT_REGISTRY_API_URL` is the Registry v2 API base (https://harbor.example.org);
/// not `KNOT_REGISTRY_URL`, which the launcher uses as the image-name prefix.
struct RegistrySettings: Sendable {
    var apiURL: String
    var username: String?
    var password: String?
    var caFile: String?

    static func fromEnvironment(_ env: KnotEnvironment = KnotEnvironment()) throws -> RegistrySettings? {
        let url = env.string("KNOT_REGISTRY_API_URL", default: "").trimmingCharacters(in: .whitespaces)
        guard !url.isEmpty else { return nil }
        guard let parsed = URL(string: url), parsed.scheme == "http" || parsed.scheme == "https", parsed.host != nil else {
            throw ConfigurationError(key: "KNOT_REGISTRY_API_URL", problem: "must be an http:// or https:// address")
        }
        var settings = RegistrySettings(apiURL: String(url.reversed().drop { $0 == "/" }.reversed()))
        let username = env.string("KNOT_REGISTRY_USERNAME", default: "")
        if !username.isEmpty {
            settings.username = username
            let file = env.string("KNOT_REGISTRY_PASSWORD_FILE", default: "")
            guard !file.isEmpty, let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ConfigurationError(key: "KNOT_REGISTRY_PASSWORD_FILE", problem: "must name a readable file when KNOT_REGISTRY_USERNAME is set")
            }
            settings.password = text.trimmingCharacters(in: .newlines)
        }
        let ca = env.string("KNOT_REGISTRY_CA_FILE", default: "")
        if !ca.isEmpty { settings.caFile = ca }
        return settings
    }

    /// What the dashboard shows: the host (and port), never credentials.
    var displayHost: String {
        guard let url = URL(string: apiURL), let host = url.host else { return apiURL }
        return url.port.map { "\(host):\($0)" } ?? host
    }
}

/// A small Registry v2 (distribution) client: catalog, tags, manifests,
/// blob existence and upload. Signs in with basic auth, or follows the
/// bearer-token challenge (`WWW-Authenticate: Bearer realm=…,service=…,scope=…`)
/// as Harbor and Docker Hub ask, caching each scope's token until it is refused.
final class RegistryClient: Sendable {
    let settings: RegistrySettings
    let http: HTTPClient
    private let tokens = Mutex<[String: String]>([:])

    static let manifestTypes = [
        ImageArchive.MediaType.ociManifest, ImageArchive.MediaType.dockerManifest,
        ImageArchive.MediaType.ociIndex, ImageArchive.MediaType.dockerList,
    ]

    init(settings: RegistrySettings) throws {
        self.settings = settings
        var configuration = HTTPClient.Configuration()
        // Redirects are followed by hand (blob downloads only), never carrying credentials elsewhere.
        configuration.redirectConfiguration = .disallow
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(120))
        if let ca = settings.caFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.additionalTrustRoots = [.file(ca)]
            configuration.tlsConfiguration = tls
        }
        // Lives as long as the process (one per files service).
        http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    struct Answer: Sendable {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        var body: ByteBuffer
        var data: Data { Data(buffer: body) }
    }

    enum Body {
        case none
        case bytes(ByteBuffer)
        /// Sent once: the token is fetched beforehand by a request of the same scope.
        case stream(BlobStream)
    }

    static func readScope(_ repository: String) -> String { "repository:\(repository):pull" }
    static func pushScope(_ repository: String) -> String { "repository:\(repository):pull,push" }
    static func deleteScope(_ repository: String) -> String { "repository:\(repository):delete" }

    // MARK: the Registry v2 calls

    /// Every repository (paged by the registry's `Link` header, at most 20 000).
    func catalog() async throws -> [String] {
        struct Page: Decodable { var repositories: [String]? }
        var names: [String] = []
        var next: String? = "/v2/_catalog?n=1000"
        var pages = 0
        while let path = next, pages < 20 {
            let answer = try await send(.GET, path, scope: "registry:catalog:*", limit: 8 << 20)
            try expect(answer, [.ok], what: "the catalog")
            names += (try? JSONDecoder().decode(Page.self, from: answer.data))?.repositories ?? []
            next = Self.nextLink(answer.headers)
            pages += 1
        }
        return names
    }

    func tags(_ repository: String) async throws -> [String] {
        struct Page: Decodable { var tags: [String]? }
        var tags: [String] = []
        var next: String? = "/v2/\(repository)/tags/list?n=1000"
        var pages = 0
        while let path = next, pages < 20 {
            let answer = try await send(.GET, path, scope: Self.readScope(repository), limit: 8 << 20)
            try expect(answer, [.ok], what: "the repository \(repository)")
            tags += (try? JSONDecoder().decode(Page.self, from: answer.data))?.tags ?? []
            next = Self.nextLink(answer.headers)
            pages += 1
        }
        return tags
    }

    struct Manifest: Sendable {
        var body: Data
        var mediaType: String
        var digest: String
    }

    func manifest(_ repository: String, _ reference: String) async throws -> Manifest {
        let answer = try await send(
            .GET, "/v2/\(repository)/manifests/\(reference)", scope: Self.readScope(repository),
            headers: [("Accept", Self.manifestTypes.joined(separator: ", "))], limit: Int(ImageArchive.maxJSONBytes))
        try expect(answer, [.ok], what: "\(repository):\(reference)")
        let digest = "sha256:" + ImageArchive.hex(SHA256Digest.of(answer.data))
        return Manifest(
            body: answer.data, mediaType: answer.headers.first(name: "Content-Type") ?? "application/octet-stream",
            digest: answer.headers.first(name: "Docker-Content-Digest") ?? digest)
    }

    /// The digest a tag points at (HEAD, as deletes need a digest).
    func manifestDigest(_ repository: String, _ reference: String, scope: String) async throws -> String {
        let answer = try await send(
            .HEAD, "/v2/\(repository)/manifests/\(reference)", scope: scope,
            headers: [("Accept", Self.manifestTypes.joined(separator: ", "))])
        try expect(answer, [.ok], what: "\(repository):\(reference)")
        guard let digest = answer.headers.first(name: "Docker-Content-Digest") else {
            throw KnotError(.badGateway, code: "registry_error", message: "the registry did not say which digest \(reference) is")
        }
        return digest
    }

    func deleteManifest(_ repository: String, digest: String) async throws {
        let answer = try await send(.DELETE, "/v2/\(repository)/manifests/\(digest)", scope: Self.deleteScope(repository))
        if answer.status == .methodNotAllowed {
            throw KnotError.conflict("the registry does not allow deleting images (distribution: storage.delete.enabled)", code: "delete_disabled")
        }
        try expect(answer, [.accepted, .ok, .noContent], what: "\(repository)@\(digest)")
    }

    func blobExists(_ repository: String, _ digest: String) async throws -> Bool {
        let answer = try await send(.HEAD, "/v2/\(repository)/blobs/\(digest)", scope: Self.pushScope(repository))
        if answer.status == .notFound { return false }
        try expect(answer, [.ok], what: "the blob \(digest)")
        return true
    }

    /// A small blob (an image config), following one redirect without credentials.
    func smallBlob(_ repository: String, _ digest: String, limit: Int) async throws -> Data {
        let answer = try await send(.GET, "/v2/\(repository)/blobs/\(digest)", scope: Self.readScope(repository), limit: limit)
        if [.temporaryRedirect, .found, .seeOther, .movedPermanently, .permanentRedirect].contains(answer.status),
            let location = answer.headers.first(name: "Location")
        {
            var request = HTTPClientRequest(url: resolve(location))
            request.method = .GET
            let response = try await http.execute(request, timeout: .seconds(30))
            guard response.status == .ok else { throw KnotError(.badGateway, code: "registry_error", message: "the registry's blob store answered \(response.status.code)") }
            return Data(buffer: try await response.body.collect(upTo: limit))
        }
        try expect(answer, [.ok], what: "the blob \(digest)")
        return answer.data
    }

    /// One blob, monolithically: POST opens an upload session, one PUT with
    /// `?digest=` carries the whole stream, which the registry checks again.
    func uploadBlob(_ repository: String, _ stream: BlobStream) async throws {
        let scope = Self.pushScope(repository)
        let start = try await send(.POST, "/v2/\(repository)/blobs/uploads/", scope: scope, headers: [("Content-Length", "0")])
        try expect(start, [.accepted], what: "the upload to \(repository)")
        guard let location = start.headers.first(name: "Location") else {
            throw KnotError(.badGateway, code: "registry_error", message: "the registry opened an upload without saying where")
        }
        let url = resolve(location)
        let separator = url.contains("?") ? "&" : "?"
        let digest = stream.digest.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(.init(charactersIn: ":"))) ?? stream.digest
        let done = try await send(
            .PUT, url + separator + "digest=" + digest, scope: scope,
            headers: [("Content-Type", "application/octet-stream")], body: .stream(stream), timeout: .hours(6))
        try expect(done, [.created], what: "the blob \(stream.digest)")
    }

    func putManifest(_ repository: String, tag: String, _ body: Data, mediaType: String) async throws -> String? {
        let answer = try await send(
            .PUT, "/v2/\(repository)/manifests/\(tag)", scope: Self.pushScope(repository),
            headers: [("Content-Type", mediaType)], body: .bytes(ByteBuffer(data: body)))
        try expect(answer, [.created], what: "the manifest of \(repository):\(tag)")
        return answer.headers.first(name: "Docker-Content-Digest")
    }

    // MARK: transport and sign-in

    func resolve(_ location: String) -> String {
        if location.hasPrefix("http://") || location.hasPrefix("https://") { return location }
        return settings.apiURL + (location.hasPrefix("/") ? "" : "/") + location
    }

    /// Sends a request; on a bearer challenge, gets a token for `scope` and tries once more (replayable bodies only).
    func send(
        _ method: HTTPMethod, _ path: String, scope: String, headers: [(String, String)] = [], body: Body = .none,
        limit: Int = 1 << 20, timeout: TimeAmount = .seconds(60)
    ) async throws -> Answer {
        var attempt = 0
        while true {
            attempt += 1
            var request = HTTPClientRequest(url: resolve(path))
            request.method = method
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.headers.add(name: "User-Agent", value: "knot-files")
            if let token = tokens.withLock({ $0[scope] }) {
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
            } else if let basic = basicCredentials {
                request.headers.add(name: "Authorization", value: basic)
            }
            switch body {
            case .none: break
            case .bytes(let buffer): request.body = .bytes(buffer)
            case .stream(let stream): request.body = .stream(stream, length: .known(stream.size))
            }
            let response: HTTPClientResponse
            do {
                response = try await http.execute(request, timeout: timeout)
            } catch let error as KnotError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                throw KnotError(.badGateway, code: "registry_unreachable", message: "the image registry cannot be reached (\(Self.short(error)))")
            }
            if response.status == .unauthorized, attempt == 1, let challenge = response.headers.first(name: "WWW-Authenticate"),
                challenge.lowercased().hasPrefix("bearer")
            {
                if case .stream = body { break }
                try await fetchToken(challenge: challenge, scope: scope)
                continue
            }
            let collected: ByteBuffer
            do {
                collected = method == .HEAD ? ByteBuffer() : try await response.body.collect(upTo: limit)
            } catch {
                throw KnotError(.badGateway, code: "registry_error", message: "the registry's answer was larger than \(limit) bytes or broke off")
            }
            if response.status == .unauthorized { tokens.withLock { $0[scope] = nil } }
            return Answer(status: response.status, headers: response.headers, body: collected)
        }
        throw KnotError(.badGateway, code: "registry_refused", message: "the registry asked for a token in the middle of an upload")
    }

    var basicCredentials: String? {
        guard let username = settings.username, let password = settings.password else { return nil }
        return "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }

    /// The token flow of the Docker registry auth spec: GET realm?service=…&scope=…, with basic auth when configured.
    func fetchToken(challenge: String, scope: String) async throws {
        let parameters = Self.challengeParameters(challenge)
        guard let realm = parameters["realm"], let realmURL = URL(string: realm), realmURL.scheme == "https" || realmURL.scheme == "http" else {
            throw KnotError(.badGateway, code: "registry_refused", message: "the registry's sign-in challenge names no usable realm")
        }
        var components = URLComponents(url: realmURL, resolvingAgainstBaseURL: false)!
        var query = components.queryItems ?? []
        if let service = parameters["service"] { query.append(URLQueryItem(name: "service", value: service)) }
        query.append(URLQueryItem(name: "scope", value: parameters["scope"] ?? scope))
        components.queryItems = query
        var request = HTTPClientRequest(url: components.url!.absoluteString)
        if let basic = basicCredentials { request.headers.add(name: "Authorization", value: basic) }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(30))
        } catch {
            throw KnotError(.badGateway, code: "registry_unreachable", message: "the registry's token service cannot be reached (\(Self.short(error)))")
        }
        guard response.status == .ok else {
            throw KnotError(.badGateway, code: "registry_refused", message: "the registry's token service refused Knot's credentials (\(response.status.code))")
        }
        struct Token: Decodable {
            var token: String?
            var access_token: String?
        }
        let body = try await response.body.collect(upTo: 1 << 20)
        guard let decoded = try? JSONDecoder().decode(Token.self, from: Data(buffer: body)), let token = decoded.token ?? decoded.access_token else {
            throw KnotError(.badGateway, code: "registry_refused", message: "the registry's token service answered without a token")
        }
        tokens.withLock { $0[scope] = token }
    }

    /// `Bearer realm="…",service="…",scope="…"` → its parameters (quoted values may hold commas).
    static func challengeParameters(_ header: String) -> [String: String] {
        var result: [String: String] = [:]
        var rest = Substring(header.drop { $0 != " " })
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "," }
            guard let equals = rest.firstIndex(of: "=") else { break }
            let key = rest[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                let end = rest.firstIndex(of: "\"") ?? rest.endIndex
                value = String(rest[..<end])
                rest = end < rest.endIndex ? rest[rest.index(after: end)...] : ""
            } else {
                let end = rest.firstIndex(of: ",") ?? rest.endIndex
                value = String(rest[..<end])
                rest = rest[end...]
            }
            result[key] = value
        }
        return result
    }

    /// `Link: </v2/_catalog?last=x&n=1000>; rel="next"`.
    static func nextLink(_ headers: HTTPHeaders) -> String? {
        guard let link = headers.first(name: "Link"), link.contains("rel=\"next\""),
            let open = link.firstIndex(of: "<"), let close = link.firstIndex(of: ">"), open < close
        else { return nil }
        return String(link[link.index(after: open)..<close])
    }

    /// The registry's answer as Knot's error shape: its own code and message are passed on.
    func expect(_ answer: Answer, _ statuses: [HTTPResponseStatus], what: String) throws {
        guard !statuses.contains(answer.status) else { return }
        struct Errors: Decodable {
            struct Entry: Decodable { var code: String?; var message: String? }
            var errors: [Entry]?
        }
        let detail = (try? JSONDecoder().decode(Errors.self, from: answer.data))?.errors?.first
        let said = detail.map { " (\($0.code ?? "error"): \($0.message ?? ""))" } ?? ""
        switch answer.status {
        case .notFound:
            throw KnotError.notFound("\(what) does not exist in the registry")
        case .unauthorized, .forbidden:
            throw KnotError(.badGateway, code: "registry_refused", message: "the registry refused Knot's credentials for \(what)\(said)")
        case .badRequest:
            throw KnotError(.badGateway, code: "registry_rejected", message: "the registry rejected \(what)\(said)")
        default:
            throw KnotError(.badGateway, code: "registry_error", message: "the registry answered \(answer.status.code) for \(what)\(said)")
        }
    }

    static func short(_ error: any Error) -> String { String(String(describing: error).prefix(200)) }
}

enum SHA256Digest {
    static func of(_ data: Data) -> [UInt8] { Array(SHA256.hash(data: data)) }
}

/// Shuts the registry client's connection pool down when the service stops
/// (after the HTTP server, as the service group stops in reverse order).
struct RegistryClientService: Service {
    let client: RegistryClient

    func run() async throws {
        try? await gracefulShutdown()
        try? await client.http.shutdown()
    }
}
