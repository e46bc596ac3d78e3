import Foundation

/// A person (or, later, a team profile) as the users service records it.
public struct UserRecord: Codable, Sendable, Equatable {
    public var id: UUID
    public var username: String
    public var email: String
    public var fullName: String
    public var active: Bool
    public var admin: Bool
    public var namespace: String
    public var createdAt: Date
    public var lastLogin: Date?
    /// `person`, or `team` for a team profile (its own namespace and folder, no password).
    public var kind: String

    public var isTeam: Bool { kind == "team" }

    public init(
        id: UUID, username: String, email: String, fullName: String, active: Bool, admin: Bool,
        namespace: String, createdAt: Date, lastLogin: Date?, kind: String = "person"
    ) {
        self.kind = kind
        self.id = id
        self.username = username
        self.email = email
        self.fullName = fullName
        self.active = active
        self.admin = admin
        self.namespace = namespace
        self.createdAt = createdAt
        self.lastLogin = lastLogin
    }

    enum CodingKeys: String, CodingKey {
        case id, username, email, active, admin, namespace, kind
        case fullName = "full_name"
        case createdAt = "created_at"
        case lastLogin = "last_login"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(UUID.self, forKey: .id)
        username = try container.decode(String.self, forKey: .username)
        email = try container.decode(String.self, forKey: .email)
        fullName = try container.decode(String.self, forKey: .fullName)
        active = try container.decode(Bool.self, forKey: .active)
        admin = try container.decode(Bool.self, forKey: .admin)
        namespace = try container.decode(String.self, forKey: .namespace)
        createdAt = try container.decode(Date.self, forKey: .createdAt)
        lastLogin = try container.decodeIfPresent(Date.self, forKey: .lastLogin)
        kind = try container.decodeIfPresent(String.self, forKey: .kind) ?? "person"
    }

    // Ids go out in lowercase, as in every token's `sub` (Foundation would write uppercase).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id.uuidString.lowercased(), forKey: .id)
        try container.encode(username, forKey: .username)
        try container.encode(email, forKey: .email)
        try container.encode(fullName, forKey: .fullName)
        try container.encode(active, forKey: .active)
        try container.encode(admin, forKey: .admin)
        try container.encode(namespace, forKey: .namespace)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encodeIfPresent(lastLogin, forKey: .lastLogin)
        try container.encode(kind, forKey: .kind)
    }

    /// Knot maps every user to one namespace; the prefix keeps Knot's apart from the cluster's own.
    public static func namespace(for username: String) -> String { "knot-\(username)" }
}

/// A person's place in a team.
public struct TeamMembership: Codable, Sendable, Equatable {
    public var team: String
    public var teamID: UUID
    /// `owner` (manages members), `editor` (launches and stops), `viewer` (opens).
    public var role: String

    public init(team: String, teamID: UUID, role: String) {
        self.team = team
        self.teamID = teamID
        self.role = role
    }

    enum CodingKeys: String, CodingKey {
        case team, role
        case teamID = "team_id"
    }

    public static let roles = ["owner", "editor", "viewer"]
}

/// What identity sends the users service to create an account.
public struct NewAccount: Codable, Sendable {
    public var username: String
    public var email: String
    public var fullName: String?
    public var active: Bool?
    public var admin: Bool?

    public init(username: String, email: String, fullName: String?, active: Bool, admin: Bool) {
        self.username = username
        self.email = email
        self.fullName = fullName
        self.active = active
        self.admin = admin
    }

    enum CodingKeys: String, CodingKey {
        case username, email, active, admin
        case fullName = "full_name"
    }
}

