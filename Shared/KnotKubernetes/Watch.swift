import AsyncHTTPClient
import Foundation
import NIOCore

/// What a watch reports. `listed` carries the whole current state: first,
/// and again whenever the server has forgotten the watch's place (410 Gone)
/// and the client had to list afresh; a consumer replaces its view then.
public enum WatchEvent<T: Sendable>: Sendable {
    case listed([T], resourceVersion: String)
    case added(T)
    case modified(T)
    case deleted(T)
    /// The server's sign that everything up to this version has been sent.
    case bookmark(resourceVersion: String)
}

struct RawWatchEvent: Decodable {
    var type: String
    var object: JSONValue
}

extension KubernetesClient {
    /// Watches a collection for as long as the caller iterates. It resumes
    /// from the last version seen when a stream ends or a connection drops,
    /// re-lists on 410 Gone, and asks for bookmarks so resuming stays cheap.
    /// Gives up only on an error that waiting will not fix (401, 403, 404…).
    public func watch<T: KubernetesObject>(
        _ type: T.Type, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil,
        resourceVersion: String? = nil, timeoutSeconds: Int = 290
    ) -> AsyncThrowingStream<WatchEvent<T>, Error> {
        let client = self
        return AsyncThrowingStream { continuation in
            let task = Task {
                var version = resourceVersion
                var failures = 0
                while !Task.isCancelled {
                    do {
                        if version == nil {
                            let listed = try await client.listAll(
                                type, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector)
                            version = listed.resourceVersion
                            continuation.yield(.listed(listed.items, resourceVersion: listed.resourceVersion))
                        }
                        try await client.watchOnce(
                            T.resource, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector,
                            from: version ?? "", timeoutSeconds: timeoutSeconds
                        ) { raw in
                            failures = 0
                            if let seen = raw.object.value(at: ["metadata", "resourceVersion"])?.stringValue { version = seen }
                            switch raw.type {
                            case "BOOKMARK": continuation.yield(.bookmark(resourceVersion: version ?? ""))
                            case "ADDED": continuation.yield(.added(try raw.object.decode(as: T.self)))
                            case "MODIFIED": continuation.yield(.modified(try raw.object.decode(as: T.self)))
                            case "DELETED": continuation.yield(.deleted(try raw.object.decode(as: T.self)))
                            default: break
                            }
                        }
                    } catch let error as KubernetesAPIError where error.isGone {
                        client.transport.logger.info("watch position expired; listing again", metadata: ["resource": "\(T.resource)"])
                        version = nil
                    } catch is CancellationError {
                        break
                    } catch let error as KubernetesAPIError where !RetryPolicy.isRetryable(status: error.code) {
                        continuation.finish(throwing: error)
                        return
                    } catch {
                        failures += 1
                        let delay = client.transport.retry.delay(afterAttempt: min(failures, 6), retryAfter: nil)
                        client.transport.logger.warning(
                            "watch interrupted; resuming", metadata: ["resource": "\(T.resource)", "error": "\(error)"])
                        try? await Task.sleep(for: delay)
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// One watch request, from one version, until the server ends it. An
    /// `ERROR` event is thrown as the API error it carries.
    func watchOnce(
        _ resource: ResourceKind, namespace: String?, labelSelector: String?, fieldSelector: String?, from version: String,
        timeoutSeconds: Int, onEvent: (RawWatchEvent) async throws -> Void
    ) async throws {
        var query = Self.listQuery(labelSelector: labelSelector, fieldSelector: fieldSelector, limit: nil, continue: nil)
        query += [
            ("watch", "true"), ("resourceVersion", version), ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", "\(timeoutSeconds)"),
        ]
        let request = APIRequest(method: .GET, path: resource.path(namespace: namespace), query: query)
        let response = try await transport.stream(request, impersonate: impersonatedUser, deadline: .seconds(timeoutSeconds + 30))
        for try await line in Self.lines(of: response.body) where !line.isEmpty {
            let raw: RawWatchEvent
            do {
                raw = try JSONDecoder().decode(RawWatchEvent.self, from: Data(line.utf8))
            } catch {
                throw KubernetesDecodingError(description: "a watch event is not JSON: \(line.prefix(200))")
            }
            if raw.type == "ERROR" {
                let status = try? raw.object.decode(as: APIStatus.self)
                throw KubernetesAPIError(code: status?.code ?? 500, status: status)
            }
            try await onEvent(raw)
        }
    }

    /// A pod's log, line by line; with `follow`, new lines as the container writes them.
    public func logs(
        namespace: String, pod: String, container: String? = nil, follow: Bool = false, tailLines: Int? = nil,
        timestamps: Bool = false, previous: Bool = false
    ) -> AsyncThrowingStream<String, Error> {
        var query: [(String, String)] = []
        if let container { query.append(("container", container)) }
        if follow { query.append(("follow", "true")) }
        if let tailLines { query.append(("tailLines", "\(tailLines)")) }
        if timestamps { query.append(("timestamps", "true")) }
        if previous { query.append(("previous", "true")) }
        let request = APIRequest(
            method: .GET, path: ResourceKind.pod.path(namespace: namespace, name: pod, subresource: "log"), query: query,
            accept: "text/plain, */*")
        let client = self
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let deadline: Duration = follow ? .seconds(24 * 3600) : client.transport.requestTimeout
                    let response = try await client.transport.stream(request, impersonate: client.impersonatedUser, deadline: deadline)
                    for try await line in Self.lines(of: response.body) { continuation.yield(line) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error is CancellationError ? nil : error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Splits a streamed body into lines as bytes arrive; a last unterminated line is kept.
    static func lines(of body: HTTPClientResponse.Body) -> AsyncThrowingStream<String, Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                var pending: [UInt8] = []
                do {
                    for try await buffer in body {
                        pending += buffer.readableBytesView
                        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                            continuation.yield(String(decoding: pending[..<newline], as: UTF8.self))
                            pending.removeSubrange(...newline)
                        }
                        // A line longer than any real event or log line: refuse rather than grow forever.
                        if pending.count > 16 << 20 {
                            throw KubernetesDecodingError(description: "a streamed line is longer than 16 MiB")
                        }
                    }
                    if !pending.isEmpty { continuation.yield(String(decoding: pending, as: UTF8.self)) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
