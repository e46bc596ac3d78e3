import Hummingbird
import NIOConcurrencyHelpers
import NIOCore

/// Passes a request's body to the upstream through one reader the edge
/// controls. An upstream may answer before it has read the whole body (a
/// 413, say); the HTTP client's upload can then still be waiting for the next
/// chunk when the server starts draining what is left for the next request on
/// the connection, and two readers of one request stream at once crash NIO.
/// `stop()` ends the relay and waits for any read in flight, so by the time
/// the handler is done, only the server reads the connection again.
final class BodyRelay: AsyncSequence, Sendable {
    typealias Element = ByteBuffer

    private final class Reader: @unchecked Sendable {
        // Touched only by one read at a time (the relay lets no second one start).
        var iterator: RequestBody.AsyncIterator
        init(_ iterator: RequestBody.AsyncIterator) { self.iterator = iterator }
    }

    private struct State {
        var stopped = false
        var inFlight: Task<ByteBuffer?, any Error>?
    }

    private let reader: Reader
    private let state = NIOLockedValueBox(State())

    init(_ body: RequestBody) {
        reader = Reader(body.makeAsyncIterator())
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let relay: BodyRelay
        mutating func next() async throws -> ByteBuffer? { try await relay.read() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(relay: self) }

    private func read() async throws -> ByteBuffer? {
        let reader = self.reader
        let task: Task<ByteBuffer?, any Error>? = state.withLockedValue { state in
            guard !state.stopped else { return nil }
            let task = Task { try await reader.iterator.next() }
            state.inFlight = task
            return task
        }
        guard let task else { return nil }
        return try await task.value
    }

    /// No more reads; returns once the one in flight (if any) has finished.
    func stop() async {
        let pending = state.withLockedValue { state in
            state.stopped = true
            return state.inFlight
        }
        _ = try? await pending?.value
    }
}
