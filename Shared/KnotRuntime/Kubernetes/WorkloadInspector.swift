import Foundation
import KnotKubernetes

/// Reads a service's state from its objects as Kubernetes reports them, and
/// says it in a sentence: running, stopped, still starting (and why), or
/// failed (and why). Pure, so every case is tested without a server.
public struct WorkloadInspector: Sendable {
    public struct Workload: Sendable {
        public var kind: String
        public var name: String
        public var desired: Int
        public var ready: Int
        public var conditions: [Condition]

        public init(kind: String, name: String, desired: Int, ready: Int, conditions: [Condition] = []) {
            self.kind = kind
            self.name = name
            self.desired = desired
            self.ready = ready
            self.conditions = conditions
        }
    }

    /// Waiting reasons that will not fix themselves by waiting a little.
    static let failingReasons: Set<String> = [
        "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "CrashLoopBackOff", "CreateContainerConfigError",
        "CreateContainerError", "RunContainerError", "ErrImageNeverPull",
    ]

    public static func workloads(replicated: [any ReplicatedWorkload], jobs: [Job]) -> [Workload] {
        replicated.map {
            Workload(
                kind: type(of: $0).resource.kind, name: $0.name, desired: $0.spec?.replicas ?? 1,
                ready: $0.status?.readyReplicas ?? 0, conditions: $0.status?.conditions ?? [])
        }
            + jobs.map {
                let done = ($0.status?.succeeded ?? 0) > 0
                return Workload(kind: "Job", name: $0.name, desired: 1, ready: done || ($0.status?.active ?? 0) > 0 ? 1 : 0)
            }
    }

    public static func summarize(
        workloads: [Workload], pods: [Pod], events: [Event], upstream: String?
    ) -> WorkloadStatus {
        let podStates = pods.sorted { $0.name < $1.name }.map(podState)
        let recent = events.sorted { $0.lastSeen > $1.lastSeen }.prefix(10).map { event in
            WorkloadDetails.EventSummary(
                type: event.type ?? "Normal", reason: event.reason ?? "", message: event.message ?? "",
                object: "\(event.involvedObject.kind ?? "")/\(event.involvedObject.name ?? "")", count: event.count ?? 1,
                lastSeen: event.lastSeen)
        }
        // Bare pods count as parts of their own when no controller owns them.
        var parts = workloads.map { WorkloadDetails.Part(kind: $0.kind, name: $0.name, ready: $0.ready, desired: $0.desired) }
        let bare = pods.filter { ($0.metadata.ownerReferences ?? []).isEmpty }
        parts += bare.map { pod in
            WorkloadDetails.Part(kind: "Pod", name: pod.name, ready: podState(pod).ready ? 1 : 0, desired: 1)
        }
        let details = WorkloadDetails(parts: parts, pods: podStates, events: Array(recent))

        if parts.isEmpty && podStates.isEmpty {
            return WorkloadStatus(phase: .running, message: "running (nothing to wait for)", upstream: upstream, details: details)
        }
        let desired = parts.reduce(0) { $0 + $1.desired }
        if desired == 0 {
            return WorkloadStatus(phase: .stopped, message: "stopped", details: details)
        }
        if let failing = podStates.first(where: { $0.reason.map(failingReasons.contains) ?? false }) {
            return WorkloadStatus(phase: .failed, message: explain(failing), details: details, reason: reasonCode(failing))
        }
        if let failed = podStates.first(where: { $0.phase == "Failed" }) {
            return WorkloadStatus(
                phase: .failed, message: "pod \(failed.name) failed: \(failed.message ?? failed.reason ?? "no reason given")", details: details,
                reason: WorkloadReason.exited)
        }
        for workload in workloads {
            if let condition = workload.conditions.first(where: { $0.type == "ReplicaFailure" && $0.status == "True" }) {
                let message = condition.message ?? "its pods cannot be created"
                return WorkloadStatus(
                    phase: .starting, message: "waiting: \(workload.kind.lowercased()) \(workload.name) cannot create pods: \(message)",
                    details: details, reason: message.contains("quota") ? WorkloadReason.quota : WorkloadReason.pending)
            }
        }
        let ready = parts.reduce(0) { $0 + min($1.ready, $1.desired) }
        if ready >= desired {
            return WorkloadStatus(phase: .running, message: "running", upstream: upstream, details: details)
        }
        if let quota = events.first(where: { $0.reason == "FailedCreate" && ($0.message ?? "").contains("exceeded quota") }) {
            return WorkloadStatus(
                phase: .starting, message: "waiting: over your quota: \(quota.message ?? "")", details: details, reason: WorkloadReason.quota)
        }
        if let waiting = podStates.first(where: { $0.reason != nil }) {
            return WorkloadStatus(phase: .starting, message: "waiting: \(explain(waiting))", details: details, reason: reasonCode(waiting))
        }
        return WorkloadStatus(
            phase: .starting, message: "starting: \(ready) of \(desired) ready", details: details, reason: WorkloadReason.pending)
    }

