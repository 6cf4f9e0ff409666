import Executor
import Foundation
import HTTP
import Journal
import Simulator
import Testing
import V3Client
@testable import TTNMigrateCLI

/// The undo order of the small estate's 13 steps, as the plan's dependencies give it (hand-derived:
/// an application after its collaborators, key, link and devices; a device AS, NS, JS, IS).
private let undoOrder = [
    "application:sensors:collaborator:user:bob-smith",
    "application:sensors:api-key:default%20key",
    "application:sensors:link",
    "device:sensors/dev-1:as",
    "device:sensors/dev-1:ns",
    "device:sensors/dev-1:js",
    "device:sensors/dev-1:is",
    "device:sensors/dev-2:as",
    "device:sensors/dev-2:ns",
    "device:sensors/dev-2:is",
    "application:sensors:create",
    "gateway:eui-b827ebfffe000001:api-key:link",
    "gateway:eui-b827ebfffe000001:create",
]

private let fastRetry = RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(5), maxDelay: .milliseconds(10))

extension MigrationFixture {
    func rollback(force: Bool, config: String? = nil) async -> (code: Int32, out: String, err: String) {
        await runCLI(["rollback", "--config", config ?? configPath, "--journal", journal] + (force ? ["--force"] : []))
    }

    /// A copy of the configuration with `replace` applied (and `append` added), in the fixture's directory.
    func config(named name: String, replacing old: String = "", with new: String = "", append: String = "") throws -> String {
        var text = try String(contentsOfFile: configPath, encoding: .utf8)
        if !old.isEmpty {
            #expect(text.contains(old))
            text = text.replacingOccurrences(of: old, with: new)
        }
        return try v2.directory.write(name, text + append)
    }

    /// The rollback as a library call with a fast retry policy; its report's exit code (0 when it returns).
    func rollbackInProcess(
        concurrency: Int = 8, stopAfter: Int? = nil, journalOptions: JournalOptions = JournalOptions()
    ) async throws -> (outcome: RollbackRunner.Outcome, code: Int32, out: String, err: String) {
        var settings = RollbackRunner.Settings(journalPath: journal)
        settings.retry = fastRetry
        settings.requestTimeout = .seconds(5)
        settings.concurrency = concurrency
        settings.journalOptions = journalOptions
        settings.commandLine = ["ttn-migrate", "rollback", "--config", configPath, "--journal", journal, "--force"]
        let runner = RollbackRunner(configuration: try MigrationConfiguration.load(path: configPath), settings: settings)
        let stop = StopSignal()
        let finished = Counter()
        let captured = CapturedOutput()
        return try await Console.$current.withValue(captured.console) {
            let outcome = try await runner.execute(stop: stop) { event in
                RollbackText.printEvent(event)
                if let stopAfter, event.kind != .retrying, finished.increment() >= stopAfter { stop.stop() }
            }
            var code: Int32 = 0
            do {
                try RollbackText.report(outcome, journal: journal, command: "ttn-migrate rollback --force")
            } catch {
                code = TTNMigrate.exitCode(for: error).rawValue
            }
            return (outcome, code, captured.out, captured.err)
        }
    }

    func journalStates() async throws -> [String: StepState] {
        let store = try JournalStore.openForReading(at: journal)
        defer { Task { try? await store.close() } }
        return Dictionary(uniqueKeysWithValues: try await store.steps().map { ($0.id, $0.state) })
    }

    var deleteRequests: [String] {
        v3.servers.flatMap(\.requestLog).filter { $0.method == "DELETE" }.sorted { $0.sequence < $1.sequence }.map(\.path)
    }

    var requestCount: Int { v3.servers.map(\.requestLog.count).reduce(0, +) }
}

/// The v3 state dump as Foundation objects.
private func stateObject(_ fixture: MigrationFixture) throws -> [String: Any] {
    try #require(JSONSerialization.jsonObject(with: Data(fixture.state.utf8)) as? [String: Any])
}

private func entry(_ state: [String: Any], _ kind: String, _ id: String) -> [String: Any]? {
    (state[kind] as? [String: Any])?[id] as? [String: Any]
}

/// What v3 holds once everything the small estate's migration created is undone: the application and
/// the gateway soft-deleted (fields kept, `deleted` set), only the owner as collaborator, no key, no
/// link, no device.
private func expectFullyRolledBack(_ fixture: MigrationFixture, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let state = try stateObject(fixture)
    let application = try #require(entry(state, "applications", "sensors"), sourceLocation: sourceLocation)
    #expect(Set(application.keys) == ["api_keys", "collaborators", "deleted", "fields"], sourceLocation: sourceLocation)
    #expect(application["deleted"] as? Bool == true, sourceLocation: sourceLocation)
    #expect((application["api_keys"] as? [Any])?.isEmpty == true, sourceLocation: sourceLocation)
    #expect((application["collaborators"] as? [String: [String]]) == ["user:alice": ["RIGHT_ALL"]], sourceLocation: sourceLocation)
    let gateway = try #require(entry(state, "gateways", "eui-b827ebfffe000001"), sourceLocation: sourceLocation)
    #expect(gateway["deleted"] as? Bool == true, sourceLocation: sourceLocation)
    #expect((gateway["collaborators"] as? [String: [String]]) == ["user:alice": ["RIGHT_ALL"]], sourceLocation: sourceLocation)
    #expect((gateway["api_keys"] as? [Any])?.isEmpty == true, "the link key is deleted too", sourceLocation: sourceLocation)
}

