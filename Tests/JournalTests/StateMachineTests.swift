import Foundation
import Testing
@testable import Journal

/// Legal and illegal state changes, attempts, and what each change records.
@Suite struct StateMachineTests {
    /// The whole transition table, written out by hand (DESIGN.md §6 plus rollback and resume resets).
    static let table: [(StepState, Set<StepState>)] = [
        (.pending, [.inFlight, .done, .failed, .skipped]),
        (.inFlight, [.inFlight, .done, .failed, .skipped, .pending]),
        (.failed, [.inFlight, .done, .failed, .skipped]),
        (.skipped, [.pending]),
        (.done, [.rolledBack]),
        (.rolledBack, [.pending]),
    ]

    @Test(arguments: table)
    func allowedNextStates(from: StepState, allowed: Set<StepState>) {
        #expect(from.allowedNext == allowed)
    }

    @Test func storedSpellings() {
        #expect(StepState.allCases.map(\.rawValue) == ["pending", "in_flight", "done", "failed", "skipped", "rolled_back"])
        #expect(StepComponent.allCases.map(\.rawValue) == ["is", "js", "ns", "as"])
        #expect([StepComponent.applicationServer, .identityServer, .networkServer, .joinServer].sorted()
            == [.identityServer, .joinServer, .networkServer, .applicationServer])
    }

    /// Every state reachable in a journal, and every change out of it: allowed ones succeed and are
    /// stored, the others throw `illegalTransition` and change nothing.
    @Test func everyTransitionIsCheckedAgainstTheTable() async throws {
        let legal: [StepState: Set<StepState>] = [
            .pending: [.inFlight, .done, .failed, .skipped],
            .inFlight: [.inFlight, .done, .failed, .skipped, .pending],
            .failed: [.inFlight, .done, .failed, .skipped],
            .skipped: [.pending],
            .done: [.rolledBack],
            .rolledBack: [.pending],
        ]
        // Paths from pending to each state.
        let routes: [StepState: [StepState]] = [
            .pending: [],
            .inFlight: [.inFlight],
            .failed: [.inFlight, .failed],
            .skipped: [.skipped],
            .done: [.inFlight, .done],
            .rolledBack: [.inFlight, .done, .rolledBack],
        ]
        let directory = try TemporaryDirectory()
        let store = try JournalStore.open(at: directory.file("j.sqlite"), target: Fixtures.target, options: Fixtures.options())
        try await store.startRun(Fixtures.runInfo)
        var planned: [PlannedStep] = []
        for from in StepState.allCases {
            for to in StepState.allCases {
                planned.append(PlannedStep(id: "t:\(from)->\(to)", kind: "k", entityType: "test", entityKey: "\(from)-\(to)", component: .identityServer))
            }
        }
        try await store.upsertPlannedSteps(planned)
        for from in StepState.allCases {
            for to in StepState.allCases {
                let id = "t:\(from)->\(to)"
                for state in routes[from]! { try await Self.move(store, id, to: state) }
                #expect(await store.state(of: id) == from)
                if legal[from]!.contains(to) {
                    try await Self.move(store, id, to: to)
                    #expect(await store.state(of: id) == to)
                } else {
                    await #expect(throws: JournalError.illegalTransition(step: id, from: from, to: to)) {
                        try await Self.move(store, id, to: to)
                    }
                    #expect(await store.state(of: id) == from)
                }
            }
        }
        // What was committed agrees with what the store said.
        let stored = try await store.steps()
        for step in stored {
            let parts = step.id.dropFirst(2).components(separatedBy: "->")
            let from = StepState(rawValue: parts[0])!
            let to = StepState(rawValue: parts[1])!
            #expect(step.state == (legal[from]!.contains(to) ? to : from), "\(step.id)")
        }
        try await store.close()
    }

    static func move(_ store: JournalStore, _ id: String, to state: StepState) async throws {
        switch state {
        case .pending: try await store.resetToPending(step: id)
        case .inFlight: try await store.markInFlight(step: id)
        case .done: try await store.markDone(step: id)
        case .failed: try await store.markFailed(step: id, error: "boom")
        case .skipped: try await store.markSkipped(step: id, reason: "impossible")
        case .rolledBack: try await store.markRolledBack(step: id)
        }
    }

    @Test func illegalTransitionMessageNamesStepAndAllowedStates() {
        let error = JournalError.illegalTransition(step: "gateway:gw-1:create", from: .done, to: .inFlight)
        #expect(error.description == "step gateway:gw-1:create cannot go from done to in_flight (from done it may go to: rolled_back); this is a bug in ttn-migrate: report it with the output of `ttn-migrate status`")
    }

    @Test func attemptsAndRecordedFields() async throws {
        let directory = try TemporaryDirectory()
        let clock = ManualClock(Fixtures.start)
        let store = try await Fixtures.openPlanned(directory.file("j.sqlite"), options: Fixtures.options(clock: clock))
        let id = "application:my-app:create"

        clock.advance(seconds: 10)
        #expect(try await store.markInFlight(step: id) == 1)
        clock.advance(seconds: 5)
        try await store.markFailed(step: id, error: "503 Service Unavailable", correlationID: "corr-1")
        clock.advance(seconds: 30)
        #expect(try await store.markInFlight(step: id) == 2)
        clock.advance(seconds: 2)
        try await store.markDone(step: id, result: ["application_id": "my-app"])

        let step = try #require(try await store.step(id))
        #expect(step == StepRecord(
            id: id, kind: "create_application", entityType: "application", entityKey: "my-app", component: .identityServer,
            state: .done, attempts: 2, lastError: "503 Service Unavailable", lastErrorCorrelationID: "corr-1",
            result: ["application_id": "my-app"], skipReason: nil, planPosition: 0,
            createdAt: Date(timeIntervalSince1970: 1_714_557_600), updatedAt: Date(timeIntervalSince1970: 1_714_557_647),
            firstAttemptedAt: Date(timeIntervalSince1970: 1_714_557_610), lastAttemptedAt: Date(timeIntervalSince1970: 1_714_557_645),
            runID: 1))
        try await store.close()
    }

    /// DESIGN.md §6–§7: reconciliation settles a step without sending (found done, or held by someone
    /// else); a retry after a transient error is one more attempt.
    @Test func reconciliationAndRetryMoves() async throws {
        let directory = try TemporaryDirectory()
        let store = try await Fixtures.openPlanned(directory.file("j.sqlite"), options: Fixtures.options())
        try await store.markDone(step: "application:my-app:create", result: ["application_id": "my-app"])
        try await store.markFailed(step: "device:my-app/dev-1:is", error: "device ID held by application other-app", correlationID: "c1")
        try await store.markFailed(step: "device:my-app/dev-1:is", error: "still held by application other-app", correlationID: "c2")
        #expect(try await store.markInFlight(step: "device:my-app/dev-1:js") == 1)
        #expect(try await store.markInFlight(step: "device:my-app/dev-1:js") == 2)
        #expect(try await store.markInFlight(step: "device:my-app/dev-1:js") == 3)

        let done = try #require(try await store.step("application:my-app:create"))
        #expect(done.state == .done)
        #expect(done.attempts == 0)
        #expect(done.result == ["application_id": "my-app"])
        let failed = try #require(try await store.step("device:my-app/dev-1:is"))
        #expect(failed.state == .failed)
        #expect(failed.attempts == 0)
        #expect(failed.lastError == "still held by application other-app")
        #expect(failed.lastErrorCorrelationID == "c2")
        #expect(try await store.step("device:my-app/dev-1:js")?.attempts == 3)
        try await store.close()
    }

    @Test func skipRecordsTheReasonAndResetClearsIt() async throws {
        let directory = try TemporaryDirectory()
        let store = try await Fixtures.openPlanned(directory.file("j.sqlite"), options: Fixtures.options())
        let id = "device:my-app/dev-1:js"
        try await store.markSkipped(step: id, reason: "no v3 account for collaborator bob")
        var step = try #require(try await store.step(id))
        #expect(step.state == .skipped)
        #expect(step.skipReason == "no v3 account for collaborator bob")
        #expect(step.attempts == 0)
        try await store.resetToPending(step: id)
        step = try #require(try await store.step(id))
        #expect(step.state == .pending)
        #expect(step.skipReason == nil)
        try await store.close()
    }

    @Test func unknownStepAndMissingRunAreTypedErrors() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let store = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        await #expect(throws: JournalError.noRunStarted(path: path)) { try await store.upsertPlannedSteps(Fixtures.plan) }
        try await store.startRun(Fixtures.runInfo)
        await #expect(throws: JournalError.unknownStep(step: "gateway:nope:create")) {
            try await store.markInFlight(step: "gateway:nope:create")
        }
        try await store.close()
        await #expect(throws: JournalError.closed(path: path)) { try await store.markInFlight(step: "application:my-app:create") }
    }

    @Test func resetInterruptedPutsInFlightStepsBackToPending() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let store = try await Fixtures.openPlanned(path, options: Fixtures.options())
        try await store.markInFlight(step: "device:my-app/dev-1:ns")
        try await store.markInFlight(step: "application:my-app:create")
        try await store.markInFlight(step: "device:my-app/dev-1:is")
        try await store.markDone(step: "device:my-app/dev-1:is")
        try await store.flush()
        // A kill here leaves two steps in flight.
        await store.discardUnflushedAndClose()

        let resumed = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        try await resumed.startRun(Fixtures.runInfo)
        #expect(try await resumed.resetInterrupted() == ["application:my-app:create", "device:my-app/dev-1:ns"])
        #expect(try await resumed.stateCounts() == [.pending: 5, .inFlight: 0, .done: 1, .failed: 0, .skipped: 0, .rolledBack: 0])
        // The attempt counts survive; the next attempt is the second.
        #expect(try await resumed.markInFlight(step: "application:my-app:create") == 2)
        try await resumed.close()
    }
}