/// One entry of the edge's route table: a public host and where it leads.
public struct RouteEntry: Codable, Sendable, Equatable {
    /// The full host name, `<service>-<user>.<domain>`, lowercase.
    public var host: String
    /// The username allowed through (plus admins, later team members).
    public var owner: String
    /// Base URL of the upstream, e.g. `http://127.0.0.1:41234`.
    public var upstream: String
    /// The launcher's service name, for logs.
    public var service: String
    /// The template asked for no sign-on (Karvdash's `auth: no`): anyone may open it.
    public var isPublic: Bool
    /// The service is stopped (scaled to nothing): the edge answers that it is, instead of forwarding.
    public var stopped: Bool

    public init(host: String, owner: String, upstream: String, service: String, isPublic: Bool = false, stopped: Bool = false) {
        self.host = host
        self.owner = owner
        self.upstream = upstream
        self.service = service
        self.isPublic = isPublic
        self.stopped = stopped
    }

    enum CodingKeys: String, CodingKey {
        case host, owner, upstream, service, stopped
        case isPublic = "public"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        host = try container.decode(String.self, forKey: .host)
        owner = try container.decode(String.self, forKey: .owner)
        upstream = try container.decode(String.self, forKey: .upstream)
        service = try container.decode(String.self, forKey: .service)
        isPublic = try container.decodeIfPresent(Bool.self, forKey: .isPublic) ?? false
        stopped = try container.decodeIfPresent(Bool.self, forKey: .stopped) ?? false
    }
}

/// What the edge learns about a browser session from identity.
public struct SessionVerdict: Codable, Sendable {
    public var userID: UUID
    public var username: String
    public var admin: Bool
    public var namespace: String
    /// The signed identity assertion to forward to services.
    public var assertion: String
    /// How long the edge may reuse this verdict before asking again.
    public var cacheSeconds: Int
    /// The admin acting as this user, when impersonating.
    public var actor: String?
    /// A `read` API token: only GET and HEAD may pass.
    public var readOnly: Bool?
    /// The teams the person is in: members may open a team's services.
    public var teams: [String]?
    /// The person's email, passed to their services as `X-Forwarded-Email`.
    public var email: String?

    public init(userID: UUID, username: String, admin: Bool, namespace: String, assertion: String, cacheSeconds: Int) {
        self.userID = userID
        self.username = username
        self.admin = admin
        self.namespace = namespace
        self.assertion = assertion
        self.cacheSeconds = cacheSeconds
    }

    enum CodingKeys: String, CodingKey {
        case username, admin, namespace, assertion, actor, teams, email
        case userID = "user_id"
        case cacheSeconds = "cache_seconds"
        case readOnly = "read_only"
    }
}

/// The headers Knot's hops use among themselves. The edge strips every one of
/// them from client requests, so only a Knot component can have set them.
public enum KnotHeader {
    public static let assertion = "Knot-Assertion"
    public static let serviceToken = "Knot-Service-Token"
    public static let user = "X-Knot-User"
    public static let requestID = "X-Request-Id"
    public static let traceparent = "traceparent"
}

/// The browser session cookie's name, shared by identity (which sets it) and the edge (which reads and strips it).
public enum SessionCookie {
    public static let name = "knot_session"
}

/// One `*.template.yaml` in a file domain's `services/` folder, as the files
/// service hands it to the launcher (`GET /internal/v1/catalogue/<user>`).
/// `content` is absent, and `problem` says why, for a file that cannot be used
/// (too large, not UTF-8).
public struct CatalogueFile: Codable, Sendable, Equatable {
    public var domain: String
    public var name: String
    public var content: String?
    public var size: Int64
    public var modified: Date
    public var problem: String?

    public init(domain: String, name: String, content: String?, size: Int64, modified: Date, problem: String?) {
        self.domain = domain
        self.name = name
        self.content = content
        self.size = size
        self.modified = modified
        self.problem = problem
    }
}

/// The body of `PUT /internal/v1/catalogue/<user>/<name>`: the launcher saving a person's template.
public struct CatalogueWrite: Codable, Sendable {
    public var content: String
    public var overwrite: Bool?

    public init(content: String, overwrite: Bool?) {
        self.content = content
        self.overwrite = overwrite
    }
}
