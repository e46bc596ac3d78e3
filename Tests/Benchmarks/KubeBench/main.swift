import Foundation
import KnotKubernetes
import KnotRuntime
import Logging

#if canImport(Glibc)
import Glibc
#endif

// Benchmark of Knot's Kubernetes client and runtime (run by scripts/bench):
// provisions USERS user spaces and deploys one 10-object service into each,
// against the API double, CONCURRENCY at a time. Prints objects/s and the
// client's share of the CPU time (this process against the API server's).
// With --peer-file it also writes the objects of the first PEER users as
// YAML, so the script can time kubectl on exactly the same objects.

struct Options {
    var kubeconfig = ""
    var users = 1000
    var concurrency = 8
    var prefix = "bench"
    var peerFile: String?
    var peerUsers = 100

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--kubeconfig": kubeconfig = iterator.next() ?? ""
            case "--users": users = Int(iterator.next() ?? "") ?? users
            case "--concurrency": concurrency = Int(iterator.next() ?? "") ?? concurrency
            case "--prefix": prefix = iterator.next() ?? prefix
            case "--peer-file": peerFile = iterator.next()
            case "--peer-users": peerUsers = Int(iterator.next() ?? "") ?? peerUsers
            default:
                FileHandle.standardError.write(Data("unknown argument \(argument)\n".utf8))
                exit(2)
            }
        }
    }
}

/// Ten objects: the shape of a real notebook service (config, secrets, a database beside it).
let template = """
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: settings}
    data: {mode: bench}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: scripts}
    data: {start.sh: "echo start"}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: extra}
    data: {a: b}
    ---
    apiVersion: v1
    kind: Secret
    metadata: {name: token}
    stringData: {token: abc}
    ---
    apiVersion: v1
    kind: Secret
    metadata: {name: db-password}
    stringData: {password: secret}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: notebook}
    spec:
      selector: {app: notebook}
      ports: [{name: http, port: 80, targetPort: 8888}]
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: db}
    spec:
      selector: {app: db}
      ports: [{port: 5432}]
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: notebook}
    spec:
      replicas: 1
      selector: {matchLabels: {app: notebook}}
      template:
        metadata: {labels: {app: notebook}}
        spec:
          containers: [{name: notebook, image: "jupyter/base-notebook:2024"}]
    ---
    apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: db}
    spec:
      replicas: 1
      serviceName: db
      selector: {matchLabels: {app: db}}
      template:
        metadata: {labels: {app: db}}
        spec:
          containers: [{name: db, image: "postgres:16"}]
    ---
    apiVersion: v1
    kind: ServiceAccount
    metadata: {name: notebook}
    """

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
        + Double(usage.ru_stime.tv_usec) / 1e6
}

func user(_ options: Options, _ index: Int) -> RuntimeUser {
    let name = "\(options.prefix)\(index)"
    return RuntimeUser(username: name, namespace: "knot-\(name)", privateDirectory: "/f/private/\(name)", sharedDirectory: "/f/shared")
}

func spec(_ owner: RuntimeUser, _ index: Int) -> WorkloadSpec {
    WorkloadSpec(id: String(format: "00000000-0000-4000-8000-%012d", index), name: "notebook", owner: owner, process: nil, manifests: template)
}

let options = Options(CommandLine.arguments)
var logger = Logger(label: "bench")
logger.logLevel = .warning
let configuration = try KubernetesConfiguration.kubeconfig(paths: [options.kubeconfig])
let client = try KubernetesClient(configuration: configuration, logger: logger)
let settings: KubernetesRuntimeSettings = {
    var settings = KubernetesRuntimeSettings()
    settings.quota = ["pods": "50"]
    return settings
}()
let runtime = KubernetesRuntime(client: client, settings: settings, logger: logger)

if let peerFile = options.peerFile {
    // The same objects Knot applies, for kubectl to apply in the peer run.
    var documents: [String] = []
    for index in 0..<options.peerUsers {
        let owner = user(options, index)
        let objects = try UserSpace(settings: settings, user: owner).objects()
            + (try WorkloadManifests.prepare(template, spec: spec(owner, index), settings: settings)).objects
        documents += try objects.map { String(decoding: try $0.raw.jsonData(), as: UTF8.self) }
    }
    try ("---\n" + documents.joined(separator: "\n---\n") + "\n").write(toFile: peerFile, atomically: true, encoding: .utf8)
    print("peer objects: \(documents.count)")
    exit(0)
}

let cpuBefore = cpuSeconds()
let started = ContinuousClock.now
let applied = try await withThrowingTaskGroup(of: Int.self) { group in
    var next = 0
    var total = 0
    func add() {
        let index = next
        next += 1
        group.addTask {
            let owner = user(options, index)
            let space = try UserSpace(settings: settings, user: owner).objects().count
            try await runtime.provision(owner)
            return space + (try await runtime.deploy(spec(owner, index)))
        }
    }
    for _ in 0..<min(options.concurrency, options.users) { add() }
    while let count = try await group.next() {
        total += count
        if next < options.users { add() }
    }
    return total
}
let elapsed = ContinuousClock.now - started
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let clientCPU = cpuSeconds() - cpuBefore
print("users: \(options.users)")
print("objects: \(applied)")
print(String(format: "seconds: %.3f", seconds))
print(String(format: "objects_per_second: %.1f", Double(applied) / seconds))
print(String(format: "client_cpu_seconds: %.3f", clientCPU))
try await client.shutdown()
