import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

public enum PropagationPolicy: String, Sendable {
    case foreground = "Foreground", background = "Background", orphan = "Orphan"
}

/// A REST client for the Kubernetes API, written for what Knot does: typed
/// objects for the kinds it manages, untyped ones for whatever a template
/// holds, server-side apply as field manager `knot`, watches that survive
/// restarts and compaction, and pod logs. Copies share one connection pool.
public struct KubernetesClient: Sendable {
    let transport: Transport
    let discovery: Discovery
    /// Sent as `Impersonate-User`: Kubernetes RBAC then checks every call as that user.
    public private(set) var impersonatedUser: String?
    public var fieldManager = "knot"

    public init(
        configuration: KubernetesConfiguration, retry: RetryPolicy = .standard, requestTimeout: Duration = .seconds(30),
        logger: Logger = Logger(label: "knot.kubernetes")
    ) throws {
        transport = try Transport(configuration: configuration, retry: retry, requestTimeout: requestTimeout, logger: logger)
        discovery = Discovery()
    }

    public var configuration: KubernetesConfiguration { transport.configuration }

    /// The same connection, acting as another user (for example a namespace's service account).
    public func impersonating(_ user: String?) -> KubernetesClient {
        var copy = self
        copy.impersonatedUser = user
        return copy
    }

    public func shutdown() async throws { try await transport.shutdown() }

    func perform(_ request: APIRequest, timeout: Duration? = nil) async throws -> [UInt8] {
        try await transport.perform(request, impersonate: impersonatedUser, timeout: timeout)
    }

