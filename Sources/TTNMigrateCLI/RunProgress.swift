import Executor
import Foundation

/// Shows a run's progress: a live bar on a terminal, plain lines otherwise, JSON lines with `--json`
/// (DESIGN.md §7 "Progress").
final class RunProgress: @unchecked Sendable {
    enum Style { case bar, lines, json }

    private let style: Style
    private let lock = NSLock()
    private let started = ContinuousClock.now
    private var lastDraw = ContinuousClock.now - .seconds(1)

    init(json: Bool) {
        if json {
            style = .json
        } else {
            style = Console.current.isTerminal ? .bar : .lines
        }
    }

    func handle(_ event: ExecutionEvent) {
        lock.lock()
        defer { lock.unlock() }
        switch style {
        case .json:
            let object: [String: Any] = [
                "event": event.kind.rawValue, "step": event.stepID, "message": event.message,
                "done": event.progress.done, "total": event.progress.total, "failed": event.progress.failed,
            ]
            if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) {
                Console.current.out(String(decoding: data, as: UTF8.self))
            }
        case .lines:
            let label: String
            switch event.kind {
            case .done: label = "done"
            case .alreadyDone: label = "present"
            case .failed: label = "FAILED"
            case .retrying: label = "retry"
            case .rolledBack: label = "rolled back"
            }
            Console.current.out("[\(event.progress.done)/\(event.progress.total)] \(label) \(event.stepID)\(event.kind == .failed || event.kind == .retrying ? ": " + event.message : "")")
        case .bar:
            if event.kind == .failed {
                FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + "FAILED \(event.stepID): \(event.message)\n").utf8))
            }
            let now = ContinuousClock.now
            guard now - lastDraw > .milliseconds(100) || event.progress.done == event.progress.total else { return }
            lastDraw = now
            FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + bar(event.progress)).utf8))
        }
    }

    /// Ends the bar's line.
    func finish() {
        if style == .bar { FileHandle.standardOutput.write(Data("\n".utf8)) }
    }

    private func bar(_ progress: ExecutionProgress) -> String {
        let width = 30
        let fraction = progress.total == 0 ? 1 : Double(progress.done) / Double(progress.total)
        let filled = Int(fraction * Double(width))
        let rate = Double(progress.done) / max(seconds(ContinuousClock.now - started), 0.001)
        let remaining = rate > 0 ? Int(Double(progress.total - progress.done) / rate) : 0
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            + "\(progress.done)/\(progress.total) · \(String(format: "%.1f", rate)) steps/s · ETA \(remaining)s · \(progress.failed) failed"
    }
}
