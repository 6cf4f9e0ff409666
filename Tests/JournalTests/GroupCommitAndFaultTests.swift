import Foundation
import Testing
@testable import Journal

/// Group commit (what is durable when), secrets committed with their done-mark, injected write faults.
@Suite struct GroupCommitAndFaultTests {
    /// Never commits on its own within a test: only flush, secrets and non-step writes commit.
    static let manualCommit = GroupCommitPolicy(maxBatch: 100_000, maxDelay: .seconds(3600))

    @Test func changesAreVisibleToOtherReadersOnlyAfterFlush() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let writer = try await Fixtures.openPlanned(path, options: Fixtures.options(groupCommit: Self.manualCommit))
        let reader = try JournalStore.openForReading(at: path, options: Fixtures.options())

        try await writer.markInFlight(step: "application:my-app:create")
        try await writer.markDone(step: "application:my-app:create", result: ["application_id": "my-app"])
        #expect(await writer.state(of: "application:my-app:create") == .done)
        #expect(try await reader.step("application:my-app:create")?.state == .pending)
        #expect(await writer.commitStatistics() == JournalCommitStatistics(commits: 2, changes: 0))

        try await writer.flush()
        #expect(try await reader.step("application:my-app:create")?.state == .done)
        #expect(await writer.commitStatistics() == JournalCommitStatistics(commits: 3, changes: 2))
        try await reader.close()
        try await writer.close()
    }

    @Test func batchCommitsWhenFull() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let writer = try await Fixtures.openPlanned(
            path, options: Fixtures.options(groupCommit: GroupCommitPolicy(maxBatch: 3, maxDelay: .seconds(3600))))
        let reader = try JournalStore.openForReading(at: path, options: Fixtures.options())

        try await writer.markInFlight(step: "device:my-app/dev-1:is")
        try await writer.markInFlight(step: "device:my-app/dev-1:js")
        #expect(try await reader.stateCounts()[.inFlight] == 0)
        // The full batch is handed to the writer queue: it commits without a flush (the delay is an hour).
        try await writer.markInFlight(step: "device:my-app/dev-1:ns")
        let deadline = ContinuousClock.now + .seconds(60)
        while try await reader.stateCounts()[.inFlight] != 3, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(try await reader.stateCounts()[.inFlight] == 3)
        #expect(await writer.commitStatistics() == JournalCommitStatistics(commits: 3, changes: 3))
        try await reader.close()
        try await writer.close()
    }

    @Test func batchCommitsAfterTheDelay() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let writer = try await Fixtures.openPlanned(
            path, options: Fixtures.options(groupCommit: GroupCommitPolicy(maxBatch: 1000, maxDelay: .milliseconds(50))))
        let reader = try JournalStore.openForReading(at: path, options: Fixtures.options())

        try await writer.markInFlight(step: "device:my-app/dev-1:is")
        var visible = false
        // Liveness, not speed: beside the whole suite on two cores the 50 ms timer's task waited 9–15 s for a
        // thread of the cooperative pool (a timer that never fires still fails).
        let deadline = ContinuousClock.now + .seconds(60)
        while !visible && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
            visible = try await reader.step("device:my-app/dev-1:is")?.state == .inFlight
        }
        #expect(visible, "the change was not committed by the 50 ms timer within 60 s")
        #expect(await writer.commitStatistics() == JournalCommitStatistics(commits: 3, changes: 1))
        try await reader.close()
        try await writer.close()
    }

    @Test func eachChangePolicyCommitsBeforeReturning() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let writer = try await Fixtures.openPlanned(path, options: Fixtures.options(groupCommit: .eachChange))
        let reader = try JournalStore.openForReading(at: path, options: Fixtures.options())
        try await writer.markInFlight(step: "device:my-app/dev-1:is")
        #expect(try await reader.step("device:my-app/dev-1:is")?.state == .inFlight)
        try await writer.markFailed(step: "device:my-app/dev-1:is", error: "timeout")
        #expect(try await reader.step("device:my-app/dev-1:is")?.state == .failed)
        #expect(await writer.commitStatistics() == JournalCommitStatistics(commits: 4, changes: 2))
        try await reader.close()
        try await writer.close()
    }

    /// A kill loses only what was not committed; what is in the file is exactly the last commit.
    @Test func crashWithoutFlushKeepsTheLastCommittedState() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let clock = ManualClock(Fixtures.start)
        let writer = try await Fixtures.openPlanned(path, options: Fixtures.options(clock: clock, groupCommit: Self.manualCommit))
        try await writer.markInFlight(step: "application:my-app:create")
        clock.advance(seconds: 1)
        try await writer.markDone(step: "application:my-app:create", result: ["application_id": "my-app"])
        try await writer.markInFlight(step: "device:my-app/dev-1:is")
        try await writer.flush()
        // Not flushed: lost in the crash.
        clock.advance(seconds: 1)
        try await writer.markDone(step: "device:my-app/dev-1:is")
        try await writer.markInFlight(step: "device:my-app/dev-1:js")
        await writer.discardUnflushedAndClose()

        let reopened = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options(clock: clock))
        #expect(try await reopened.stateCounts() == [.pending: 4, .inFlight: 1, .done: 1, .failed: 0, .skipped: 0, .rolledBack: 0])
        #expect(await reopened.state(of: "device:my-app/dev-1:is") == .inFlight)
        #expect(await reopened.state(of: "device:my-app/dev-1:js") == .pending)
        let done = try #require(try await reopened.step("application:my-app:create"))
        #expect(done.state == .done)
        #expect(done.updatedAt == Date(timeIntervalSince1970: 1_714_557_601))
        try await reopened.close()
    }

    @Test func apiKeySecretIsDurableWhenMarkDoneReturns() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let writer = try await Fixtures.openPlanned(path, options: Fixtures.options(groupCommit: Self.manualCommit))
        try await writer.markInFlight(step: "application:my-app:create")
        try await writer.markInFlight(step: "api_key:my-app/default:create")
        try await writer.markDone(step: "api_key:my-app/default:create", result: ["key_id": "KEYID0001"], apiKey: Fixtures.apiKey)
        // Not flushed: lost in the crash.
        try await writer.markFailed(step: "application:my-app:create", error: "late")
        await writer.discardUnflushedAndClose()

        let reopened = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        #expect(try await reopened.apiKeys() == [APIKeyRecord(
            stepID: "api_key:my-app/default:create", runID: 1, key: Fixtures.apiKey,
            createdAt: Fixtures.start)])
        #expect(try await reopened.step("api_key:my-app/default:create")?.result == ["key_id": "KEYID0001"])
        // The change queued before the secret was committed with it.
        #expect(await reopened.state(of: "application:my-app:create") == .inFlight)
        try await reopened.close()
    }

    @Test func secretsNeverAppearInDescriptions() throws {
        #expect(!Fixtures.apiKey.description.contains("SECRET"))
        #expect(!String(reflecting: Fixtures.apiKey).contains("SECRET"))
        #expect(Fixtures.apiKey.description == "API key KEYID0001 \"v2: default tag12345\" of application my-app (secret hidden)")
        let record = APIKeyRecord(stepID: "s", runID: 1, key: Fixtures.apiKey, createdAt: Fixtures.start)
        #expect(!record.description.contains("SECRET"))
        #expect(!"\(record)".contains("SECRET"))
    }

    /// A planned journal committing every 2 changes (never by time) whose write `number` fails.
    static func openInBatchesOfTwo(_ path: String, failingWrite number: Int) async throws -> JournalStore {
        try await Fixtures.openPlanned(
            path, options: Fixtures.options(groupCommit: GroupCommitPolicy(maxBatch: 2, maxDelay: .seconds(3600)),
                                            faults: .failWrite(number: number)))
    }

    @Test func injectedWriteFailureStopsCleanlyAndResumes() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        // Write 1: run start, 2: plan, 3: the first batch of two changes.
        let writer = try await Self.openInBatchesOfTwo(path, failingWrite: 3)
        try await writer.markInFlight(step: "application:my-app:create")
        let expected = JournalError.writeFailed(path: path, reason: "injected fault in write #3")
        // The full batch is committed off the actor, so its failure reaches the next call, at the latest a flush.
        try await writer.markInFlight(step: "device:my-app/dev-1:is")
        await #expect(throws: expected) { try await writer.flush() }
        #expect(expected.description == "journal write failed: injected fault in write #3 (\(path)); the run stopped cleanly; fix the cause and run the same command to resume")
        // Every later call gets the same error.
        await #expect(throws: expected) { try await writer.markInFlight(step: "device:my-app/dev-1:js") }
        await #expect(throws: expected) { try await writer.flush() }
        await #expect(throws: expected) { try await writer.stateCounts() }
        try await writer.close()

        let resumed = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        try await resumed.startRun(Fixtures.runInfo)
        #expect(try await resumed.stateCounts() == [.pending: 6, .inFlight: 0, .done: 0, .failed: 0, .skipped: 0, .rolledBack: 0])
        #expect(try await resumed.markInFlight(step: "application:my-app:create") == 1)
        try await resumed.close()
    }

    @Test func failedSecretCommitStoresNothing() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        // Write 1: run start, 2: plan, 3: flush of the in-flight mark, 4: the done-mark with the secret.
        let writer = try await Fixtures.openPlanned(
            path, options: Fixtures.options(groupCommit: Self.manualCommit, faults: .failWrite(number: 4)))
        try await writer.markInFlight(step: "api_key:my-app/default:create")
        try await writer.flush()
        await #expect(throws: JournalError.writeFailed(path: path, reason: "injected fault in write #4")) {
            try await writer.markDone(step: "api_key:my-app/default:create", apiKey: Fixtures.apiKey)
        }
        try await writer.close()

        let reopened = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        #expect(try await reopened.apiKeys() == [])
        #expect(await reopened.state(of: "api_key:my-app/default:create") == .inFlight)
        try await reopened.close()
    }

    /// A commit handed off that fails stops every later write, even one queued before the failure was
    /// seen: the journal never holds a change whose predecessors were lost.
    @Test func nothingIsWrittenAfterAFailedHandedOffCommit() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        // Write 1: run start, 2: plan, 3: the batch of two in-flight marks (handed off), 4: the secret.
        let writer = try await Self.openInBatchesOfTwo(path, failingWrite: 3)
        try await writer.markInFlight(step: "application:my-app:create")
        try await writer.markInFlight(step: "api_key:my-app/default:create")
        let expected = JournalError.writeFailed(path: path, reason: "injected fault in write #3")
        await #expect(throws: expected) {
            try await writer.markDone(step: "api_key:my-app/default:create", apiKey: Fixtures.apiKey)
        }
        await #expect(throws: expected) { try await writer.markInFlight(step: "device:my-app/dev-1:is") }
        try await writer.close()

        let reopened = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        #expect(try await reopened.apiKeys() == [])
        #expect(try await reopened.stateCounts()[.pending] == 6)
        try await reopened.close()
    }

    @Test func sizeLimitFailsLikeAFullDisk() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let store = try JournalStore.open(
            at: path, target: Fixtures.target, options: Fixtures.options(faults: .maxSize(bytes: 128 * 1024)))
        try await store.startRun(Fixtures.runInfo)
        let big = (0..<5000).map {
            PlannedStep(id: "device:app/device-number-\($0):is", kind: "create_device_is", entityType: "device",
                        entityKey: "app/device-number-\($0)", component: .identityServer)
        }
        await #expect(throws: JournalError.writeFailed(
            path: path, reason: "the disk or the journal's size limit is full (SQLite error 13: database or disk is full)")) {
            try await store.upsertPlannedSteps(big)
        }
        try await store.close()

        let reopened = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        #expect(try await reopened.steps() == [])
        #expect(try await reopened.runs().count == 1)
        try await reopened.close()
    }
}
