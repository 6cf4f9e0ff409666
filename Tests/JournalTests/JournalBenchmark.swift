import Foundation
import Testing
@testable import Journal

/// Commit throughput, one commit per change against group commit; opening a large journal.
/// Opt-in (timings, not checks): `JOURNAL_BENCH=1 swift test --filter JournalBenchmark`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["JOURNAL_BENCH"] != nil))
struct JournalBenchmark {
    static func plan(_ count: Int) -> [PlannedStep] {
        (0..<count).map {
            PlannedStep(id: "device:app/dev-\($0):is", kind: "create_device_is", entityType: "device",
                        entityKey: "app/dev-\($0)", component: .identityServer)
        }
    }

    /// Marks `steps` steps in flight then done (2 changes each); returns changes/s and commits/s.
    static func measure(policy: GroupCommitPolicy, steps: Int) async throws -> (changes: Double, commits: Double) {
        let directory = try TemporaryDirectory()
        let store = try JournalStore.open(at: directory.file("bench.sqlite"), target: Fixtures.target,
                                          options: JournalOptions(groupCommit: policy))
        try await store.startRun(Fixtures.runInfo)
        try await store.upsertPlannedSteps(plan(steps))
        let before = await store.commitStatistics()
        let clock = ContinuousClock()
        let elapsed = try await clock.measure {
            for index in 0..<steps {
                let id = "device:app/dev-\(index):is"
                try await store.markInFlight(step: id)
                try await store.markDone(step: id, result: ["device_id": "dev-\(index)"])
            }
            try await store.flush()
        }
        let after = await store.commitStatistics()
        try await store.close()
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return (Double(after.changes - before.changes) / seconds, Double(after.commits - before.commits) / seconds)
    }

    @Test func commitThroughput() async throws {
        let single = try await Self.measure(policy: .eachChange, steps: 1_000)
        let batched = try await Self.measure(policy: .standard, steps: 20_000)
        print(String(format: "journal bench: one commit per change: %.0f changes/s (%.0f commits/s)", single.changes, single.commits))
        print(String(format: "journal bench: group commit 64/200 ms: %.0f changes/s (%.0f commits/s)", batched.changes, batched.commits))
    }

    @Test func secretCommits() async throws {
        let directory = try TemporaryDirectory()
        let store = try JournalStore.open(at: directory.file("bench.sqlite"), target: Fixtures.target, options: JournalOptions())
        try await store.startRun(Fixtures.runInfo)
        let count = 1_000
        try await store.upsertPlannedSteps(Self.plan(count))
        let elapsed = try await ContinuousClock().measure {
            for index in 0..<count {
                let id = "device:app/dev-\(index):is"
                try await store.markInFlight(step: id)
                try await store.markDone(step: id, apiKey: Fixtures.apiKey)
            }
        }
        try await store.close()
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        print(String(format: "journal bench: done-marks with API key secret (each committed): %.0f/s", Double(count) / seconds))
    }

    @Test func openLargeJournal() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("large.sqlite")
        let count = 100_000
        let store = try JournalStore.open(at: path, target: Fixtures.target, options: JournalOptions())
        try await store.startRun(Fixtures.runInfo)
        let upsert = try await ContinuousClock().measure { try await store.upsertPlannedSteps(Self.plan(count)) }
        try await store.close()
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let open = try await ContinuousClock().measure {
            let reopened = try JournalStore.open(at: path, target: Fixtures.target, options: JournalOptions())
            try await reopened.close()
        }
        let openUnchecked = try await ContinuousClock().measure {
            let reopened = try JournalStore.open(at: path, target: Fixtures.target, options: JournalOptions(verifyIntegrityOnOpen: false))
            try await reopened.close()
        }
        let replan = try await ContinuousClock().measure {
            let reopened = try JournalStore.open(at: path, target: Fixtures.target, options: JournalOptions(verifyIntegrityOnOpen: false))
            try await reopened.startRun(Fixtures.runInfo)
            try await reopened.upsertPlannedSteps(Self.plan(count))
            try await reopened.close()
        }
        print("journal bench: \(count) steps, \(size / 1024) KiB: first upsert \(upsert), open with quick_check \(open), without \(openUnchecked), reopen + re-plan \(replan)")
    }
}
