import Foundation
import HTTP
import Journal
import Simulator
import Testing
import TTNMigrateCLI

/// The small estate between the two simulators (`MigrationFixture`), for tests of what `run` leaves behind.
struct StatusFixture {
    let base: MigrationFixture
    var v2: V2Fixture { base.v2 }
    var v3: RunningV3Simulator { base.v3 }
    var config: String { base.configPath }
    var journal: String { base.journal }

    /// Starts both simulators; `split` serves the v3 IS and the JS/NS/AS cluster on two ports.
    static func start(users: [String] = ["alice", "bob-smith"], split: Bool = false) async throws -> StatusFixture {
        StatusFixture(base: try await MigrationFixture.start(v3Options: V3SimulatorLaunchOptions(split: split), users: users))
    }

    /// `ttn-migrate run --config … --journal …`, in-process.
    func run() async -> (code: Int32, out: String, err: String) {
        await runCLI(["run", "--config", config, "--journal", journal])
    }

    /// `ttn-migrate status --journal …` with `arguments` after it.
    func status(_ arguments: [String] = []) async -> (code: Int32, out: String, err: String) {
        await runCLI(["status", "--journal", journal] + arguments)
    }

    /// See `MigrationFixture.v3Request`.
    func v3Request(_ method: String, _ path: String, body: String? = nil, key: String? = nil) async throws -> HTTPResponse {
        try await base.v3Request(method, path, body: body, key: key)
    }

    func stop() async { await base.stop() }
}

/// The top-level keys of a JSON document rendered with two-space indentation, in their order.
func topLevelKeys(_ json: String) -> [String] {
    json.split(separator: "\n").compactMap { line -> String? in
        guard line.hasPrefix("  \""), !line.hasPrefix("   ") else { return nil }
        return line.dropFirst(3).split(separator: "\"", maxSplits: 1).first.map(String.init)
    }
}

/// A JSON object's member as a dictionary, array, string or number.
func member(_ object: NSObject, _ path: String...) -> Any? {
    var current: Any? = object
    for key in path { current = (current as? [String: Any])?[key] }
    return current
}

@Suite struct StatusCommandTests {
    // The small estate (Golden/small-estate.json) with v3 users alice and bob-smith, counted by hand:
    // - application "sensors": 1 create step (IS). Application "old" is deleted in v2 and
    //   `include.deleted` defaults to false: no step.
    // - collaborators of sensors: alice is the owner (holds all rights already: no step); v2 user
    //   bob_smith becomes v3 user bob-smith: 1 step (IS).
    // - access keys: "default key": 1 step (IS).
    // - handler payload format "custom" with a decoder: 1 application link step (AS).
    // - dev-1 has an AppKey (OTAA): IS, JS, NS, AS = 4 steps; dev_2 (v3 dev-2) has DevAddr, NwkSKey and
    //   AppSKey (ABP, never on the JS): IS, NS, AS = 3 steps.
    // - gateway eui-b827ebfffe000001: 1 create step (IS) and 1 link key (IS); its only collaborator is the
    //   owner alice: no step.
    // Total 1 + 1 + 1 + 1 + 4 + 3 + 1 + 1 = 13 steps; 2 devices.
    @Test func afterAFullRunEverythingIsDoneAndCounted() async throws {
        let fixture = try await StatusFixture.start()
        defer { Task { await fixture.stop() } }
        let run = await fixture.run()
        #expect(run.code == 0, "\(run.err)")

        let table = await fixture.status()
        #expect(table.code == 0, "\(table.err)")
        #expect(table.err.isEmpty)
        let lines = table.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "Journal  \(fixture.journal) (schema 4)")
        #expect(lines[1].hasPrefix("Target   \(fixture.v3.identityServerURL) (user alice); API key name tag ["))
        #expect(lines[2] == "Result   complete: all 13 steps done")
        #expect(table.out.contains("""
            Steps (13)
              ENTITY                    TOTAL  DONE  FAILED  SKIPPED  PENDING  IN_FLIGHT  ROLLED_BACK
              application                   1     1       0        0        0          0            0
              application-collaborator      1     1       0        0        0          0            0
              application-api-key           1     1       0        0        0          0            0
              application-link              1     1       0        0        0          0            0
              device                        7     7       0        0        0          0            0
              gateway                       1     1       0        0        0          0            0
              gateway-api-key               1     1       0        0        0          0            0
              all                          13    13       0        0        0          0            0