    static func podState(_ pod: Pod) -> WorkloadDetails.PodState {
        let statuses = (pod.status?.initContainerStatuses ?? []) + (pod.status?.containerStatuses ?? [])
        let restarts = statuses.reduce(0) { $0 + ($1.restartCount ?? 0) }
        let ready = pod.status?.conditions?.first(where: { $0.type == "Ready" })?.status == "True"
            || (!(pod.status?.containerStatuses ?? []).isEmpty && (pod.status?.containerStatuses ?? []).allSatisfy { $0.ready == true })
        var reason: String?
        var message: String?
        if let waiting = statuses.first(where: { $0.state?.waiting?.reason != nil && $0.state?.waiting?.reason != "ContainerCreating" && $0.state?.waiting?.reason != "PodInitializing" }) {
            reason = waiting.state?.waiting?.reason
            message = waiting.state?.waiting?.message
            if reason == "CrashLoopBackOff", let terminated = waiting.lastState?.terminated {
                message = "exited with code \(terminated.exitCode ?? -1)\(terminated.reason.map { " (\($0))" } ?? "")"
            }
        } else if let unscheduled = pod.status?.conditions?.first(where: { $0.type == "PodScheduled" && $0.status == "False" }) {
            reason = unscheduled.reason ?? "Unschedulable"
            message = unscheduled.message
        } else if pod.status?.phase == "Failed" {
            reason = pod.status?.reason ?? "Failed"
            message = pod.status?.message
        }
        return WorkloadDetails.PodState(
            name: pod.name, phase: pod.status?.phase ?? "Pending", ready: ready, restarts: restarts, reason: reason, message: message)
    }

    /// The short code (`WorkloadReason`) for why a pod is not running.
    static func reasonCode(_ pod: WorkloadDetails.PodState) -> String {
        switch pod.reason {
        case "ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull", "InvalidImageName": return WorkloadReason.imagePull
        case "CrashLoopBackOff": return WorkloadReason.crashLoop
        case "Unschedulable": return WorkloadReason.unschedulable
        case let reason? where failingReasons.contains(reason): return WorkloadReason.error
        default: return WorkloadReason.pending
        }
    }

    static func explain(_ pod: WorkloadDetails.PodState) -> String {
        let detail = pod.message.map { ": \($0)" } ?? ""
        switch pod.reason {
        case "ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull":
            return "the image cannot be pulled (\(pod.reason!))\(detail)"
        case "InvalidImageName": return "the image name is not valid\(detail)"
        case "CrashLoopBackOff": return "the container keeps crashing (restarted \(pod.restarts) times)\(detail)"
        case "Unschedulable": return "no node can run it yet\(detail)"
        case let reason?: return "pod \(pod.name): \(reason)\(detail)"
        case nil: return "pod \(pod.name) is \(pod.phase)"
        }
    }
}
