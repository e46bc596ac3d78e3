import NIOCore

/// One timer standing for a deadline that moves often: the connection
/// guard's phases and the wait for an upstream's answer move theirs on every
/// request. Scheduling and cancelling a timer each time costs a heap insertion
/// and removal (about 6% of the edge's CPU when both did); instead a timer
/// already due no later than the new deadline stays, and its owner re-checks
/// the deadline when it fires, arming again if the deadline has moved on.
///
/// Confined to one event loop, like the handler that owns it.
struct DeadlineTimer {
    private var task: Scheduled<Void>?
    private var firesAt: NIODeadline?

    /// Makes the timer fire no later than `deadline`, calling `fire`; the
    /// owner's `fire` starts with `fired()`.
    mutating func arm(by deadline: NIODeadline, on loop: EventLoop, fire: @escaping () -> Void) {
        if task != nil, let firesAt, firesAt <= deadline { return }
        task?.cancel()
        firesAt = deadline
        task = loop.assumeIsolated().scheduleTask(deadline: deadline, fire)
    }

    /// The timer has fired; a later `arm` schedules a new one.
    mutating func fired() {
        task = nil
        firesAt = nil
    }

    mutating func cancel() {
        task?.cancel()
        fired()
    }
}
