import Foundation
import GRDB
import Testing
@testable import Journal

/// The plan upsert and the queries behind `status` and `keys`.
@Suite struct QueryTests {
    @Test func upsertInsertsNewStepsKeepsStatesAndReportsLeftovers() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let clock = ManualClock(Fixtures.start)
        let store = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options(clock: clock))
        try await store.startRun(Fixtures.runInfo)
        let first = try await store.upsertPlannedSteps(Fixtures.plan)
        #expect(first == PlanUpsertReport(
            inserted: ["application:my-app:create", "api_key:my-app/default:create", "device:my-app/dev-1:is",
                       "device:my-app/dev-1:js", "device:my-app/dev-1:ns", "device:my-app/dev-1:as"],
            kept: 0, redescribed: [], notInPlan: []))
        try await store.markInFlight(step: "application:my-app:create")
        try await store.markDone(step: "application:my-app:create", result: ["application_id": "my-app"])
        try await store.close()

        clock.advance(seconds: 60)
        let resumed = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options(clock: clock))
        try await resumed.startRun(Fixtures.runInfo)
        // The device lost its AS step, the API key step changed kind, a gateway is new and first.
        var plan = Fixtures.plan.filter { $0.id != "device:my-app/dev-1:as" }
        plan[1].kind = "create_application_api_key"
        plan.insert(PlannedStep(id: "gateway:gw-1:create", kind: "create_gateway", entityType: "gateway", entityKey: "gw-1", component: .identityServer), at: 0)
        let second = try await resumed.upsertPlannedSteps(plan)
        #expect(second == PlanUpsertReport(
            inserted: ["gateway:gw-1:create"], kept: 5, redescribed: ["api_key:my-app/default:create"],
            notInPlan: [StepRecord(
                id: "device:my-app/dev-1:as", kind: "create_device_as", entityType: "device", entityKey: "my-app/dev-1",
                component: .applicationServer, state: .pending, attempts: 0, lastError: nil, lastErrorCorrelationID: nil,
                result: nil, skipReason: nil, planPosition: 6, createdAt: Fixtures.start, updatedAt: Fixtures.start,
                firstAttemptedAt: nil, lastAttemptedAt: nil, runID: 1)]))
        #expect(await resumed.state(of: "application:my-app:create") == .done)
        #expect(try await resumed.step("api_key:my-app/default:create")?.kind == "create_application_api_key")
        #expect(try await resumed.step("gateway:gw-1:create")?.runID == 2)
        // Plan order: the new plan's, then the step it dropped.
        #expect(try await resumed.steps().map(\.id) == [
            "gateway:gw-1:create", "application:my-app:create", "api_key:my-app/default:create", "device:my-app/dev-1:is",
            "device:my-app/dev-1:js", "device:my-app/dev-1:ns", "device:my-app/dev-1:as",
        ])
        try await resumed.close()
    }

    /// A step's result is read back as written; one that is not a JSON object of strings is named as damage.
    @Test func stepResultsReadBackAndDamagedOnesAreNamed() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let store = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        try await store.startRun(Fixtures.runInfo)
        try await store.upsertPlannedSteps(Fixtures.plan)
        try await store.markInFlight(step: "application:my-app:create")
        try await store.markDone(step: "application:my-app:create", result: ["application_id": "my-app", "note": "é \"quoted\""])
        #expect(try await store.steps().first { $0.id == "application:my-app:create" }?.result
            == ["application_id": "my-app", "note": "é \"quoted\""])
        try await store.close()

        for damaged in [#"{"application_id": 7}"#, #"["my-app"]"#, #"{"application_id": "my-app""#] {
            let queue = try DatabaseQueue(path: path)
            try await queue.write { db in
                try db.execute(sql: "UPDATE steps SET result_json = ? WHERE id = 'application:my-app:create'", arguments: [damaged])
            }
            try queue.close()
            let reopened = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
            await #expect(throws: JournalError.corrupt(path: path, reason: "the result of step application:my-app:create is not valid JSON"), "\(damaged)") {
                _ = try await reopened.steps()
            }
            try await reopened.close()
        }
    }

    @Test func upsertRefusesInvalidPlans() async throws {
        let directory = try TemporaryDirectory()
        let store = try JournalStore.open(at: directory.file("j.sqlite"), target: Fixtures.target, options: Fixtures.options())
        try await store.startRun(Fixtures.runInfo)
        await #expect(throws: JournalError.invalidPlan(reason: "step application:my-app:create is listed twice")) {
            try await store.upsertPlannedSteps([Fixtures.plan[0], Fixtures.plan[1], Fixtures.plan[0]])
        }
        await #expect(throws: JournalError.invalidPlan(reason: "step gateway:x:create has an empty entity key")) {
            try await store.upsertPlannedSteps([PlannedStep(id: "gateway:x:create", kind: "create_gateway", entityType: "gateway", entityKey: "", component: .identityServer)])
        }
        await #expect(throws: JournalError.invalidPlan(reason: "step #1 has an empty id")) {
            try await store.upsertPlannedSteps([PlannedStep(id: "", kind: "k", entityType: "t", entityKey: "e", component: .identityServer)])
        }
        #expect(try await store.steps() == [])
        try await store.close()
    }

    @Test func statusQueries() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let clock = ManualClock(Fixtures.start)
        let store = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options(clock: clock))
        try await store.startRun(RunInfo(toolVersion: "0.1.0", commandLine: ["ttn-migrate", "run"]))
        var plan = Fixtures.plan
        plan += ["is", "js", "ns", "as"].map { component in
            PlannedStep(id: "device:my-app/dev-2:\(component)", kind: "create_device_\(component)", entityType: "device",
                        entityKey: "my-app/dev-2", component: StepComponent(rawValue: component)!)
        }
        plan.append(PlannedStep(id: "device:my-app/dev-2:as-formatter", kind: "set_formatter", entityType: "device",
                                entityKey: "my-app/dev-2", component: .applicationServer))
        try await store.upsertPlannedSteps(plan)

        clock.advance(seconds: 1)   // 10:00:01
        for id in ["application:my-app:create", "device:my-app/dev-1:is", "device:my-app/dev-2:is"] {
            try await store.markInFlight(step: id)
            try await store.markDone(step: id)
        }
        clock.advance(seconds: 1)   // 10:00:02
        try await store.markInFlight(step: "api_key:my-app/default:create")
        try await store.markDone(step: "api_key:my-app/default:create", apiKey: Fixtures.apiKey)
        try await store.markInFlight(step: "device:my-app/dev-1:js")
        try await store.markFailed(step: "device:my-app/dev-1:js", error: "409 already exists: held by another application", correlationID: "c-409")
        try await store.markSkipped(step: "device:my-app/dev-2:js", reason: "ABP device: no Join Server")
        try await store.markInFlight(step: "device:my-app/dev-2:ns")
        try await store.markDone(step: "device:my-app/dev-2:ns")
        try await store.markInFlight(step: "device:my-app/dev-2:as")
        try await store.markDone(step: "device:my-app/dev-2:as")
        try await store.markInFlight(step: "device:my-app/dev-2:as-formatter")
        try await store.finishRun(outcome: .failed)

        clock.advance(seconds: 98)  // 10:01:40
        try await store.startRun(RunInfo(toolVersion: "0.1.1", commandLine: ["ttn-migrate", "run", "--concurrency", "4"],
                                         snapshotPath: "/data/m.sqlite.v2.json", snapshotSHA256: "cafe"))
        try await store.resetInterrupted()
        try await store.markInFlight(step: "device:my-app/dev-1:js")
        try await store.markFailed(step: "device:my-app/dev-1:js", error: "503 unavailable", correlationID: "c-503")
        clock.advance(seconds: 20)  // 10:02:00
        try await store.markInFlight(step: "device:my-app/dev-2:as-formatter")
        try await store.markDone(step: "device:my-app/dev-2:as-formatter")

        #expect(try await store.stateCounts() == [.pending: 2, .inFlight: 0, .done: 7, .failed: 1, .skipped: 1, .rolledBack: 0])

        let errors = try await store.stepsWithErrors()
        #expect(errors.map(\.id) == ["device:my-app/dev-1:js"])
        #expect(errors.first?.lastError == "503 unavailable")
        #expect(errors.first?.lastErrorCorrelationID == "c-503")
        #expect(errors.first?.attempts == 2)
        #expect(errors.first?.entityKey == "my-app/dev-1")

        #expect(try await store.steps(in: [.skipped]).map(\.skipReason) == ["ABP device: no Join Server"])
        #expect(try await store.steps(in: []) == [])

        #expect(try await store.activity() == ActivitySpan(
            first: Date(timeIntervalSince1970: 1_714_557_601), last: Date(timeIntervalSince1970: 1_714_557_720)))

        #expect(try await store.runs() == [
            RunSummary(id: 1, startedAt: Fixtures.start, finishedAt: Date(timeIntervalSince1970: 1_714_557_602), outcome: .failed,
                       toolVersion: "0.1.0", commandLine: ["ttn-migrate", "run"], runTag: "tag12345", snapshotPath: nil,
                       snapshotSHA256: nil, stepsDone: 6, stepsFailed: 1, stepsSkipped: 1,
                       activity: ActivitySpan(first: Date(timeIntervalSince1970: 1_714_557_601), last: Date(timeIntervalSince1970: 1_714_557_602))),
            RunSummary(id: 2, startedAt: Date(timeIntervalSince1970: 1_714_557_700), finishedAt: nil, outcome: nil,
                       toolVersion: "0.1.1", commandLine: ["ttn-migrate", "run", "--concurrency", "4"], runTag: "tag12345",
                       snapshotPath: "/data/m.sqlite.v2.json", snapshotSHA256: "cafe", stepsDone: 1, stepsFailed: 1, stepsSkipped: 0,
                       activity: ActivitySpan(first: Date(timeIntervalSince1970: 1_714_557_700), last: Date(timeIntervalSince1970: 1_714_557_720))),
        ])

        let devices = try await store.entityProgress(entityType: "device")
        #expect(devices == [
            EntityProgress(entityKey: "my-app/dev-1", states: [
                .identityServer: .done, .joinServer: .failed, .networkServer: .pending, .applicationServer: .pending]),
            EntityProgress(entityKey: "my-app/dev-2", states: [
                .identityServer: .done, .joinServer: .skipped, .networkServer: .done, .applicationServer: .done]),
        ])
        #expect(devices[0].doneComponents == [.identityServer])
        #expect(devices[1].doneComponents == [.identityServer, .networkServer, .applicationServer])
        #expect(!devices[1].isComplete)
        #expect(try await store.entityProgress(entityType: "organization") == [])

        #expect(try await store.apiKeys() == [APIKeyRecord(
            stepID: "api_key:my-app/default:create", runID: 1, key: Fixtures.apiKey,
            createdAt: Date(timeIntervalSince1970: 1_714_557_602))])
        try await store.close()

        // `status` and `keys` read the same from another store.
        let reader = try JournalStore.openForReading(at: path, options: Fixtures.options())
        #expect(try await reader.stateCounts() == [.pending: 2, .inFlight: 0, .done: 7, .failed: 1, .skipped: 1, .rolledBack: 0])
        #expect(try await reader.apiKeys().map(\.key.secret) == ["NNSXS.SECRETSECRETSECRET"])
        #expect(try await reader.stepProgress() == [
            "application:my-app:create": StepProgress(state: .done, attempts: 1, hasAPIKeySecret: false),
            "api_key:my-app/default:create": StepProgress(state: .done, attempts: 1, hasAPIKeySecret: true),
            "device:my-app/dev-1:is": StepProgress(state: .done, attempts: 1, hasAPIKeySecret: false),
            "device:my-app/dev-1:js": StepProgress(state: .failed, attempts: 2, hasAPIKeySecret: false),
            "device:my-app/dev-1:ns": StepProgress(state: .pending, attempts: 0, hasAPIKeySecret: false),
            "device:my-app/dev-1:as": StepProgress(state: .pending, attempts: 0, hasAPIKeySecret: false),
            "device:my-app/dev-2:is": StepProgress(state: .done, attempts: 1, hasAPIKeySecret: false),
            "device:my-app/dev-2:js": StepProgress(state: .skipped, attempts: 0, hasAPIKeySecret: false),
            "device:my-app/dev-2:ns": StepProgress(state: .done, attempts: 1, hasAPIKeySecret: false),
            "device:my-app/dev-2:as": StepProgress(state: .done, attempts: 1, hasAPIKeySecret: false),
            "device:my-app/dev-2:as-formatter": StepProgress(state: .done, attempts: 2, hasAPIKeySecret: false),
        ])
        try await reader.close()
    }

    /// Rollback deletes the key in v3, so its secret leaves the journal in the same transaction.
    @Test func rollbackDeletesTheSecret() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let store = try await Fixtures.openPlanned(path, options: Fixtures.options())
        try await store.markInFlight(step: "api_key:my-app/default:create")
        try await store.markDone(step: "api_key:my-app/default:create", apiKey: Fixtures.apiKey)
        #expect(try await store.apiKeys().count == 1)
        try await store.markRolledBack(step: "api_key:my-app/default:create")
        #expect(try await store.apiKeys() == [])
        #expect(try await store.stepProgress()["api_key:my-app/default:create"]
            == StepProgress(state: .rolledBack, attempts: 1, hasAPIKeySecret: false))
        // Migrated again: a new key, a new secret.
        try await store.resetToPending(step: "api_key:my-app/default:create")
        try await store.markInFlight(step: "api_key:my-app/default:create")
        var second = Fixtures.apiKey
        second.keyID = "KEYID0002"
        second.secret = "NNSXS.OTHERSECRET"
        try await store.markDone(step: "api_key:my-app/default:create", apiKey: second)
        #expect(try await store.apiKeys().map(\.key) == [second])
        try await store.close()
    }

    @Test func combinedStatePrecedence() {
        #expect(JournalStore.combine(.done, .failed) == .failed)
        #expect(JournalStore.combine(.pending, .inFlight) == .inFlight)
        #expect(JournalStore.combine(.done, .pending) == .pending)
        #expect(JournalStore.combine(.skipped, .done) == .skipped)
        #expect(JournalStore.combine(.rolledBack, .done) == .rolledBack)
        #expect(JournalStore.combine(.done, .done) == .done)
        #expect(EntityProgress(entityKey: "a", states: [.identityServer: .done, .networkServer: .done]).isComplete)
        #expect(!EntityProgress(entityKey: "a", states: [:]).isComplete)
    }
}