@Suite struct RollbackCommandTests {
    @Test func dryRunListsEveryDeletionThenForceDeletesItAllAndASecondRollbackIsANoOp() async throws {
        let fixture = try await MigrationFixture.start()
        defer { Task { await fixture.stop() } }
        #expect(try await fixture.run().summary.done == 13)
        let tag = try journalTag(fixture.journal)
        let reader = try JournalStore.openForReading(at: fixture.journal)
        let keyID = try #require(try await reader.apiKeys().first { $0.key.entityType == "application" }?.key.keyID)
        let linkKeyID = try #require(try await reader.apiKeys().first { $0.key.entityType == "gateway" }?.key.keyID)
        try await reader.close()
        let stateBefore = fixture.state
        let requestsBefore = fixture.requestCount

        // Dry run: every deletion in order with its request, the consequences; nothing sent or written.
        let dry = await fixture.rollback(force: false)
        #expect(dry.code == 0)
        #expect(dry.err.isEmpty)
        let lines = dry.out.components(separatedBy: "\n")
        #expect(lines[0] == "Rollback of journal \(fixture.journal): dry run, nothing is deleted and nothing is written.")
        #expect(lines[1] == "Target: \(fixture.v3.identityServerURL) (user alice); migration tag \(tag).")
        #expect(Array(lines[2...28]) == [
            "13 deletions, in this order:",
            "   1. remove collaborator user bob-smith from application sensors",
            "      DELETE /api/v3/applications/sensors/collaborator/user/bob-smith (Identity Server, step application:sensors:collaborator:user:bob-smith)",
            "   2. delete API key \"v2: default key [\(tag)]\" of application sensors",
            "      DELETE /api/v3/applications/sensors/api-keys/\(keyID) (Identity Server, step application:sensors:api-key:default%20key)",
            "   3. delete the link (default payload formatters) of application sensors from the Application Server",
            "      DELETE /api/v3/as/applications/sensors/link (Application Server, step application:sensors:link)",
            "   4. delete device sensors/dev-1 from the Application Server",
            "      DELETE /api/v3/as/applications/sensors/devices/dev-1 (Application Server, step device:sensors/dev-1:as)",
            "   5. delete device sensors/dev-1 from the Network Server",
            "      DELETE /api/v3/ns/applications/sensors/devices/dev-1 (Network Server, step device:sensors/dev-1:ns)",
            "   6. delete device sensors/dev-1 from the Join Server",
            "      DELETE /api/v3/js/applications/sensors/devices/dev-1 (Join Server, step device:sensors/dev-1:js)",
            "   7. delete device sensors/dev-1 from the Identity Server",
            "      DELETE /api/v3/applications/sensors/devices/dev-1 (Identity Server, step device:sensors/dev-1:is)",
            "   8. delete device sensors/dev-2 from the Application Server",
            "      DELETE /api/v3/as/applications/sensors/devices/dev-2 (Application Server, step device:sensors/dev-2:as)",
            "   9. delete device sensors/dev-2 from the Network Server",
            "      DELETE /api/v3/ns/applications/sensors/devices/dev-2 (Network Server, step device:sensors/dev-2:ns)",
            "  10. delete device sensors/dev-2 from the Identity Server",
            "      DELETE /api/v3/applications/sensors/devices/dev-2 (Identity Server, step device:sensors/dev-2:is)",
            "  11. delete application sensors",
            "      DELETE /api/v3/applications/sensors (Identity Server, step application:sensors:create)",
            "  12. delete API key \"v2: gateway key [\(tag)]\" of gateway eui-b827ebfffe000001",
            "      DELETE /api/v3/gateways/eui-b827ebfffe000001/api-keys/\(linkKeyID) (Identity Server, step gateway:eui-b827ebfffe000001:api-key:link)",
            "  13. delete gateway eui-b827ebfffe000001",
            "      DELETE /api/v3/gateways/eui-b827ebfffe000001 (Identity Server, step gateway:eui-b827ebfffe000001:create)",
        ])
        #expect(Array(lines[29...]) == [
            "Consequences:",
            "  - application sensors: v3 deletes applications softly; the ID sensors stays taken until an admin purges it (DELETE /api/v3/applications/sensors/purge, admin only).",
            "  - gateway eui-b827ebfffe000001: v3 deletes gateways softly; the ID eui-b827ebfffe000001 stays taken until an admin purges it (DELETE /api/v3/gateways/eui-b827ebfffe000001/purge, admin only); its EUI B827EBFFFE000001 is released and can be registered again.",
            "  - Running `ttn-migrate run` with this journal afterwards fails on these IDs (409 id_taken) unless an admin purges them or you give them new IDs with `rename:` in the configuration.",
            "  - 2 devices are deleted from the registries this journal wrote, with their keys, session and frame counters in v3.",
            "  - 2 API keys created by this migration stop working; the journal forgets their secrets.",
            "  - Nothing in v2 is changed.",
            "To delete: ttn-migrate rollback --config \(fixture.configPath) --journal \(fixture.journal) --force",
        ])
        #expect(fixture.state == stateBefore)
        #expect(fixture.requestCount == requestsBefore)
        #expect(try await fixture.journalStates().values.allSatisfy { $0 == .done })

        // --force: every deletion made, one line each, each step rolled back in the journal.
        let force = await fixture.rollback(force: true)
        #expect(force.code == 0)
        let forceLines = force.out.components(separatedBy: "\n")
        #expect(forceLines.count == 13)
        #expect(Set(forceLines.map { $0.replacingOccurrences(of: #"^\[\d+/13\] "#, with: "", options: .regularExpression) }) == [
            "done          remove collaborator user bob-smith from application sensors",
            "done          delete API key \"v2: default key [\(tag)]\" of application sensors",
            "done          delete the link (default payload formatters) of application sensors from the Application Server",
            "done          delete device sensors/dev-1 from the Application Server",
            "done          delete device sensors/dev-1 from the Network Server",
            "done          delete device sensors/dev-1 from the Join Server",
            "done          delete device sensors/dev-1 from the Identity Server",
            "done          delete device sensors/dev-2 from the Application Server",
            "done          delete device sensors/dev-2 from the Network Server",
            "done          delete device sensors/dev-2 from the Identity Server",
            "done          delete application sensors",
            "done          delete API key \"v2: gateway key [\(tag)]\" of gateway eui-b827ebfffe000001",
            "done          delete gateway eui-b827ebfffe000001",
        ])
        #expect(force.err.contains("rollback: 13 deleted, 0 already gone, 0 failed, 0 not attempted; 13 requests in "))
        #expect(force.err.contains(
            "note: v3 keeps the IDs of deleted applications and gateways taken until an admin purges them: application sensors, gateway eui-b827ebfffe000001"))
        try expectFullyRolledBack(fixture)

        // The order v3 saw: per device AS, NS, JS, IS; the application after its devices.
        let deletes = fixture.deleteRequests
        #expect(deletes.filter { $0.hasSuffix("/devices/dev-1") } == [
            "/api/v3/as/applications/sensors/devices/dev-1", "/api/v3/ns/applications/sensors/devices/dev-1",
            "/api/v3/js/applications/sensors/devices/dev-1", "/api/v3/applications/sensors/devices/dev-1",
        ])
        #expect(deletes.filter { $0.hasSuffix("/devices/dev-2") } == [
            "/api/v3/as/applications/sensors/devices/dev-2", "/api/v3/ns/applications/sensors/devices/dev-2",
            "/api/v3/applications/sensors/devices/dev-2",
        ])
        let applicationDelete = try #require(deletes.firstIndex(of: "/api/v3/applications/sensors"))
        for path in ["/api/v3/applications/sensors/devices/dev-1", "/api/v3/applications/sensors/devices/dev-2",
                     "/api/v3/applications/sensors/api-keys/\(keyID)", "/api/v3/applications/sensors/collaborator/user/bob-smith",
                     "/api/v3/as/applications/sensors/link"] {
            #expect(try #require(deletes.firstIndex(of: path)) < applicationDelete)
        }
        #expect(deletes.count == 13)

        let states = try await fixture.journalStates()
        #expect(states.count == 13)
        #expect(states.values.allSatisfy { $0 == .rolledBack })
        let store = try JournalStore.openForReading(at: fixture.journal)
        #expect(try await store.apiKeys().isEmpty)
        let runs = try await store.runs()
        try await store.close()
        #expect(runs.count == 2)
        #expect(runs.last?.commandLine == ["ttn-migrate", "rollback", "--config", fixture.configPath, "--journal", fixture.journal, "--force"])
        #expect(runs.last?.outcome == .completed)

        // The key export then holds no key.
        let keysFile = fixture.v2.directory.file("keys.json")
        let keys = await runCLI(["keys", "--journal", fixture.journal, "--out", keysFile])
        #expect(keys.code == 0)
        #expect(keys.out == "wrote 0 API keys to \(keysFile) (json, mode 0600)")
        let export = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: keysFile))) as? [String: Any])
        #expect((export["api_keys"] as? [Any])?.isEmpty == true)

        // Twice: nothing to do, nothing sent, nothing written.
        let stateAfter = fixture.state
        let requestsAfter = fixture.requestCount
        let again = await fixture.rollback(force: true)
        #expect(again.code == 0)
        #expect(again.out.isEmpty)
        #expect(again.err == "rollback: nothing to roll back (13 steps already rolled back). Journal: \(fixture.journal)")
        let dryAgain = await fixture.rollback(force: false)
        #expect(dryAgain.code == 0)
        #expect(dryAgain.out.components(separatedBy: "\n").last == "Nothing to roll back: no step of this journal is done (13 steps already rolled back).")
        #expect(fixture.state == stateAfter)
        #expect(fixture.requestCount == requestsAfter)
        let store2 = try JournalStore.openForReading(at: fixture.journal)
        #expect(try await store2.runs().count == 2)
        try await store2.close()
    }

    /// What the dry run warns about: after a rollback, `run` with the same journal fails on the
    /// soft-deleted application and gateway IDs (they stay taken); the rest is blocked behind them.
    @Test func runningAgainAfterARollbackFailsOnTheSoftDeletedIDs() async throws {
        let fixture = try await MigrationFixture.start()
        defer { Task { await fixture.stop() } }
        _ = try await fixture.run()
        #expect(await fixture.rollback(force: true).code == 0)

        let again = try await fixture.run(retry: fastRetry)
        #expect(again.summary.failed.map(\.stepID) == ["application:sensors:create", "gateway:eui-b827ebfffe000001:create"])
        for failure in again.summary.failed {
            #expect(failure.message.contains("deleted IDs stay taken"))
        }
        #expect(again.summary.blocked.count == 11)
    }

    /// JS, NS and AS answer 503: the IS-only deletions are made, the devices' cluster entries fail, and
    /// what must wait for them (each device's IS entry, the application) is not attempted; a second
    /// rollback once the cluster is back completes.
    @Test func clusterDownPartiallyFailsThenASecondRollbackCompletes() async throws {
        let fixture = try await MigrationFixture.start(v3Options: V3SimulatorLaunchOptions(split: true))
        defer { Task { await fixture.stop() } }
        #expect(try await fixture.run().summary.done == 13)
        fixture.v3.cluster.setFaults(try FaultSpec(parsing: "503=1.0"))

        let first = try await fixture.rollbackInProcess()
        #expect(first.code == 1)
        let summary = first.outcome.summary
        #expect(Set(summary.deleted) == [
            "application:sensors:collaborator:user:bob-smith", "application:sensors:api-key:default%20key",
            "gateway:eui-b827ebfffe000001:api-key:link", "gateway:eui-b827ebfffe000001:create",
        ])
        #expect(summary.alreadyGone.isEmpty)
        #expect(summary.failed.map(\.stepID) == ["application:sensors:link", "device:sensors/dev-1:as", "device:sensors/dev-2:as"])
        #expect(summary.blocked == [
            "device:sensors/dev-1:ns", "device:sensors/dev-1:js", "device:sensors/dev-1:is", "device:sensors/dev-2:ns",
            "device:sensors/dev-2:is", "application:sensors:create",
        ])
        for failure in summary.failed {
            let correlationID = try #require(failure.correlationID)
            #expect(correlationID.count == 32 && correlationID.allSatisfy(\.isHexDigit))
            #expect(failure.message.contains("Application Server answered 503"))
            #expect(failure.message.contains("[correlation ID \(correlationID)]"))
            #expect(first.err.contains("failed: \(failure.stepID): \(failure.message)"))
        }
        #expect(first.err.contains(
            "failed: device:sensors/dev-1:as: delete device sensors/dev-1 from the Application Server: Application Server answered 503"))
        #expect(first.err.contains("; v3 is unavailable or limiting requests: run the same command again later (it continues where it stopped)"))
        #expect(first.err.contains("not attempted: device:sensors/dev-1:ns: waits for device:sensors/dev-1:as"))
        #expect(first.err.contains("not attempted: device:sensors/dev-1:is: waits for device:sensors/dev-1:js, device:sensors/dev-1:ns, device:sensors/dev-1:as"))
        #expect(first.err.contains(
            "not attempted: application:sensors:create: waits for application:sensors:link, device:sensors/dev-1:is, device:sensors/dev-2:is"))
        #expect(first.err.contains("rollback: 4 deleted, 0 already gone, 3 failed, 6 not attempted;"))
        #expect(first.err.contains("fix the causes above, then run the same command again (it continues where it stopped): ttn-migrate rollback --force"))
        #expect(first.out.contains("FAILED        delete device sensors/dev-1 from the Application Server"))
        // Nothing on the IS was asked to go before its dependents: no device IS entry, no application delete.
        #expect(!fixture.deleteRequests.contains("/api/v3/applications/sensors"))
        #expect(!fixture.deleteRequests.contains("/api/v3/applications/sensors/devices/dev-1"))

        let states = try await fixture.journalStates()
        #expect(states.filter { $0.value == .rolledBack }.keys.sorted() == [
            "application:sensors:api-key:default%20key", "application:sensors:collaborator:user:bob-smith",
            "gateway:eui-b827ebfffe000001:api-key:link", "gateway:eui-b827ebfffe000001:create",
        ])
        #expect(states.filter { $0.value == .done }.count == 9)

        // The dry run now lists only what is left.
        let dry = await fixture.rollback(force: false)
        #expect(dry.code == 0)
        #expect(dry.out.contains("9 deletions, in this order:"))
        #expect(dry.out.contains("4 steps already rolled back by an earlier rollback: left alone."))

        fixture.v3.cluster.setFaults(.none)
        let second = await fixture.rollback(force: true)
        #expect(second.code == 0)
        #expect(second.out.components(separatedBy: "\n").count == 9)
        #expect(second.err.contains("rollback: 9 deleted, 0 already gone, 0 failed, 0 not attempted;"))
        try expectFullyRolledBack(fixture)
        #expect(try await fixture.journalStates().values.allSatisfy { $0 == .rolledBack })
    }

    /// Ctrl-C (the stop signal) after four deletions: exit 130, the four recorded; the same command
    /// continues with the other nine.
    @Test func anInterruptedRollbackContinuesWhereItStopped() async throws {
        let fixture = try await MigrationFixture.start()
        defer { Task { await fixture.stop() } }
        _ = try await fixture.run()

        let first = try await fixture.rollbackInProcess(concurrency: 1, stopAfter: 4)
        #expect(first.code == 130)
        #expect(first.outcome.summary.deleted == Array(undoOrder[0..<4]))
        #expect(first.outcome.summary.blocked == Array(undoOrder[4...]))
        #expect(first.err.contains("interrupted; continue with: ttn-migrate rollback --force"))
        #expect(first.err.contains("not attempted: device:sensors/dev-1:ns: stopped before it was sent"))
        let states = try await fixture.journalStates()
        #expect(undoOrder[0..<4].allSatisfy { states[$0] == .rolledBack })
        #expect(undoOrder[4...].allSatisfy { states[$0] == .done })

        let second = await fixture.rollback(force: true)
        #expect(second.code == 0)
        #expect(second.err.contains("rollback: 9 deleted, 0 already gone, 0 failed, 0 not attempted; 9 requests in "))
        try expectFullyRolledBack(fixture)
        let store = try JournalStore.openForReading(at: fixture.journal)
        let outcomes = try await store.runs().map(\.outcome)
        try await store.close()
        #expect(outcomes == [.completed, .interrupted, .completed])
    }

    /// The journal write that records the first deletion fails (as if the process died right after
    /// v3 deleted): the next rollback finds that entity gone, records it, and deletes the rest.
    @Test func aDeletionNotRecordedBeforeACrashIsFoundGoneByTheNextRollback() async throws {
        let fixture = try await MigrationFixture.start()
        defer { Task { await fixture.stop() } }
        _ = try await fixture.run()

        // Write 1 records the rollback's run, write 2 would record the first deletion.
        await #expect(throws: JournalError.self) {
            _ = try await fixture.rollbackInProcess(
                concurrency: 1, journalOptions: JournalOptions(groupCommit: .eachChange, faults: .failWrite(number: 2)))
        }
        #expect(fixture.deleteRequests == ["/api/v3/applications/sensors/collaborator/user/bob-smith"])
        #expect(try await fixture.journalStates().values.allSatisfy { $0 == .done })

        let second = await fixture.rollback(force: true)
        #expect(second.code == 0)
        #expect(second.out.contains("already gone  remove collaborator user bob-smith from application sensors (recorded as rolled back)"))
        #expect(second.err.contains("rollback: 12 deleted, 1 already gone, 0 failed, 0 not attempted;"))
        try expectFullyRolledBack(fixture)
        #expect(try await fixture.journalStates().values.allSatisfy { $0 == .rolledBack })
    }

    @Test func aJournalOfAnotherTargetIsRefused() async throws {
        let fixture = try await MigrationFixture.start()
        defer { Task { await fixture.stop() } }
        _ = try await fixture.run()
        let stateBefore = fixture.state
        let otherOwner = try fixture.config(named: "other-owner.yml", replacing: "owner: { user: alice }", with: "owner: { user: bob-smith }")
        for force in [false, true] {
            let result = await fixture.rollback(force: force, config: otherOwner)
            #expect(result.code == 2)
            #expect(result.out.isEmpty)
            #expect(result.err == "error: journal \(fixture.journal) belongs to target \(fixture.v3.identityServerURL) (user alice), "
                + "not \(fixture.v3.identityServerURL) (user bob-smith): use the journal of \(fixture.v3.identityServerURL) (user bob-smith), "
                + "or a new --journal path to start a migration to it")
        }
        #expect(fixture.state == stateBefore)
        #expect(fixture.deleteRequests.isEmpty)
        #expect(try await fixture.journalStates().values.allSatisfy { $0 == .done })
    }

    @Test func missingJournalOrFrozenEstateIsAnInputError() async throws {
        let fixture = try await MigrationFixture.start()
        defer { Task { await fixture.stop() } }
        let missing = await fixture.rollback(force: true)
        #expect(missing.code == 2)
        #expect(missing.err == "error: no journal at \(fixture.journal): check the --journal path (`ttn-migrate run` creates the journal)")
        #expect(!FileManager.default.fileExists(atPath: fixture.journal))

        _ = try await fixture.run()
        try FileManager.default.removeItem(atPath: fixture.journal + ".v2-snapshot.json")
        for force in [false, true] {
            let result = await fixture.rollback(force: force)
            #expect(result.code == 2)
            #expect(result.err == "error: the v2 estate frozen beside journal \(fixture.journal) is missing (\(fixture.journal).v2-snapshot.json); "
                + "rollback rebuilds the migration's plan from it: restore the file from a backup (it is written by the journal's first `ttn-migrate run`); nothing was changed")
        }
        #expect(fixture.deleteRequests.isEmpty)

        let usage = await runCLI(["rollback", "--config", fixture.configPath])
        #expect(usage.code == 2)
        #expect(usage.err.contains("Missing expected argument '--journal <journal>'"))
    }

    /// An API key of another user would see every entity as "no rights", which looks like "already
    /// deleted": refused before anything is sent.
    @Test func anAPIKeyOfAnotherAccountIsRefused() async throws {
        let fixture = try await MigrationFixture.start()
        defer { Task { await fixture.stop() } }
        _ = try await fixture.run()
        let bobKey = try fixture.v3.simulator.addUserAPIKey(user: "bob-smith", rights: ["RIGHT_ALL"])
        let bobKeyFile = try fixture.v2.directory.write("bob-key", bobKey + "\n")
        let config = try fixture.config(named: "bob-key.yml", replacing: "api_key_file: \(fixture.keyFile)", with: "api_key_file: \(bobKeyFile)")
        let result = await fixture.rollback(force: true, config: config)
        #expect(result.code == 2)
        #expect(result.err == "error: the v3 API key belongs to user bob-smith, but this journal's entities are owned by user alice: "
            + "to another account's key v3 answers \"no rights\", which looks the same as \"already deleted\"; "
            + "use an API key of user alice (`target.api_key_env` or `target.api_key_file`); nothing was deleted")
        #expect(!result.err.contains(bobKey))
        #expect(fixture.deleteRequests.isEmpty)
        #expect(try await fixture.journalStates().values.allSatisfy { $0 == .done })
    }

    /// A device someone added to the migrated application in v3 is not this journal's: it is left, so
    /// the application cannot go (`application_has_devices`); everything else is undone.
    @Test func aDeviceTheJournalDidNotCreateIsLeftAndKeepsTheApplication() async throws {
        let fixture = try await MigrationFixture.start()
        defer { Task { await fixture.stop() } }
        _ = try await fixture.run()
        let created = try await fixture.v3Request("POST", "/api/v3/applications/sensors/devices", body: """
            {"end_device": {"ids": {"device_id": "added-in-v3", "application_ids": {"application_id": "sensors"},
             "dev_eui": "0004A30B001C0099", "join_eui": "70B3D57ED0001000"}}}
            """)
        #expect(created.status == 200)

        let result = try await fixture.rollbackInProcess()
        #expect(result.code == 1)
        #expect(result.outcome.summary.failed.map(\.stepID) == ["application:sensors:create"])
        let message = try #require(result.outcome.summary.failed.first?.message)
        #expect(message.hasPrefix("delete application sensors: Identity Server answered 400 pkg/identityserver:application_has_devices ("))
        #expect(message.hasSuffix(
            "; the application still holds devices this journal did not create, or whose deletion failed: delete them in v3 (or keep the application), then run the same command again"))
        #expect(result.outcome.summary.deleted.count == 12)

        let state = try stateObject(fixture)
        let application = try #require(entry(state, "applications", "sensors"))
        #expect(application["deleted"] == nil)
        #expect((application["devices"] as? [String: Any]).map { Set($0.keys) } == ["added-in-v3"])
        #expect(try #require(entry(state, "gateways", "eui-b827ebfffe000001"))["deleted"] as? Bool == true)
        #expect(try await fixture.journalStates()["application:sensors:create"] == .done)
    }

    /// After `rename:` changed, the journal's application steps are not in the rebuilt plan: they are
    /// named and left (exit 1), the rest is undone.
    @Test func doneStepsMissingFromTheRebuiltPlanAreNamedAndLeft() async throws {
        let fixture = try await MigrationFixture.start()
        defer { Task { await fixture.stop() } }
        _ = try await fixture.run()
        let renamed = try fixture.config(named: "renamed.yml", append: "rename: { applications: { sensors: sensors-renamed } }\n")

        let dry = await fixture.rollback(force: false, config: renamed)
        #expect(dry.code == 0)
        let expectedNotUndone = [
            "Not undone: 11 done steps are not in the plan rebuilt from the frozen v2 estate and the configuration:",
            "  - application:sensors:create (application sensors)",
            "  - application:sensors:collaborator:user:bob-smith (application-collaborator sensors/bob-smith)",
        ]
        let dryLines = dry.out.components(separatedBy: "\n")
        #expect(dryLines[2] == "2 deletions, in this order:")
        #expect(dryLines[3] == "  1. delete API key \"v2: gateway key [\(try journalTag(fixture.journal))]\" of gateway eui-b827ebfffe000001")
        #expect(dryLines[5] == "  2. delete gateway eui-b827ebfffe000001")
        #expect(Array(dryLines[7...9]) == expectedNotUndone)
        #expect(dry.out.contains(
            "  The configuration (`rename:`, `users:`, `include:`) or the frozen estate (`run --refresh`) changed since the run: "
                + "restore the configuration the run used and roll back again, or delete these entities in v3 yourself."))

        let force = await fixture.rollback(force: true, config: renamed)
        #expect(force.code == 1)
        #expect(force.out.hasSuffix("[2/2] done          delete gateway eui-b827ebfffe000001"))
        #expect(force.err.contains(expectedNotUndone.joined(separator: "\n")))
        #expect(fixture.deleteRequests.count == 2 && fixture.deleteRequests.last == "/api/v3/gateways/eui-b827ebfffe000001")
        #expect(fixture.deleteRequests.first?.hasPrefix("/api/v3/gateways/eui-b827ebfffe000001/api-keys/") == true)

        // With the configuration the run used, the rest goes.
        let rest = await fixture.rollback(force: true)
        #expect(rest.code == 0)
        try expectFullyRolledBack(fixture)
    }

    /// Steps that did not finish (here: failed while the cluster was down) are named and not undone;
    /// the done ones are.
    @Test func unfinishedStepsAreNamedAndNotUndone() async throws {
        let fixture = try await MigrationFixture.start(
            v3Options: V3SimulatorLaunchOptions(split: true, server: SimServerOptions(faults: try FaultSpec(parsing: "503=1.0@/api/v3/js/,503=1.0@/api/v3/ns/,503=1.0@/api/v3/as/"))))
        defer { Task { await fixture.stop() } }
        _ = try await fixture.run(retry: fastRetry)
        let notUndone = [
            "Not undone: 6 steps did not finish; what they may have created in v3 is left as it is:",
            "  - application:sensors:link (failed)",
            "  - device:sensors/dev-1:js (failed)",
            "  - device:sensors/dev-1:ns (failed)",
            "  - device:sensors/dev-1:as (failed)",
            "  - device:sensors/dev-2:ns (failed)",
            "  - device:sensors/dev-2:as (failed)",
            "  To include them, resume the run first (it checks them against v3), then roll back: see `ttn-migrate status --journal \(fixture.journal)`.",
        ]

        let dry = await fixture.rollback(force: false)
        #expect(dry.code == 0)
        let lines = dry.out.components(separatedBy: "\n")
        #expect(lines[2] == "7 deletions, in this order:")
        #expect([lines[3], lines[5], lines[7], lines[9], lines[11], lines[13], lines[15]] == [
            "  1. remove collaborator user bob-smith from application sensors",
            "  2. delete API key \"v2: default key [\(try journalTag(fixture.journal))]\" of application sensors",
            "  3. delete device sensors/dev-1 from the Identity Server",
            "  4. delete device sensors/dev-2 from the Identity Server",
            "  5. delete application sensors",
            "  6. delete API key \"v2: gateway key [\(try journalTag(fixture.journal))]\" of gateway eui-b827ebfffe000001",
            "  7. delete gateway eui-b827ebfffe000001",
        ])
        #expect(Array(lines[17..<25]) == notUndone)
        #expect(dry.out.contains("2 devices are deleted from the registries this journal wrote"))

        let force = await fixture.rollback(force: true)
        #expect(force.code == 0)
        #expect(force.err.contains(notUndone.joined(separator: "\n")))
        #expect(force.err.contains("rollback: 7 deleted, 0 already gone, 0 failed, 0 not attempted;"))
        try expectFullyRolledBack(fixture)
        let states = try await fixture.journalStates()
        #expect(states.filter { $0.value == .failed }.count == 6)
        #expect(states.filter { $0.value == .rolledBack }.count == 7)
    }
}

