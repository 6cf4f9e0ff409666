import Foundation

/// Runs `work` for every item `next()` hands out, at most `concurrency` at once, until `next()` has
/// nothing more and nothing is running, or `stop` is set (work in flight then finishes).
///
/// `next()` may hand out more items once earlier work finished (a DAG unlocking its dependents), so it is
/// asked again after each completion. The one scheduling loop of `run` and `rollback` (DESIGN.md §7).
public func runBounded<Item: Sendable>(
    concurrency: Int, stop: StopSignal, next: @Sendable () async -> Item?, work: @escaping @Sendable (Item) async throws -> Void
) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        var running = 0
        while true {
            var launched = false
            while running < concurrency, !stop.isStopped, let item = await next() {
                running += 1
                launched = true
                group.addTask { try await work(item) }
            }
            if running == 0 {
                if launched { continue }
                break
            }
            try await group.next()
            running -= 1
        }
    }
}
