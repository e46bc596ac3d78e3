import Foundation
import KnotKubernetes
import Logging
import XCTest

/// Starts the test-only Kubernetes API double (Tests/KubeAPIDouble, Python)
/// in a temporary folder and talks to its control endpoints. No cluster can
/// run on the test machines; the double keeps the API's semantics.
final class KubeDouble: @unchecked Sendable {
    let directory: String
    let server: String
    private let process: Process

    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    init(readyDelay: Double = 0.2) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("knot-double-\(UUID().uuidString)").path
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", Self.repositoryRoot + "/Tests/KubeAPIDouble/kube_double.py", "--dir", directory, "--quiet",
            "--ready-delay", "\(readyDelay)", "--bookmark-interval", "1",
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
        // The double prints one line when it listens: "READY https://127.0.0.1:PORT".
        var line = Data()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let byte = output.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line.append(byte)
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("READY ") else {
            process.terminate()
            throw RuntimeFailure("the Kubernetes API double did not start: \(text)")
        }
        server = String(text.dropFirst("READY ".count))
    }

    struct RuntimeFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// SIGTERM, then SIGKILL if it has not gone within 5 s. (Foundation's
    /// `waitUntilExit` spins a run loop, which an async test must not do.)
    func stop() {
        process.terminate()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    func configuration(_ file: String = "kubeconfig") throws -> KubernetesConfiguration {
        try KubernetesConfiguration.kubeconfig(paths: ["\(directory)/\(file)"])
    }

    /// Runs curl against the double (a real client, outside the code under test).
    private func curl(_ arguments: [String]) throws -> (status: Int32, output: Data) {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        curl.arguments = ["curl", "-sS", "--cacert", "\(directory)/ca.crt", "-H", "Authorization: Bearer knot-test-token"] + arguments
        let output = Pipe()
        curl.standardOutput = output
        try curl.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        curl.waitUntilExit()
        return (curl.terminationStatus, data)
    }

    /// POSTs to a control endpoint.
    @discardableResult
    func control(_ path: String, _ json: String = "{}") throws -> String {
        let (status, data) = try curl(["--fail-with-body", "-H", "Content-Type: application/json", "-X", "POST", "--data", json, server + path])
        guard status == 0 else {
            throw RuntimeFailure("control \(path) failed: \(String(decoding: data, as: UTF8.self))")
        }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A test case with its own API double, started before each test and stopped
/// after it, and the clients it made shut down however the test ended.
class KubeDoubleTestCase: XCTestCase {
    var double: KubeDouble!
    private var clients: [KubernetesClient] = []

    override func setUp() async throws {
        double = try KubeDouble()
    }

    override func tearDown() async throws {
        for client in clients { try? await client.shutdown() }
        clients = []
        double?.stop()
    }

    /// A client of the double (or of another configuration), shut down after the test.
    func client(_ configuration: KubernetesConfiguration? = nil, retry: RetryPolicy = RetryPolicy(baseDelay: .milliseconds(20))) throws -> KubernetesClient {
        let client = try KubernetesClient(configuration: configuration ?? double.configuration(), retry: retry, logger: Logger(label: "double"))
        clients.append(client)
        return client
    }
}