    func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw KubernetesDecodingError(description: "the API's answer is not a \(T.self): \(error)")
        }
    }

    // MARK: Server

    /// Checks that the server answers and accepts Knot's credentials (for `/readyz`).
    /// `/api` needs an authenticated caller, unlike `/version` or `/healthz`.
    public func checkAccess() async throws {
        // One quick attempt: a probe must answer within its own deadline, not after every retry.
        _ = try await transport.perform(APIRequest(method: .GET, path: "/api"), impersonate: nil, timeout: .seconds(3), retry: .once)
    }

    public struct ServerVersion: Decodable, Sendable {
        public var gitVersion: String
        public var major: String?
        public var minor: String?
    }

    public func serverVersion() async throws -> ServerVersion {
        try decode(ServerVersion.self, try await perform(APIRequest(method: .GET, path: "/version")))
    }

    // MARK: Typed objects

    public func get<T: KubernetesObject>(_ type: T.Type, _ name: String, namespace: String? = nil) async throws -> T {
        try decode(T.self, try await perform(APIRequest(method: .GET, path: T.resource.path(namespace: namespace, name: name))))
    }

    /// The object, or nil when there is none.
    public func getIfPresent<T: KubernetesObject>(_ type: T.Type, _ name: String, namespace: String? = nil) async throws -> T? {
        do {
            return try await get(type, name, namespace: namespace)
        } catch let error as KubernetesAPIError where error.isNotFound {
            return nil
        }
    }

    /// One page of a list. Pass the page's `continue` back to get the next.
    public func list<T: KubernetesObject>(
        _ type: T.Type, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil,
        limit: Int? = nil, continue token: String? = nil
    ) async throws -> ObjectList<T> {
        let query = Self.listQuery(labelSelector: labelSelector, fieldSelector: fieldSelector, limit: limit, continue: token)
        let bytes = try await perform(APIRequest(method: .GET, path: T.resource.path(namespace: namespace), query: query))
        return try decode(ObjectList<T>.self, bytes)
    }

    /// Every object, following `continue` through all pages.
    public func listAll<T: KubernetesObject>(
        _ type: T.Type, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil, pageSize: Int = 500
    ) async throws -> (items: [T], resourceVersion: String) {
        var items: [T] = []
        var token: String?
        while true {
            let page = try await list(
                type, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector, limit: pageSize, continue: token)
            items += page.items
            guard let next = page.metadata.continue, !next.isEmpty else {
                return (items, page.metadata.resourceVersion ?? "")
            }
            token = next
        }
    }

    public func create<T: KubernetesObject>(_ object: T, dryRun: Bool = false) async throws -> T {
        let body = try object.unstructured().raw.jsonData()
        var query = [("fieldManager", fieldManager)]
        if dryRun { query.append(("dryRun", "All")) }
        let request = APIRequest(
            method: .POST, path: T.resource.path(namespace: object.metadata.namespace), query: query, body: Array(body))
        return try decode(T.self, try await perform(request))
    }

    /// Server-side apply: the object states everything Knot wants of it;
    /// fields Knot set before and leaves out now are removed. `force` takes
    /// fields over from other managers: Knot owns what it applies.
    public func apply<T: KubernetesObject>(_ object: T, force: Bool = true, dryRun: Bool = false) async throws -> T {
        let applied = try await apply(try object.unstructured(), resource: T.resource, force: force, dryRun: dryRun)
        return try applied.decode(as: T.self)
    }

    /// RFC 7386 JSON merge patch: for changing a few fields (a scale, an annotation).
    public func mergePatch<T: KubernetesObject>(
        _ type: T.Type, _ name: String, namespace: String? = nil, patch: JSONValue
    ) async throws -> T {
        try await mergePatch(T.resource, name, namespace: namespace, patch: patch).decode(as: T.self)
    }

    public func delete<T: KubernetesObject>(
        _ type: T.Type, _ name: String, namespace: String? = nil, propagation: PropagationPolicy? = .background
    ) async throws {
        try await delete(T.resource, name, namespace: namespace, propagation: propagation)
    }

    // MARK: Untyped objects

    /// The resource for an `apiVersion` and `kind`, through discovery for kinds Knot has no type for.
    public func resource(apiVersion: String, kind: String) async throws -> ResourceKind {
        try await discovery.resolve(apiVersion: apiVersion, kind: kind) { groupVersion in
            let path = groupVersion.contains("/") ? "/apis/\(groupVersion)" : "/api/\(groupVersion)"
            do {
                return try decode(Discovery.ResourceList.self, try await perform(APIRequest(method: .GET, path: path)))
            } catch let error as KubernetesAPIError where error.isNotFound {
                return nil
            }
        }
    }

    public func get(_ resource: ResourceKind, _ name: String, namespace: String? = nil) async throws -> UnstructuredObject {
        let bytes = try await perform(APIRequest(method: .GET, path: resource.path(namespace: namespace, name: name)))
        return try decode(UnstructuredObject.self, bytes)
    }

    public func list(
        _ resource: ResourceKind, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil
    ) async throws -> [UnstructuredObject] {
        var objects: [UnstructuredObject] = []
        var token: String?
        repeat {
            let query = Self.listQuery(labelSelector: labelSelector, fieldSelector: fieldSelector, limit: 500, continue: token)
            let bytes = try await perform(APIRequest(method: .GET, path: resource.path(namespace: namespace), query: query))
            let page = try decode(ObjectList<JSONValue>.self, bytes)
            for var item in page.items {
                // List items arrive without apiVersion and kind.
                item["apiVersion"] = .string(resource.apiVersion)
                item["kind"] = .string(resource.kind)
                objects.append(try UnstructuredObject(item))
            }
            token = page.metadata.continue.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return objects
    }

    /// Server-side apply of any object; its kind is resolved through discovery unless given.
    public func apply(
        _ object: UnstructuredObject, resource given: ResourceKind? = nil, force: Bool = true, dryRun: Bool = false
    ) async throws -> UnstructuredObject {
        let resource: ResourceKind
        if let given { resource = given } else { resource = try await self.resource(apiVersion: object.apiVersion, kind: object.kind) }
        guard let name = object.name, !name.isEmpty else {
            throw ManifestError("\(object.kind) has no metadata.name")
        }
        var query = [("fieldManager", fieldManager)]
        if force { query.append(("force", "true")) }
        if dryRun { query.append(("dryRun", "All")) }
        let request = APIRequest(
            method: .PATCH, path: resource.path(namespace: object.namespace, name: name), query: query,
            body: Array(try object.raw.jsonData()), contentType: "application/apply-patch+yaml")
        return try decode(UnstructuredObject.self, try await perform(request))
    }

    /// Merge patch of an object of any kind.
    public func mergePatch(_ resource: ResourceKind, _ name: String, namespace: String?, patch: JSONValue) async throws -> UnstructuredObject {
        let request = APIRequest(
            method: .PATCH, path: resource.path(namespace: namespace, name: name), query: [("fieldManager", fieldManager)],
            body: Array(try patch.jsonData()), contentType: "application/merge-patch+json")
        return try decode(UnstructuredObject.self, try await perform(request))
    }

    public func delete(
        _ resource: ResourceKind, _ name: String, namespace: String? = nil, propagation: PropagationPolicy? = .background
    ) async throws {
        var query: [(String, String)] = []
        if let propagation { query.append(("propagationPolicy", propagation.rawValue)) }
        _ = try await perform(APIRequest(method: .DELETE, path: resource.path(namespace: namespace, name: name), query: query))
    }

    /// Deletes and reports whether there was anything to delete; NotFound is not an error here.
    @discardableResult
    public func deleteIfPresent(
        _ resource: ResourceKind, _ name: String, namespace: String? = nil, propagation: PropagationPolicy? = .background
    ) async throws -> Bool {
        do {
            try await delete(resource, name, namespace: namespace, propagation: propagation)
            return true
        } catch let error as KubernetesAPIError where error.isNotFound {
            return false
        }
    }

    static func listQuery(labelSelector: String?, fieldSelector: String?, limit: Int?, continue token: String?) -> [(String, String)] {
        var query: [(String, String)] = []
        if let labelSelector, !labelSelector.isEmpty { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector, !fieldSelector.isEmpty { query.append(("fieldSelector", fieldSelector)) }
        if let limit { query.append(("limit", "\(limit)")) }
        if let token { query.append(("continue", token)) }
        return query
    }
}

/// Remembers which resource serves each `apiVersion`/`kind`, asking the
/// server once per group version (again on a miss: CRDs come and go).
actor Discovery {
    struct ResourceList: Decodable, Sendable {
        var groupVersion: String?
        var resources: [Entry]
    }

    struct Entry: Decodable, Sendable {
        var name: String
        var kind: String
        var namespaced: Bool
    }

    private var known: [String: [String: ResourceKind]] = [:]

    init() {
        for kind in ResourceKind.builtIn { known[kind.apiVersion, default: [:]][kind.kind] = kind }
    }

    func resolve(
        apiVersion: String, kind: String, fetch: @Sendable (String) async throws -> ResourceList?
    ) async throws -> ResourceKind {
        if let found = known[apiVersion]?[kind] { return found }
        let (group, version) = ResourceKind.groupVersion(of: apiVersion)
        guard !version.isEmpty, !apiVersion.contains(".."), apiVersion.split(separator: "/").count <= 2 else {
            throw ManifestError("\"\(apiVersion)\" is not an apiVersion")
        }
        guard let list = try await fetch(apiVersion) else {
            throw ManifestError("the cluster does not serve \(apiVersion) (for kind \(kind))")
        }
        var table: [String: ResourceKind] = known[apiVersion] ?? [:]
        for entry in list.resources where !entry.name.contains("/") {
            table[entry.kind] = ResourceKind(group: group, version: version, kind: entry.kind, plural: entry.name, namespaced: entry.namespaced)
        }
        known[apiVersion] = table
        guard let found = table[kind] else {
            throw ManifestError("the cluster has no kind \(kind) in \(apiVersion)")
        }
        return found
    }
}
