import Foundation
import GRDB
import Testing
@testable import Journal

/// A step put in flight and finished within one batch is written with one UPDATE (issue 12); the file
/// must hold exactly what separate commits of each change leave.
@Suite struct BatchMergeTests {
    /// Every row of the step, event and key tables, as text, in a fixed order.
    private static func dump(_ path: String) throws -> [String] {
        try journalRows(path, [
            "SELECT * FROM steps ORDER BY id",
            "SELECT run_id, step_id, from_state, to_state, at_ms FROM step_events ORDER BY id",
            "SELECT * FROM api_keys ORDER BY step_id",
        ])
    }

    /// The same changes, at the same times, under a commit policy.
    private static func migrate(_ path: String, policy: GroupCommitPolicy) async throws -> JournalCommitStatistics {
        let clock = ManualClock(Fixtures.start)
        let writer = try await Fixtures.openPlanned(path, options: Fixtures.options(clock: clock, groupCommit: policy))
        try await writer.markInFlight(step: "application:my-app:create")
        clock.advance(seconds: 1)
        try await writer.markDone(step: "application:my-app:create", result: ["application_id": "my-app"])
        try await writer.markInFlight(step: "device:my-app/dev-1:is")
        try await writer.markInFlight(step: "device:my-app/dev-1:js")
        clock.advance(seconds: 1)
        try await writer.markFailed(step: "device:my-app/dev-1:is", error: "HTTP 500", correlationID: "c-1")
        try await writer.markInFlight(step: "device:my-app/dev-1:is")
        clock.advance(seconds: 1)
        try await writer.markDone(step: "device:my-app/dev-1:is")
        try await writer.markInFlight(step: "api_key:my-app/default:create")
        try await writer.markDone(step: "api_key:my-app/default:create", apiKey: Fixtures.apiKey)
        try await writer.markSkipped(step: "device:my-app/dev-1:as", reason: "no AS part")
        try await writer.flush()
        let statistics = await writer.commitStatistics()
        try await writer.close()
        return statistics
    }

    @Test func oneBatchLeavesWhatACommitPerChangeLeaves() async throws {
        let directory = try TemporaryDirectory()
        let batched = directory.file("batched.sqlite")
        let separate = directory.file("separate.sqlite")
        let batchedCommits = try await Self.migrate(batched, policy: GroupCommitAndFaultTests.manualCommit)
        let separateCommits = try await Self.migrate(separate, policy: .eachChange)
        // 10 changes: one commit each, or two batches (the secret's done-mark commits what came before it).
        #expect(separateCommits.changes == 10)
        #expect(batchedCommits.changes == 10)
        #expect(batchedCommits.commits < separateCommits.commits)

        let rows = try Self.dump(batched)
        #expect(rows == (try Self.dump(separate)))
        #expect(rows.count == 6 + 10 + 1)
        let reader = try JournalStore.openForReading(at: batched, options: Fixtures.options())
        let device = try #require(try await reader.step("device:my-app/dev-1:is"))
        #expect(device.state == .done)
        #expect(device.attempts == 2)
        #expect(device.firstAttemptedAt == Fixtures.start.addingTimeInterval(1))
        #expect(device.lastAttemptedAt == Fixtures.start.addingTimeInterval(2))
        #expect(device.lastError == "HTTP 500")
        #expect(try await reader.step("device:my-app/dev-1:js")?.state == .inFlight)
        try await reader.close()
    }

    @Test func aStepChangedBehindTheJournalsBackFailsTheMergedWrite() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let writer = try await Fixtures.openPlanned(path, options: Fixtures.options(groupCommit: GroupCommitAndFaultTests.manualCommit))
        try await writer.markInFlight(step: "application:my-app:create")
        try await writer.markDone(step: "application:my-app:create", result: ["application_id": "my-app"])
        let other = try DatabaseQueue(path: path)
        try await other.write { try $0.execute(sql: "UPDATE steps SET state = 'skipped' WHERE id = 'application:my-app:create'") }
        try other.close()

        await #expect {
            try await writer.flush()
        } throws: { error in
            "\(error)".contains("step application:my-app:create was not pending in the file, so another program changed the journal")
        }
        await writer.discardUnflushedAndClose()
        #expect(try Self.dump(path).contains { $0.contains("application:my-app:create") && $0.contains("skipped") })
    }
    /// A batch of more events than one INSERT writes (two full ones and a shorter last) keeps every event,
    /// in order, as separate commits do.
    @Test func eventsOfALargeBatchAreAllWrittenInOrder() async throws {
        let devices = (1...13).map { "dev-\($0)" }
        let plan = devices.flatMap { device in
            [StepComponent.identityServer, .joinServer, .networkServer].map { component in
                PlannedStep(id: "device:my-app/\(device):\(component.rawValue)", kind: "create_device", entityType: "device",
                            entityKey: "my-app/\(device)", component: component)
            }
        }
        func migrate(_ path: String, policy: GroupCommitPolicy) async throws -> JournalCommitStatistics {
            let clock = ManualClock(Fixtures.start)
            let writer = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options(clock: clock, groupCommit: policy))
            try await writer.startRun(Fixtures.runInfo)
            try await writer.upsertPlannedSteps(plan)
            for (index, step) in plan.enumerated() {
                try await writer.markInFlight(step: step.id)
                clock.advance(seconds: 1)
                if index % 5 == 0 { try await writer.markFailed(step: step.id, error: "HTTP 503") } else { try await writer.markDone(step: step.id) }
            }
            try await writer.flush()
            let statistics = await writer.commitStatistics()
            try await writer.close()
            return statistics
        }
        let directory = try TemporaryDirectory()
        let batched = directory.file("batched.sqlite")
        let separate = directory.file("separate.sqlite")
        #expect(try await migrate(batched, policy: GroupCommitAndFaultTests.manualCommit).changes == 78)
        #expect(try await migrate(separate, policy: .eachChange).changes == 78)
        let rows = try Self.dump(batched)
        #expect(rows == (try Self.dump(separate)))
        #expect(rows.count == 39 + 78)
    }
}