            Devices (2)
              migrated (every step done)   2
              half-registered              0
              not migrated (no step done)  0
            """))
        #expect(table.out.contains("Runs (1)"))
        #expect(table.out.contains("completed  \(ToolInfo.version)      13       0        0  "))
        #expect(!table.out.contains("Steps not done"))
        #expect(!table.out.contains("Half-registered devices"))
        #expect(!table.out.contains("Next"))

        let json = await fixture.status(["--format", "json"])
        #expect(json.code == 0, "\(json.err)")
        let document = try jsonObject(json.out)
        #expect(member(document, "format") as? String == "ttn-migrate/status")
        #expect(member(document, "version") as? Int == 1)
        #expect(member(document, "result") as? String == "complete")
        #expect(member(document, "exit_code") as? Int == 0)
        #expect(try jsonObject(#"{"total":2,"migrated":2,"half_registered":0,"not_migrated":0}"#) == member(document, "devices") as? NSObject)
        let steps = member(document, "steps") as? NSObject
        #expect(try jsonObject("""
            {"total":13,"done":13,"failed":0,"skipped":0,"pending":0,"in_flight":0,"rolled_back":0,"by_entity_type":[
              {"entity_type":"application","total":1,"done":1,"failed":0,"skipped":0,"pending":0,"in_flight":0,"rolled_back":0},
              {"entity_type":"application-collaborator","total":1,"done":1,"failed":0,"skipped":0,"pending":0,"in_flight":0,"rolled_back":0},
              {"entity_type":"application-api-key","total":1,"done":1,"failed":0,"skipped":0,"pending":0,"in_flight":0,"rolled_back":0},
              {"entity_type":"application-link","total":1,"done":1,"failed":0,"skipped":0,"pending":0,"in_flight":0,"rolled_back":0},
              {"entity_type":"device","total":7,"done":7,"failed":0,"skipped":0,"pending":0,"in_flight":0,"rolled_back":0},
              {"entity_type":"gateway","total":1,"done":1,"failed":0,"skipped":0,"pending":0,"in_flight":0,"rolled_back":0},
              {"entity_type":"gateway-api-key","total":1,"done":1,"failed":0,"skipped":0,"pending":0,"in_flight":0,"rolled_back":0}]}
            """) == steps)
        let runs = member(document, "runs") as? [[String: Any]] ?? []
        #expect(runs.count == 1)
        #expect(runs.first?["outcome"] as? String == "completed")
        #expect(runs.first?["steps_done"] as? Int == 13)
        #expect(runs.first?["tool_version"] as? String == ToolInfo.version)
        #expect((member(document, "steps_not_done") as? [Any])?.isEmpty == true)
        #expect((member(document, "half_registered_devices") as? [Any])?.isEmpty == true)
        #expect(member(document, "journal", "run_in_progress") as? Bool == false)
        #expect(member(document, "journal", "target", "identity_server") as? String == fixture.v3.identityServerURL)
        #expect(member(document, "journal", "target", "owner_id") as? String == "alice")
        // Timing: the first activity is not after the last, and the duration is their difference.
        let first = try #require(member(document, "timing", "first_activity") as? String)
        let last = try #require(member(document, "timing", "last_activity") as? String)
        #expect(first <= last)
        #expect((member(document, "timing", "duration_seconds") as? Double ?? -1) >= 0)
    }

    @Test func jsonHasTheDocumentedKeysInTheirOrder() async throws {
        let fixture = try await StatusFixture.start()
        defer { Task { await fixture.stop() } }
        #expect(await fixture.run().code == 0)
        let json = await fixture.status(["--format", "json"])
        #expect(topLevelKeys(json.out) == [
            "format", "version", "journal", "result", "exit_code", "runs", "steps", "devices", "timing", "commands",
            "steps_not_done", "half_registered_devices",
        ])
        #expect(json.out.hasPrefix("{\n  \"format\": \"ttn-migrate/status\",\n  \"version\": 1,\n  \"journal\": {\n    \"path\": "))
        let journalKeys = json.out.components(separatedBy: "\n").filter { $0.hasPrefix("    \"") && !$0.hasPrefix("     ") }
            .prefix(5).map { $0.trimmingCharacters(in: .whitespaces).split(separator: "\"")[0] }
        #expect(journalKeys == ["path", "schema_version", "migration_tag", "target", "run_in_progress"])
        // Same journal, same bytes.
        #expect(await fixture.status(["--format", "json"]).out == json.out)
    }

    @Test func skippedAndFailedStepsAreNamedWithErrorCorrelationIDAndNextStep() async throws {
        // No v3 account for bob-smith: his collaborator step is skipped. A gateway with the estate's
        // gateway EUI already exists under another ID: the gateway create fails (409, with a correlation ID).
        let fixture = try await StatusFixture.start(users: ["alice"])
        defer { Task { await fixture.stop() } }
        let taken = try await fixture.v3Request(
            "POST", "/api/v3/users/alice/gateways",
            body: #"{"gateway":{"ids":{"gateway_id":"other-gw","eui":"B827EBFFFE000001"},"frequency_plan_ids":["EU_863_870"]}}"#)
        #expect(taken.status == 200)
        let run = await fixture.run()
        #expect(run.code == 1)

        let json = await fixture.status(["--format", "json"])
        #expect(json.code == 1)
        let document = try jsonObject(json.out)
        #expect(member(document, "result") as? String == "unfinished")
        #expect(member(document, "exit_code") as? Int == 1)
        // 13 steps as counted above: 10 done, the collaborator skipped, the gateway failed, its link key
        // waiting for it (pending).
        #expect(member(document, "steps", "done") as? Int == 10)
        #expect(member(document, "steps", "failed") as? Int == 1)
        #expect(member(document, "steps", "skipped") as? Int == 1)
        #expect(member(document, "steps", "pending") as? Int == 1)
        let open = member(document, "steps_not_done") as? [[String: Any]] ?? []
        #expect(open.map { $0["id"] as? String } == [
            "application:sensors:collaborator:user:bob-smith", "gateway:eui-b827ebfffe000001:create", "gateway:eui-b827ebfffe000001:api-key:link",
        ])
        let skipped = try #require(open.first)
        #expect(skipped["state"] as? String == "skipped")
        #expect(skipped["attempts"] as? Int == 0)
        #expect(skipped["entity_key"] as? String == "sensors/bob-smith")
        #expect(skipped["skip_reason"] as? String == "user bob-smith has no v3 account: map the v2 username with `users:` or create the account first")
        #expect(skipped["next_step"] as? String == "do what the skip reason says, then resume: the step is tried again once v3 no longer makes it impossible")
        let failed = try #require(open.first { $0["state"] as? String == "failed" })
        #expect(failed["state"] as? String == "failed")
        #expect(failed["attempts"] as? Int == 1)
        #expect(failed["component"] as? String == "is")
        let error = try #require(failed["last_error"] as? String)
        #expect(error.hasPrefix("create gateway eui-b827ebfffe000001: "))
        #expect(error.contains("B827EBFFFE000001") && error.contains("other-gw"))
        let correlationID = try #require(failed["correlation_id"] as? String)
        #expect(correlationID.count == 32 && correlationID.allSatisfy(\.isHexDigit))
        #expect(failed["next_step"] as? String == "fix the cause named in the error, then resume (it reads v3 before sending again)")
        #expect(member(document, "devices", "migrated") as? Int == 2)

        let table = await fixture.status()
        #expect(table.code == 1)
        #expect(table.out.contains("Result   unfinished: 3 of 13 steps not done (1 failed, 1 skipped, 1 pending)"))
        #expect(table.out.contains("""
              gateway:eui-b827ebfffe000001:create  [failed, 1 attempt]
                entity: gateway eui-b827ebfffe000001 on IS
                error: \(error)
                correlation ID: \(correlationID)
            """))
        #expect(table.out.contains("""
              application:sensors:collaborator:user:bob-smith  [skipped, 0 attempts]
                entity: application-collaborator sensors/bob-smith on IS
                skipped: user bob-smith has no v3 account
            """))
        #expect(table.out.contains("Next\n  resume: ttn-migrate run --config "))
    }

    @Test func aDeviceWhoseClusterIsDownIsListedAsHalfRegistered() async throws {
        // IS up, JS/NS/AS down: each device's IS step is done, its other steps fail after the retries.
        let fixture = try await StatusFixture.start(split: true)
        defer { Task { await fixture.stop() } }
        // The cluster's URL points at a port held but not listening: a stopped server's port could be taken
        // by a parallel test's server, which would answer instead of refusing.
        let refusing = try ReservedPort()
        defer { refusing.release() }
        let downCluster = "http://127.0.0.1:\(refusing.port)"
        let configuration = try String(contentsOfFile: fixture.config, encoding: .utf8)
        try configuration.replacingOccurrences(of: fixture.v3.clusterURL, with: downCluster)
            .write(toFile: fixture.config, atomically: false, encoding: .utf8)
        let run = await fixture.run()
        #expect(run.code == 1)

        let table = await fixture.status()
        #expect(table.code == 1)
        // Done: application, collaborator, key, both device IS steps, gateway and its link key = 7; failed:
        // the link (AS), dev-1 JS/NS/AS, dev-2 NS/AS = 6.
        #expect(table.out.contains("Result   unfinished: 6 of 13 steps not done (6 failed)"))
        #expect(table.out.contains("""
            Devices (2)
              migrated (every step done)   0
              half-registered              2
              not migrated (no step done)  0
            """))
        #expect(table.out.contains("""
            Half-registered devices (2): in v3 on some servers only; not migrated until every step is done
              DEVICE         DONE  MISSING
              sensors/dev-1  is    js (failed), ns (failed), as (failed)
              sensors/dev-2  is    ns (failed), as (failed)
              finish them: ttn-migrate run --config
            """))
        let finishLine = try #require(table.out.split(separator: "\n").first { $0.hasPrefix("  finish them: ") })
        let removeLine = try #require(table.out.split(separator: "\n").first { $0.hasPrefix("  or remove them: ") })
        #expect(finishLine.hasSuffix("--journal \(fixture.journal)"))
        #expect(removeLine.hasSuffix("--journal \(fixture.journal) --on-device-failure rollback"))
        #expect(table.out.contains("    entity: device sensors/dev-1 on JS\n    error: "))
        #expect(table.out.contains("cannot connect to \(downCluster)"))

        let json = await fixture.status(["--format", "json"])
        let document = try jsonObject(json.out)
        let devices = member(document, "half_registered_devices") as? [[String: Any]] ?? []
        #expect(devices.map { $0["device"] as? String } == ["sensors/dev-1", "sensors/dev-2"])
        #expect(devices.first?["done"] as? [String] == ["is"])
        let missing = (devices.first?["missing"] as? [[String: String]]) ?? []
        #expect(missing == [["component": "js", "state": "failed"], ["component": "ns", "state": "failed"], ["component": "as", "state": "failed"]])
        #expect(devices.last?["done"] as? [String] == ["is"])
        #expect((devices.last?["remove_command"] as? String)?.hasSuffix(" --on-device-failure rollback") == true)
        #expect(member(document, "devices", "half_registered") as? Int == 2)
        #expect(member(document, "steps", "failed") as? Int == 6)
        // Every failed step made 6 attempts (the retry policy's maximum) before it was recorded.
        let open = member(document, "steps_not_done") as? [[String: Any]] ?? []
        #expect(open.count == 6)
        #expect(open.allSatisfy { $0["state"] as? String == "failed" && $0["correlation_id"] is NSNull })
    }

    @Test func statusWorksWhileARunHoldsTheJournal() async throws {
        let fixture = try await StatusFixture.start()
        defer { Task { await fixture.stop() } }
        #expect(await fixture.run().code == 0)
        // A writer holding the journal, as a run in progress does.
        let writer = try JournalStore.open(
            at: fixture.journal, target: JournalTarget(identityServerURL: fixture.v3.identityServerURL, ownerKind: .user, ownerID: "alice"))
        let table = await fixture.status()
        #expect(table.code == 0, "\(table.err)")
        #expect(table.out.contains("a run holds the journal now: this is a snapshot of its progress"))
        let json = await fixture.status(["--format", "json"])
        #expect(member(try jsonObject(json.out), "journal", "run_in_progress") as? Bool == true)
        try await writer.close()
        #expect(member(try jsonObject(await fixture.status(["--format", "json"]).out), "journal", "run_in_progress") as? Bool == false)
    }
}

@Suite struct StatusFromConstructedJournalTests {
    /// A journal bound to a made-up target, with one run recording `commandLine`.
    func journal(in directory: TemporaryDirectory, commandLine: [String]) async throws -> (JournalStore, String) {
        let path = directory.file("journal.sqlite")
        let store = try JournalStore.open(
            at: path, target: JournalTarget(identityServerURL: "https://eu1.example.com", ownerKind: .organization, ownerID: "acme"))
        try await store.startRun(RunInfo(toolVersion: "0.1.0", commandLine: commandLine))
        return (store, path)
    }

    @Test func resumeCommandIsTheRecordedOneWithoutRefreshAndRollbackReplacesThePolicy() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let (store, path) = try await journal(in: directory, commandLine: [
            "ttn-migrate", "run", "--config", "my config.yml", "--journal", "j.sqlite", "--refresh", "--on-device-failure", "resume",
        ])
        try await store.upsertPlannedSteps([
            PlannedStep(id: "application:app1:create", kind: "application-create", entityType: "application", entityKey: "app1", component: .identityServer),
            PlannedStep(id: "device:app1/d1:is", kind: "device-is", entityType: "device", entityKey: "app1/d1", component: .identityServer),
            PlannedStep(id: "device:app1/d1:ns", kind: "device-ns", entityType: "device", entityKey: "app1/d1", component: .networkServer),
            PlannedStep(id: "device:app1/d1:as", kind: "device-as", entityType: "device", entityKey: "app1/d1", component: .applicationServer),
            PlannedStep(id: "device:app1/d2:is", kind: "device-is", entityType: "device", entityKey: "app1/d2", component: .identityServer),
            PlannedStep(id: "device:app1/d2:ns", kind: "device-ns", entityType: "device", entityKey: "app1/d2", component: .networkServer),
        ])
        for id in ["application:app1:create", "device:app1/d1:is", "device:app1/d1:ns"] {
            try await store.markInFlight(step: id)
            try await store.markDone(step: id)
        }
        try await store.markInFlight(step: "device:app1/d1:as")
        try await store.markInFlight(step: "device:app1/d2:is")
        try await store.markFailed(step: "device:app1/d2:is", error: "create device app1/d2: 400 invalid DevEUI", correlationID: "0123abcd")
        try await store.finishRun(outcome: .interrupted)
        try await store.close()

        let result = await runCLI(["status", "--journal", path, "--format", "json"])
        #expect(result.code == 1)
        let document = try jsonObject(result.out)
        #expect(member(document, "commands", "resume") as? String == "ttn-migrate run --config 'my config.yml' --journal j.sqlite --on-device-failure resume")
        #expect(member(document, "commands", "resume_recorded") as? Bool == true)
        #expect(member(document, "commands", "rollback_failed_devices") as? String
            == "ttn-migrate run --config 'my config.yml' --journal j.sqlite --on-device-failure rollback")
        #expect(member(document, "journal", "target", "owner_kind") as? String == "organization")
        #expect(try jsonObject(#"{"total":2,"migrated":0,"half_registered":1,"not_migrated":1}"#) == member(document, "devices") as? NSObject)
        let open = member(document, "steps_not_done") as? [[String: Any]] ?? []
        #expect(open.map { $0["id"] as? String } == ["device:app1/d1:as", "device:app1/d2:is", "device:app1/d2:ns"])
        // The interrupted attempt (in_flight, no run holds the journal) and the step waiting on a failed one.
        #expect(open[0]["state"] as? String == "in_flight")
        #expect(open[0]["next_step"] as? String == "its run stopped mid-request; resume: it reads v3 before sending again, so nothing is duplicated")
        #expect(open[1]["correlation_id"] as? String == "0123abcd")
        #expect(open[1]["last_error"] as? String == "create device app1/d2: 400 invalid DevEUI")
        #expect(open[2]["state"] as? String == "pending")
        #expect(try jsonObject(#"{"id":"device:app1/d2:is","state":"failed"}"#) == open[2]["waits_for"] as? NSObject)
        #expect(open[2]["next_step"] as? String == "waits for device:app1/d2:is (failed); it runs once that step is done")
        let runs = member(document, "runs") as? [[String: Any]] ?? []
        #expect(runs.first?["outcome"] as? String == "interrupted")

        let table = await runCLI(["status", "--journal", path])
        #expect(table.out.contains("""
              DEVICE   DONE    MISSING
              app1/d1  is, ns  as (in_flight)
              finish them: ttn-migrate run --config 'my config.yml' --journal j.sqlite --on-device-failure resume
              or remove them: ttn-migrate run --config 'my config.yml' --journal j.sqlite --on-device-failure rollback
            """))
    }

    @Test func aJournalWithoutUsableCommandLineGetsATemplateAndARunWithoutEndIsShown() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let (store, path) = try await journal(in: directory, commandLine: ["xctest", "--filter", "X"])
        // The run never records its end and no step: as a run killed during its checks.
        await store.discardUnflushedAndClose()

        let result = await runCLI(["status", "--journal", path])
        #expect(result.code == 1)
        #expect(result.out.contains("Result   nothing recorded yet: no run got past its checks"))
        #expect(result.out.contains("no end recorded"))
        #expect(result.out.contains("  resume: ttn-migrate run --config <configuration file> --journal \(path)"))
        #expect(result.out.contains("(no run recorded its command line: put your configuration file in place of <configuration file>)"))
        let json = try jsonObject(await runCLI(["status", "--journal", path, "--format", "json"]).out)
        #expect(member(json, "result") as? String == "empty")
        #expect(member(json, "commands", "resume_recorded") as? Bool == false)
        #expect((member(json, "runs") as? [[String: Any]])?.first?["outcome"] as? String == "no_end_recorded")
        #expect(member(json, "timing", "duration_seconds") is NSNull)
    }
}

@Suite struct StatusBadInputTests {
    @Test func missingJournalIsNamed() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = directory.file("nope.sqlite")
        let result = await runCLI(["status", "--journal", path])
        #expect(result.code == 2)
        #expect(result.out.isEmpty)
        #expect(result.err == "error: no journal at \(path): check the --journal path (`ttn-migrate run` creates the journal)")
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func aFileThatIsNotAJournalIsRefused() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let text = try directory.write("migrate.yml", "source: {}\n")
        let result = await runCLI(["status", "--journal", text])
        #expect(result.code == 2)
        #expect(result.err.hasPrefix("error: \(text) is not a ttn-migrate journal: it is not a SQLite database"))
        #expect(try String(contentsOfFile: text, encoding: .utf8) == "source: {}\n")

        let empty = try directory.write("empty.sqlite", "")
        let unbound = await runCLI(["status", "--journal", empty])
        #expect(unbound.code == 2)
        #expect(unbound.err.hasPrefix("error: journal \(empty) records no target: it was never used by `ttn-migrate run`"))
    }

    @Test func anUnknownFormatIsAUsageError() async throws {
        let result = await runCLI(["status", "--journal", "j.sqlite", "--format", "xml"])
        #expect(result.code == 2)
        #expect(result.err.contains("xml"))
    }
}
