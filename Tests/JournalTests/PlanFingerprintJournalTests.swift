import Foundation
import Testing
@testable import Journal

/// `hasCarriedOut(planFingerprint:)`: true only when a run of that plan completed and every step is done.
@Suite struct CarriedOutPlanTests {
    /// A journal whose run of plan "f1" ends with every step done.
    func finished(_ path: String, fingerprint: String = "f1", outcome: RunOutcome = .completed) async throws -> JournalStore {
        let store = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        var info = Fixtures.runInfo
        info.planFingerprint = fingerprint
        try await store.startRun(info)
        try await store.upsertPlannedSteps(Fixtures.plan)
        for step in Fixtures.plan {
            try await store.markInFlight(step: step.id)
            try await store.markDone(step: step.id, result: [:])
        }
        try await store.finishRun(outcome: outcome)
        return store
    }

    @Test func aCompletedRunOfThePlanWithEveryStepDoneIsCarriedOut() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let store = try await finished(path)
        #expect(try await store.hasCarriedOut(planFingerprint: "f1"))
        #expect(try await !store.hasCarriedOut(planFingerprint: "f2"), "another plan (changed estate or configuration)")
        try await store.close()

        // The answer survives closing: the fingerprint is stored with the run, and it is listed with it.
        let reopened = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        #expect(try await reopened.hasCarriedOut(planFingerprint: "f1"))
        #expect(try await reopened.runs().map(\.planFingerprint) == ["f1"])
        try await reopened.close()
    }

    @Test func aRunThatDidNotCompleteCarriedNothingOut() async throws {
        let directory = try TemporaryDirectory()
        for outcome in [RunOutcome.failed, .interrupted, .stopped] {
            let store = try await finished(directory.file("\(outcome.rawValue).sqlite"), outcome: outcome)
            #expect(try await !store.hasCarriedOut(planFingerprint: "f1"), "\(outcome)")
            try await store.close()
        }
    }

    @Test func aStepThatIsNotDoneLeavesWorkToDo() async throws {
        let directory = try TemporaryDirectory()
        let rolledBack = try await finished(directory.file("rolled-back.sqlite"))
        try await rolledBack.markRolledBack(step: "device:my-app/dev-1:as")
        #expect(try await !rolledBack.hasCarriedOut(planFingerprint: "f1"))
        try await rolledBack.close()

        // A step a later plan added (a new device in v2) is pending: the old plan's run does not cover it.
        let grown = try await finished(directory.file("grown.sqlite"))
        try await grown.startRun(Fixtures.runInfo)
        try await grown.upsertPlannedSteps(Fixtures.plan + [PlannedStep(
            id: "device:my-app/dev-2:is", kind: "create_device_is", entityType: "device", entityKey: "my-app/dev-2", component: .identityServer)])
        #expect(try await !grown.hasCarriedOut(planFingerprint: "f1"))
        try await grown.close()
    }

    @Test func anEmptyJournalHasCarriedOutNothing() async throws {
        let directory = try TemporaryDirectory()
        let store = try JournalStore.open(at: directory.file("j.sqlite"), target: Fixtures.target, options: Fixtures.options())
        var info = Fixtures.runInfo
        info.planFingerprint = "f1"
        try await store.startRun(info)
        try await store.finishRun(outcome: .completed)
        #expect(try await !store.hasCarriedOut(planFingerprint: "f1"))
        try await store.close()
    }
}
