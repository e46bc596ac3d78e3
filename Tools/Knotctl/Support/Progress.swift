import Foundation

/// A one-line progress bar on standard error, drawn only when standard error
/// is a terminal (scripts and logs get no escape codes), at most 10 times a second.
final class ProgressBar: @unchecked Sendable {
    private let lock = NSLock()
    private let total: Int64?
    private let label: String
    private let enabled: Bool
    private var done: Int64
    private let startedAt = Date()
    private let startedWith: Int64
    private var drawnAt = Date.distantPast

    init(label: String, total: Int64?, done: Int64 = 0, enabled: Bool = Output.stderrIsTerminal) {
        self.label = label
        self.total = total
        self.done = done
        self.startedWith = done
        self.enabled = enabled
    }

    func set(_ value: Int64) {
        lock.withLock { done = value }
        draw(force: false)
    }

    func advance(_ count: Int) {
        lock.withLock { done += Int64(count) }
        draw(force: false)
    }

    func finish() {
        guard enabled else { return }
        draw(force: true)
        FileHandle.standardError.write(Data("\n".utf8))
    }

    private func draw(force: Bool) {
        guard enabled else { return }
        let (text, due): (String, Bool) = lock.withLock {
            let now = Date()
            guard force || now.timeIntervalSince(drawnAt) >= 0.1 else { return ("", false) }
            drawnAt = now
            let elapsed = max(now.timeIntervalSince(startedAt), 0.001)
            let rate = Double(done - startedWith) / elapsed
            var text = "\r" + label + " "
            if let total, total > 0 {
                let fraction = min(1, Double(done) / Double(total))
                let width = 30
                let filled = Int(fraction * Double(width))
                text += "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] "
                text += String(format: "%3d%% ", Int(fraction * 100)) + Output.bytes(done) + " / " + Output.bytes(total)
            } else {
                text += Output.bytes(done)
            }
            text += "  " + Output.bytes(Int64(rate)) + "/s\u{1B}[K"
            return (text, true)
        }
        if due { FileHandle.standardError.write(Data(text.utf8)) }
    }
}
