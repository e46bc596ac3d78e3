import Foundation

/// The person (or team) a workload belongs to, as a runtime needs to know them.
public struct RuntimeUser: Sendable, Codable, Equatable {
    public var username: String
    public var namespace: String
    /// Where the user's private folder is, as the runtime mounts it.
    public var privateDirectory: String
    public var sharedDirectory: String
    /// Administrators also get the admin file domain (templates, theme).
    public var admin: Bool

    public init(username: String, namespace: String, privateDirectory: String, sharedDirectory: String, admin: Bool = false) {
        self.username = username
        self.namespace = namespace
        self.privateDirectory = privateDirectory
        self.sharedDirectory = sharedDirectory
        self.admin = admin
    }

    enum CodingKeys: String, CodingKey { case username, namespace, privateDirectory, sharedDirectory, admin }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        username = try container.decode(String.self, forKey: .username)
        namespace = try container.decode(String.self, forKey: .namespace)
        privateDirectory = try container.decode(String.self, forKey: .privateDirectory)
        sharedDirectory = try container.decode(String.self, forKey: .sharedDirectory)
        admin = try container.decodeIfPresent(Bool.self, forKey: .admin) ?? false
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
    /// The template it came from and that template's version, recorded on
    /// what the runtime makes so the cluster itself says what each object is.
    public var template: String
    public var templateVersion: String
    /// The values it was launched with (automatic ones left out).
    public var values: [String: String]
    /// Variables Knot gives every process or container of the workload
    /// (`KNOT_URL`, so `knotctl` inside a service needs no setup); a template
    /// that sets one of these names itself keeps its own value.
    public var environment: [String: String]
    /// Secret variables (`KNOT_TOKEN`): the local runtime puts them in the
    /// process's environment; the Kubernetes runtime keeps them in a Secret in
    /// the user's namespace that containers reference, never in a manifest.
    public var secretEnvironment: [String: String] = [:]

    public init(
        id: String, name: String, owner: RuntimeUser, process: ProcessSpec?, manifests: String?,
        template: String = "", templateVersion: String = "", values: [String: String] = [:], environment: [String: String] = [:]
    ) {
        self.id = id
        self.name = name
        self.owner = owner
        self.process = process
        self.manifests = manifests
        self.template = template
        self.templateVersion = templateVersion
        self.values = values
        self.environment = environment
    }

    public var ref: WorkloadRef { WorkloadRef(id: id, namespace: owner.namespace) }
}

/// How a runtime finds a workload again: the launcher's id and the owner's namespace.
public struct WorkloadRef: Sendable, Hashable, Codable {
    public var id: String
    public var namespace: String

    public init(id: String, namespace: String) {
        self.id = id
        self.namespace = namespace
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
    /// What the runtime can tell about the parts (Kubernetes: workloads, pods, events).
    public var details: WorkloadDetails?
    /// Why it is not running, as a short code a program can act on
    /// (`WorkloadReason`); nil when it runs or nothing is known.
    public var reason: String?

    public init(phase: WorkloadPhase, message: String, upstream: String? = nil, details: WorkloadDetails? = nil, reason: String? = nil) {
        self.phase = phase
        self.message = message
        self.upstream = upstream
        self.details = details
        self.reason = reason
    }

    /// Ready and desired replicas over every part; restarts over every pod.
    public var readyReplicas: Int? { details.map { $0.parts.reduce(0) { $0 + min($1.ready, $1.desired) } } }
    public var desiredReplicas: Int? { details.map { $0.parts.reduce(0) { $0 + $1.desired } } }
    public var restarts: Int? { details.map { $0.pods.reduce(0) { $0 + $1.restarts } } }
}

/// The short codes of `WorkloadStatus.reason`: why a service waits or failed.
public enum WorkloadReason {
    public static let imagePull = "image_pull"
    public static let crashLoop = "crash_loop"
    public static let unschedulable = "unschedulable"
    public static let quota = "quota"
    public static let pending = "pending"
    public static let restarting = "restarting"
    public static let exited = "exited"
    public static let timeout = "timeout"
    public static let error = "error"
}

/// The parts of a running service, for people to see why it is (not) running.
public struct WorkloadDetails: Sendable, Equatable, Codable {
    public struct Part: Sendable, Equatable, Codable {
        public var kind: String
        public var name: String
        public var ready: Int
        public var desired: Int

