import Foundation
import Hummingbird
import KnotConfig
import KnotRuntime
import KnotServiceKit
import Logging
import XCTest

@testable import KnotFiles
@testable import KnotIdentity
@testable import KnotLauncher
@testable import KnotUsers

/// Each service's OpenAPI document against the routes its router really
/// registers under `/api/v1/`, both ways: a route added without documenting
/// it fails here, and so does a documented operation that no longer exists.
/// The routers are built by the same `makeRouter()` production calls; nothing
/// listens and no database is touched (PostgreSQL clients connect lazily).
final class OpenAPIRouteTests: XCTestCase {
    func testIdentityDocumentMatchesItsRoutes() async throws {
        let host = try await Self.host("identity")
        let app = try await Self.identityApp(host)
        try compare(app.makeRouter(), IdentityOpenAPI.document, area: "identity")
    }

    func testUsersDocumentMatchesItsRoutes() async throws {
        let host = try await Self.host("users")
        let app = UsersApp(host: host, runtime: Self.runtime(host))
        try compare(app.makeRouter(), UsersOpenAPI.document, area: "users")
    }

    func testLauncherDocumentMatchesItsRoutes() async throws {
        let host = try await Self.host("launcher")
        let templates = TemplateCatalogue(base: [], files: nil, logger: host.logger)
        let app = LauncherApp(
            host: host, runtime: Self.runtime(host), templates: templates, settings: try LauncherSettings(environment: [:]))
        try compare(app.makeRouter(), LauncherOpenAPI.document, area: "launcher")
    }

    func testFilesDocumentMatchesItsRoutes() async throws {
        let host = try await Self.host("files")
        let app = FilesApp(host: host, operations: FileOperations(maxUploadBytes: 1 << 20))
        try compare(app.makeRouter(), FilesOpenAPI.document, area: "files")
    }

    /// Issue 11: the files service also serves the images area, with its own document.
    func testImagesDocumentMatchesItsRoutes() async throws {
        let host = try await Self.host("files")
        let app = FilesApp(host: host, operations: FileOperations(maxUploadBytes: 1 << 20))
        try compare(app.makeRouter(), ImagesOpenAPI.document, area: "images")
    }

    /// The comparison itself must notice a route nobody documented.
    func testAnUndocumentedRouteIsCaught() async throws {
        let host = try await Self.host("users")
        let router = UsersApp(host: host, runtime: Self.runtime(host)).makeRouter()
        router.get("/api/v1/users/undocumented") { _, _ in "x" }
        let missing = Self.registered(router).subtracting(try UsersOpenAPI.document.operations())
        XCTAssertTrue(missing.contains(.init(method: "GET", path: "/api/v1/users/undocumented")), "\(missing)")
    }

    func testEveryDocumentIsOpenAPI3WithTheErrorShape() throws {
        for (area, document) in [
            ("identity", IdentityOpenAPI.document), ("users", UsersOpenAPI.document),
            ("launcher", LauncherOpenAPI.document), ("files", FilesOpenAPI.document), ("images", ImagesOpenAPI.document),
        ] {
            let root = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(document.json.utf8)) as? [String: Any], area)
            XCTAssertTrue((root["openapi"] as? String)?.hasPrefix("3.") == true, area)
            let schemas = (root["components"] as? [String: Any])?["schemas"] as? [String: Any]
            XCTAssertNotNil(schemas?["Error"], "\(area) documents the KnotError shape")
            // Every operation answers something, and every $ref points at a schema that exists.
            let refs = Self.refs(in: root)
            for ref in refs {
                let name = String(ref.dropFirst("#/components/schemas/".count))
                XCTAssertTrue(ref.hasPrefix("#/components/") && (schemas?[name] != nil || !ref.hasPrefix("#/components/schemas/")), "\(area): \(ref)")
            }
        }
    }

    // MARK: helpers

    func compare(_ router: Router<KnotRequestContext>, _ document: OpenAPIDocument, area: String) throws {
        // One router may serve two areas (files and images): each document covers its own.
        let registered = Self.registered(router).filter { $0.path == "/api/v1/\(area)" || $0.path.hasPrefix("/api/v1/\(area)/") }
        let documented = try document.operations()
        XCTAssertFalse(registered.isEmpty, "\(area) registers no public routes")
        let undocumented = registered.subtracting(documented).sorted()
        let stale = documented.subtracting(registered).sorted()
        XCTAssertTrue(
            undocumented.isEmpty,
            "\(area): routes registered but not in Services/*/OpenAPI (add them to the document):\n  "
                + undocumented.map(\.description).joined(separator: "\n  "))
        XCTAssertTrue(
            stale.isEmpty,
            "\(area): operations in the document that the service does not register:\n  " + stale.map(\.description).joined(separator: "\n  "))
        for operation in documented {
            XCTAssertTrue(operation.path.hasPrefix("/api/v1/\(area)"), "\(area) documents \(operation) outside its area")
        }
    }

    /// (method, path template) of every route under `/api/v1/`, as Hummingbird keeps them.
    static func registered(_ router: Router<KnotRequestContext>) -> Set<OpenAPIDocument.Operation> {
        Set(
            router.routes
                .map { OpenAPIDocument.Operation(method: $0.method.rawValue, path: "\($0.path)") }
                .filter { $0.path.hasPrefix("/api/v1/") })
    }

    static func refs(in value: Any) -> [String] {
        if let object = value as? [String: Any] {
            return object.flatMap { key, value in key == "$ref" ? [(value as? String) ?? ""] : refs(in: value) }
        }
        if let array = value as? [Any] { return array.flatMap { refs(in: $0) } }
        return []
    }

    static func host(_ service: String) async throws -> ServiceHost {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("knot-openapi-\(UUID().uuidString)").path
        let settings = try KnotSettings(
            service: service,
            environment: KnotEnvironment([
                "KNOT_INTERNAL_SECRET": String(repeating: "s", count: 40), "KNOT_DATA_DIR": folder,
                "KNOT_DB_PORT": "1",
            ]))
        return await ServiceHost(settings: settings)
    }

    static func runtime(_ host: ServiceHost) -> any ServiceRuntime {
        LocalRuntime(logDirectory: host.settings.dataDirectory + "/logs", logger: host.logger)
    }

    /// Put together as `Services/Identity/Main.swift` does, with test lifetimes.
    static func identityApp(_ host: ServiceHost) async throws -> IdentityApp {
        let settings = host.settings
        let database = host.database
        let keys = SigningKeys(
            database: database, secret: settings.internalSecret, settings: .init(publishLead: 600, retention: 3600, rotateAfter: nil))
        let sessions = SessionStore(database: database, lifetime: 3600, idle: 600)
        let provider = OIDCProvider(
            settings: settings, issuer: settings.publicURL, keys: keys, clients: ClientRegistry(database: database),
            grants: GrantStore(database: database, codeLifetime: 60, offlineLifetime: 86400),
            revocations: RevocationList(database: database, horizon: 3600), sessions: sessions,
            directory: UserDirectory(users: host.client(for: "users")), pages: try await Pages(settings: settings, environment: [:]),
            csrf: CSRF(secret: settings.internalSecret), lifetimes: .init(accessToken: 600, idToken: 3600))
        return IdentityApp(
            host: host, keys: keys, passwords: Passwords(cost: 4), sessions: sessions,
            throttle: LoginThrottle(database: database, accountLimit: 5, addressLimit: 20), provider: provider,
            verdictCacheSeconds: 5, upstream: nil)
    }
}
