import Foundation

/// The person (or team) a workload belongs to, as a runtime needs to know them.
public struct RuntimeUser: Sendable, Codable, Equatable {
    public var username: String
    public var namespace: String
    /// Where the user's private folder is, as the runtime mounts it.
    public var privateDirectory: String
    public var sharedDirectory: String

    public init(username: String, namespace: String, privateDirectory: String, sharedDirectory: String) {
        self.username = username
        self.namespace = namespace
        self.privateDirectory = privateDirectory
        self.sharedDirectory = sharedDirectory
    }
}

/// A program the local runtime runs as a child process (a template's `local` block, rendered).
public struct ProcessSpec: Sendable, Codable, Equatable {
    public var command: String
    public var arguments: [String]
    public var environment: [String: String]

    public init(command: String, arguments: [String], environment: [String: String] = [:]) {
        self.command = command
        self.arguments = arguments
        self.environment = environment
    }
}

/// What the launcher asks a runtime to run: one service of one user.
public struct WorkloadSpec: Sendable, Equatable {
    /// Stable id of the service (the launcher's), used to find it again.
    public var id: String
    public var name: String
    public var owner: RuntimeUser
    /// For the local runtime.
    public var process: ProcessSpec?
    /// Rendered Kubernetes objects (multi-document YAML), for the Kubernetes runtime.
    public var manifests: String?

    public init(id: String, name: String, owner: RuntimeUser, process: ProcessSpec?, manifests: String?) {
        self.id = id
        self.name = name
        self.owner = owner
        self.process = process
        self.manifests = manifests
    }
}

public enum WorkloadPhase: String, Sendable, Codable {
    case starting, running, failed, stopped
}

public struct WorkloadStatus: Sendable, Equatable {
    public var phase: WorkloadPhase
    public var message: String
    /// Where the edge should send traffic, once running (`http://127.0.0.1:port`).
    public var upstream: String?

    public init(phase: WorkloadPhase, message: String, upstream: String? = nil) {
        self.phase = phase
        self.message = message
        self.upstream = upstream
    }
}

public struct RuntimeError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Where Knot runs people's services. Kubernetes in production; a local
/// child-process runtime for one machine. The launcher and the users service
/// talk only to this interface.
public protocol ServiceRuntime: Sendable {
    /// "local" or "kubernetes", shown to users so they know where things run.
    var kind: String { get }

    /// Prepares a user's space (namespace, service account, storage…). Idempotent.
    func provision(_ user: RuntimeUser) async throws

    /// Nil when the runtime can run the workload, else the reason it cannot.
    func unsupportedReason(_ spec: WorkloadSpec) -> String?

    /// Starts the workload and returns once it is running or has failed.
    func start(_ spec: WorkloadSpec, readinessTimeout: Duration) async throws -> WorkloadStatus

    /// Stops the workload; stopping one that is not running is not an error.
    func stop(id: String) async throws

    func status(id: String) async -> WorkloadStatus?

    /// Stops everything this runtime started (graceful shutdown of the launcher).
    func shutdown() async
}