        public init(kind: String, name: String, ready: Int, desired: Int) {
            self.kind = kind
            self.name = name
            self.ready = ready
            self.desired = desired
        }
    }

    public struct PodState: Sendable, Equatable, Codable {
        public var name: String
        public var phase: String
        public var ready: Bool
        public var restarts: Int
        /// Why it is not running, as Kubernetes says it (ImagePullBackOff, CrashLoopBackOff, Unschedulable…).
        public var reason: String?
        public var message: String?

        public init(name: String, phase: String, ready: Bool, restarts: Int, reason: String? = nil, message: String? = nil) {
            self.name = name
            self.phase = phase
            self.ready = ready
            self.restarts = restarts
            self.reason = reason
            self.message = message
        }
    }

    public struct EventSummary: Sendable, Equatable, Codable {
        public var type: String
        public var reason: String
        public var message: String
        public var object: String
        public var count: Int
        public var lastSeen: String

        public init(type: String, reason: String, message: String, object: String, count: Int, lastSeen: String) {
            self.type = type
            self.reason = reason
            self.message = message
            self.object = object
            self.count = count
            self.lastSeen = lastSeen
        }
    }

    public var parts: [Part] = []
    public var pods: [PodState] = []
    public var events: [EventSummary] = []

    public init(parts: [Part] = [], pods: [PodState] = [], events: [EventSummary] = []) {
        self.parts = parts
        self.pods = pods
        self.events = events
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

    /// Like `provision`, but says what it had to create or repair (empty when
    /// everything was as it should be), for the periodic reconcile's report.
    func reconcile(_ user: RuntimeUser) async throws -> [String]

    /// Takes a user's space away, with everything running in it. The files stay. Idempotent.
    func deprovision(_ user: RuntimeUser) async throws

    /// Nil when the runtime can run the workload, else the reason it cannot.
    func unsupportedReason(_ spec: WorkloadSpec) -> String?

    /// Deploys the workload (or updates it to this spec) and returns once it
    /// is running or has failed. A stopped workload runs again.
    func start(_ spec: WorkloadSpec, readinessTimeout: Duration) async throws -> WorkloadStatus

    /// Stops the workload but keeps it, so that `resume` can start it again. Idempotent.
    func stop(_ ref: WorkloadRef) async throws

    /// Starts a stopped workload again, as it was.
    func resume(_ ref: WorkloadRef, readinessTimeout: Duration) async throws -> WorkloadStatus

    /// Stops the workload and removes every trace of it. Removing what is gone is not an error.
    func remove(_ ref: WorkloadRef) async throws

    /// Nil when the runtime does not know the workload.
    func status(_ ref: WorkloadRef) async throws -> WorkloadStatus?

    /// The workloads the runtime holds in a namespace.
    func workloads(in namespace: String) async throws -> [WorkloadRef]

    /// The workload's output; with `follow`, lines keep coming until the caller stops reading.
    func logs(_ ref: WorkloadRef, follow: Bool, tailLines: Int?) async throws -> AsyncThrowingStream<String, Error>

    /// Nil when the runtime can do its work, else what stops it (for `/readyz`).
    func readinessProblem() async -> String?

    /// Stops everything this runtime started (graceful shutdown of the launcher).
    func shutdown() async

    /// Registers a callback the runtime calls whenever it learns of a change
    /// in a workload's status on its own (the local runtime restarting a
    /// process), so the launcher need not wait for its next poll. Optional.
    func onStatusChange(_ handler: @escaping @Sendable (WorkloadRef) async -> Void) async
}

extension ServiceRuntime {
    public func onStatusChange(_ handler: @escaping @Sendable (WorkloadRef) async -> Void) async {}
}