/// The undo order and the undoer alone, on hand-made steps.
@Suite struct UndoOrderTests {
    static func step(_ id: String, _ server: V3Server, dependsOn: [String] = [], group: String? = nil) -> ExecutionStep {
        ExecutionStep(
            id: id, dependsOn: dependsOn,
            operation: V3Operation(
                kind: .create, server: server, method: "POST", path: "/x", body: Data(), readPath: "/x", expected: .null,
                deletePath: "/\(id)", summary: id),
            group: group)
    }

    static let steps = [
        step("app", .identityServer),
        step("key", .identityServer, dependsOn: ["app"]),
        step("d1:is", .identityServer, dependsOn: ["app"], group: "d1"),
        step("d1:js", .joinServer, dependsOn: ["d1:is"], group: "d1"),
        step("d1:ns", .networkServer, dependsOn: ["d1:is"], group: "d1"),
        step("d1:as", .applicationServer, dependsOn: ["d1:is"], group: "d1"),
        step("gw", .identityServer),
        step("gw:collaborator", .identityServer, dependsOn: ["gw"]),
    ]

    static func undo(_ ids: [String]) -> [String: UndoAction] {
        Dictionary(uniqueKeysWithValues: ids.map { ($0, UndoAction(deletion: .path("/\($0)"), summary: $0)) })
    }

