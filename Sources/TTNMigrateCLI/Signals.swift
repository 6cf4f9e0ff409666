import Dispatch
import Foundation

/// SIGINT/SIGTERM as async events instead of process death (Ctrl-C handling, DESIGN.md §1).
final class SignalTrap: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Int32, Never>?
    private var received: Int32?

    /// Traps the given signals until `cancel()`; the first one fires `onSignal`.
    init(_ signals: [Int32] = [SIGINT, SIGTERM], onSignal: (@Sendable (Int32) -> Void)? = nil) {
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in
                onSignal?(number)
                self?.deliver(number)
            }
            source.resume()
            sources.append(source)
        }
    }

    private func deliver(_ number: Int32) {
        lock.lock()
        let waiting = continuation
        continuation = nil
        if received == nil { received = number }
        lock.unlock()
        waiting?.resume(returning: number)
    }

    /// Waits for the first trapped signal.
    func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            lock.lock()
            if let received {
                lock.unlock()
                continuation.resume(returning: received)
                return
            }
            self.continuation = continuation
            lock.unlock()
        }
    }

    /// Restores the default handlers.
    func cancel() {
        for source in sources { source.cancel() }
        for number in [SIGINT, SIGTERM] { signal(number, SIG_DFL) }
    }
}