    @Test func everyStepAfterItsDependentsAndADeviceASNSJSIS() {
        let ordered = UndoOrder.arrange(Self.undo(Self.steps.map(\.id)), in: Self.steps)
        #expect(ordered.map(\.stepID) == ["key", "d1:as", "d1:ns", "d1:js", "d1:is", "app", "gw:collaborator", "gw"])
        let after = Dictionary(uniqueKeysWithValues: ordered.map { ($0.stepID, $0.after) })
        #expect(after["app"] == ["key", "d1:is"])
        #expect(after["d1:is"] == ["d1:js", "d1:ns", "d1:as"])
        #expect(after["d1:js"] == ["d1:ns", "d1:as"])
        #expect(after["d1:ns"] == ["d1:as"])
        #expect(after["d1:as"] == [])
        #expect(after["gw"] == ["gw:collaborator"])
        #expect(ordered.first?.request == "DELETE /api/v3/key")
    }

    /// Steps not undone are walked through: the application still waits for the device's AS entry
    /// when the device's IS step is not undone (it is not done), and unknown IDs are left out.
    @Test func aStepNotUndoneInTheMiddleStillOrdersWhatDependsThroughIt() {
        let ordered = UndoOrder.arrange(Self.undo(["app", "d1:as", "d1:js", "not-in-plan"]), in: Self.steps)
        #expect(ordered.map(\.stepID) == ["d1:as", "d1:js", "app"])
        let after = Dictionary(uniqueKeysWithValues: ordered.map { ($0.stepID, $0.after) })
        #expect(after["app"] == ["d1:js", "d1:as"])
        #expect(after["d1:js"] == ["d1:as"])
    }

    @Test func noStepsNoUndo() {
        #expect(UndoOrder.arrange([:], in: Self.steps).isEmpty)
        #expect(UndoOrder.arrange(Self.undo(["app"]), in: []).isEmpty)
    }
}

/// Records what the undoer marks.
private final class RecordingLedger: StepLedger, @unchecked Sendable {
    private let lock = NSLock()
    private var marked: [String] = []
    var rolledBack: [String] { lock.withLock { marked } }
    func entries() async throws -> [String: LedgerEntry] { [:] }
    func markInFlight(_ stepID: String) async throws {}
    func markDone(_ stepID: String, result: OperationResult) async throws {}
    func markFailed(_ stepID: String, error: String, correlationID: String?) async throws {}
    func markRolledBack(_ stepID: String) async throws { lock.withLock { marked.append(stepID) } }
    func flush() async throws {}
}

@Suite struct UndoerTests {
    /// A key whose ID the journal lacks is found by its exact (tagged) name; a key with another name is
    /// never touched.
    @Test func anAPIKeyWithoutIDIsDeletedByItsExactNameOnly() async throws {
        let fixture = try await MigrationFixture.start()
        defer { Task { await fixture.stop() } }
        _ = try await fixture.run()
        let tag = try journalTag(fixture.journal)
        let other = try await fixture.v3Request(
            "POST", "/api/v3/applications/sensors/api-keys", body: #"{"name": "v2: default key", "rights": ["RIGHT_APPLICATION_INFO"]}"#)
        #expect(other.status == 200)

        let client = V3Client(http: HTTPClient(), endpoints: V3Endpoints(all: fixture.v3.identityServerURL), apiKey: V3APIKeySecret(fixture.v3.simulator.apiKey))
        let ledger = RecordingLedger()
        let undoer = Undoer(client: client, ledger: ledger, options: UndoOptions(retry: fastRetry))
        let step = UndoStep(
            stepID: "key", server: .identityServer,
            action: UndoAction(deletion: .apiKeyNamed(listPath: "/applications/sensors/api-keys", name: "v2: default key [\(tag)]"), summary: "delete key"),
            after: [])
        #expect(step.request == "GET /api/v3/applications/sensors/api-keys, then DELETE each key named \"v2: default key [\(tag)]\"")
        let summary = try await undoer.run([step])
        #expect(summary.deleted == ["key"])
        #expect(ledger.rolledBack == ["key"])
        let keys = try #require(entry(try stateObject(fixture), "applications", "sensors")?["api_keys"] as? [[String: Any]])
        #expect(keys.map { $0["name"] as? String } == ["v2: default key"])

        // Again: no key of that name left: already gone.
        let again = try await undoer.run([step])
        #expect(again.alreadyGone == ["key"])
        #expect(again.requests == 1)
    }

    /// A 404 without The Things Stack's error details (an unknown path) is a failure, never "gone"; a
    /// step waiting for it is not sent.
    @Test func aBare404IsAFailureAndWhatWaitsForItIsNotSent() async throws {
        let fixture = try await MigrationFixture.start()
        defer { Task { await fixture.stop() } }
        let client = V3Client(http: HTTPClient(), endpoints: V3Endpoints(all: fixture.v3.identityServerURL), apiKey: V3APIKeySecret(fixture.v3.simulator.apiKey))
        let ledger = RecordingLedger()
        let undoer = Undoer(client: client, ledger: ledger, options: UndoOptions(retry: fastRetry))
        let steps = [
            UndoStep(stepID: "wrong", server: .identityServer, action: UndoAction(deletion: .path("/no/such/route"), summary: "delete nothing"), after: []),
            UndoStep(stepID: "next", server: .identityServer, action: UndoAction(deletion: .path("/gateways/x"), summary: "delete x"), after: ["wrong"]),
        ]
        let summary = try await undoer.run(steps)
        #expect(summary.failed.map(\.stepID) == ["wrong"])
        #expect(summary.failed.first?.message == "delete nothing: Identity Server answered 404 (Not Found); the answer is not The Things Stack's: "
            + "check the configured URL of the Identity Server, then run the same command again")
        #expect(summary.blocked == ["next"])
        #expect(ledger.rolledBack.isEmpty)
        #expect(fixture.deleteRequests == ["/api/v3/no/such/route"])
    }
}
