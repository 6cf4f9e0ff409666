import Foundation
import HTTP
import Journal
import Plan
import Simulator
import Testing
import TTNMigrateCLI
import V2Model

/// The small estate migrated by the real `run` into the v3 simulator, then compared by `diff`.
struct MigratedEstate {
    let base: MigrationFixture
    var v2: V2Fixture { base.v2 }
    var v3: RunningV3Simulator { base.v3 }
    var config: String { base.configPath }
    var journal: String { base.journal }
    var directory: TemporaryDirectory { v2.directory }

    /// The device and API keys of the small estate (Golden/small-estate.json): never in any output.
    static let secrets = [
        "000102030405060708090A0B0C0D0E0F", "101112131415161718191A1B1C1D1E1F", "202122232425262728292A2B2C2D2E2F",
        "ttn-account-v2.", "NNSXS.",
    ]

    /// Starts both simulators (organization acme exists too), writes the configuration and runs the
    /// migration (exit 0 expected).
    static func start(owner: String = "{ user: alice }") async throws -> MigratedEstate {
        let estate = MigratedEstate(base: try await MigrationFixture.start(organizations: ["acme"], owner: owner))
        let run = await runCLI(["run", "--config", estate.config, "--journal", estate.journal])
        guard run.code == 0 else {
            await estate.stop()
            throw SetupFailure(description: "run exited \(run.code): \(run.err)")
        }
        return estate
    }

    struct SetupFailure: Error, CustomStringConvertible { let description: String }

    func stop() async { await base.stop() }

    /// `ttn-migrate diff` with this estate's configuration and journal, plus `extra` arguments.
    func diff(_ extra: [String] = [], journal useJournal: Bool = true) async -> (code: Int32, out: String, err: String) {
        var arguments = ["diff", "--config", config]
        if useJournal { arguments += ["--journal", journal] }
        return await runCLI(arguments + extra)
    }

    /// Sends one request to the v3 simulator with its API key; returns the status.
    @discardableResult
    func v3Request(_ method: String, _ path: String, body: String? = nil) async throws -> Int {
        try await base.v3Request(method, "/api/v3" + path, body: body).status
    }

    /// Asserts that no key material and no API key appears in `text`.
    static func expectNoSecrets(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for secret in secrets {
            #expect(!text.localizedCaseInsensitiveContains(secret), "a secret appears in the output", sourceLocation: sourceLocation)
        }
    }
}

@Suite(.serialized) struct DiffCommandTests {
    @Test func aFreshMigrationIsEqualEverywhereWithTheSkippedListedApart() async throws {
        let estate = try await MigratedEstate.start()
        defer { Task { await estate.stop() } }

        let table = await estate.diff()
        #expect(table.code == 0, "\(table.out)\n\(table.err)")
        let lines = table.out.components(separatedBy: "\n")
        // Every intended entity is equal (hand-written from Golden/small-estate.json and the mapping rules).
        #expect(lines.contains("equal   application               sensors"))
        #expect(lines.contains("equal   application-collaborator  sensors/bob-smith (v2 sensors/bob_smith)"))
        #expect(lines.contains("equal   application-link          sensors"))
        #expect(lines.contains("equal   device                    sensors/dev-1"))
        #expect(lines.contains("equal   device                    sensors/dev-2 (v2 sensors/dev_2)"))
        #expect(lines.contains("equal   gateway                   eui-b827ebfffe000001"))
        let store = try JournalStore.openForReading(at: estate.journal)
        let tag = store.migrationTag
        try await store.close()
        #expect(lines.contains("equal   application-api-key       sensors/v2: default key [\(tag)] (v2 sensors/default key)"))
        #expect(lines.contains("equal   gateway-api-key           eui-b827ebfffe000001/v2: gateway key [\(tag)] (v2 eui-b827ebfffe000001/gateway key)"))
        #expect(lines.contains("Skipped (not migrated, so not compared):"))
        #expect(lines.contains { $0.hasPrefix("  application old: ") })
        #expect(lines.contains("Summary: 8 equal, 0 differs, 0 missing in v3, 0 only in v3; 3 skipped"))
        MigratedEstate.expectNoSecrets(table.out + table.err)

        // Without the journal, the API key of the run is found by its `v2: <name>` prefix.
        let withoutJournal = await estate.diff(journal: false)
        #expect(withoutJournal.code == 0, "\(withoutJournal.out)\n\(withoutJournal.err)")
        #expect(withoutJournal.out.contains("API keys of any run, no journal given"))
        #expect(withoutJournal.out.contains("equal   application-api-key       sensors/v2: default key [\(tag)] (v2 sensors/default key)"))
        #expect(withoutJournal.out.contains("Summary: 8 equal, 0 differs, 0 missing in v3, 0 only in v3; 3 skipped"))

        // The JSON form, parsed.
        let json = await estate.diff(["--format", "json"])
        #expect(json.code == 0)
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any])
        #expect(document["format"] as? String == "ttn-migrate/diff")
        #expect(document["version"] as? Int == 1)
        #expect(document["has_differences"] as? Bool == false)
        let summary = try #require(document["summary"] as? [String: Int])
        #expect(summary == ["equal": 8, "differs": 0, "missing_in_v3": 0, "only_in_v3": 0, "skipped": 3])
        let skipped = try #require(document["skipped"] as? [[String: Any]])
        #expect(skipped.map { $0["v2_id"] as? String } == ["old", "sensors/alice", "eui-b827ebfffe000001/alice"])
    }

    @Test func changesInV3AreNamedWithBothValuesAndKeysStayHidden() async throws {
        let estate = try await MigratedEstate.start()
        defer { Task { await estate.stop() } }

        // A renamed application, a device deleted from all four registries, an application the plan does
        // not know, and a changed session key.
        #expect(try await estate.v3Request(
            "PUT", "/applications/sensors", body: #"{"application":{"name":"Renamed, \"quoted\" <b>"},"field_mask":{"paths":["name"]}}"#) == 200)
        for prefix in ["/as", "/ns", "/js", ""] {
            #expect(try await estate.v3Request("DELETE", "\(prefix)/applications/sensors/devices/dev-1") == 200)
        }
        #expect(try await estate.v3Request(
            "POST", "/users/alice/applications",
            body: #"{"application":{"ids":{"application_id":"extra-app"}},"collaborator":{"user_ids":{"user_id":"alice"}}}"#) == 200)
        let newKey = "A0A1A2A3A4A5A6A7A8A9AAABACADAEAF"
        #expect(try await estate.v3Request(
            "PUT", "/as/applications/sensors/devices/dev-2",
            body: #"{"end_device":{"ids":{"device_id":"dev-2","application_ids":{"application_id":"sensors"}},"session":{"keys":{"app_s_key":{"key":"\#(newKey)"}}}},"field_mask":{"paths":["session.keys.app_s_key.key"]}}"#) == 200)

        let table = await estate.diff()
        #expect(table.code == 1, "\(table.out)\n\(table.err)")
        let lines = table.out.components(separatedBy: "\n")
        #expect(lines.contains("differs        application               sensors"))
        #expect(lines.contains(#"                 name: expected "Sensors", found "Renamed, \"quoted\" <b>""#))
        #expect(lines.contains("missing in v3  device                    sensors/dev-1"))
        #expect(lines.contains("differs        device                    sensors/dev-2 (v2 sensors/dev_2)"))
        #expect(lines.contains("                 as session.keys.app_s_key.key: differs (value hidden)"))
        #expect(lines.contains("only in v3     application               extra-app"))
        #expect(lines.contains("Summary: 5 equal, 2 differs, 1 missing in v3, 1 only in v3; 3 skipped"))

        // No rendering shows the old or the new key.
        var outputs = table.out + table.err
        for format in ["md", "json", "csv", "html"] {
            let result = await estate.diff(["--format", format])
            #expect(result.code == 1, "\(format): \(result.err)")
            outputs += result.out + result.err
        }
        MigratedEstate.expectNoSecrets(outputs)
        #expect(!outputs.localizedCaseInsensitiveContains(newKey))

        // The CSV quotes the name with its comma and quotes; the HTML escapes it.
        let csv = await estate.diff(["--format", "csv"])
        #expect(csv.out.contains(#"differs,application,sensors,sensors,,name,"""Sensors""","""Renamed, \""quoted\"" <b>""",\#r"#))
        let html = await estate.diff(["--format", "html"])
        #expect(html.out.contains("found <code>&quot;Renamed, \\&quot;quoted\\&quot; &lt;b&gt;&quot;</code>"))
        #expect(!html.out.contains("<b>"))
    }

    @Test func outWritesTheReportAtomicallyAndPrivately() async throws {
        let estate = try await MigratedEstate.start()
        defer { Task { await estate.stop() } }
        #expect(try await estate.v3Request("DELETE", "/as/applications/sensors/link") == 200)

        let out = estate.directory.file("diff.html")
        let result = await estate.diff(["--format", "html", "--out", out])
        #expect(result.code == 1)
        #expect(result.out.isEmpty)
        #expect(result.err.contains("wrote the diff to \(out): 7 equal, 0 differs, 1 missing in v3, 0 only in v3; 3 skipped"))
        let written = try String(contentsOfFile: out, encoding: .utf8)
        #expect(written.hasPrefix("<!DOCTYPE html>\n"))
        #expect(written.contains("<tr class=\"entity missing-in-v3\" data-kind=\"application-link\"><td class=\"status\">missing in v3</td><td>application-link</td><td>sensors</td>"))
        // With the journal: every migrated device, none cut over yet, and the gateway's settings.
        #expect(written.contains("<span class=\"count\" data-cutover=\"done\" data-count=\"0\">0</span> of 2 migrated devices run on v3 only;"))
        #expect(written.contains("<tr class=\"device pending\"><td class=\"status\">not cut over</td><td>sensors/dev-2</td><td>sensors/dev_2</td>"))
        #expect(written.contains("LNS <code>wss://eu1.cloud.thethings.network:8887</code>"))
        MigratedEstate.expectNoSecrets(written)
        let mode = try FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func anOrganizationOwnerIsComparedToo() async throws {
        let estate = try await MigratedEstate.start(owner: "{ organization: acme }")
        defer { Task { await estate.stop() } }
        #expect(try await estate.v3Request(
            "POST", "/organizations/acme/gateways",
            body: #"{"gateway":{"ids":{"gateway_id":"extra-gw","eui":"B827EBFFFE0000FF"},"frequency_plan_ids":["EU_863_870"]},"collaborator":{"organization_ids":{"organization_id":"acme"}}}"#) == 200)
        let result = await estate.diff()
        #expect(result.code == 1, "\(result.out)\n\(result.err)")
        let lines = result.out.components(separatedBy: "\n")
        #expect(lines.contains("only in v3  gateway                   extra-gw"))
        #expect(lines.contains("equal       gateway                   eui-b827ebfffe000001"))
        // alice is a collaborator in v2 but not the owner now: she is intended with her mapped rights.
        #expect(lines.contains("equal       application-collaborator  sensors/alice"))
        #expect(result.out.contains("(owner organization acme; API keys of run tag "))
    }

    @Test func readsAreRetriedThrough503And429() async throws {
        let estate = try await MigratedEstate.start()
        defer { Task { await estate.stop() } }
        let server = estate.v3.identityServer
        let before = server.requestLog.count
        // Every read fails at first; the faults end while the diff is backing off, so its retries succeed.
        server.setFaults(try FaultSpec(parsing: "503=0.5@GET:/api/v3/,429=0.5@GET:/api/v3/,seed=3"))
        async let diff = estate.diff()
        try await Task.sleep(for: .milliseconds(600))
        server.setFaults(.none)
        let result = await diff
        #expect(result.code == 0, "\(result.out)\n\(result.err)")
        #expect(result.out.contains("Summary: 8 equal, 0 differs, 0 missing in v3, 0 only in v3; 3 skipped"))
        let reads = server.requestLog.dropFirst(before)
        #expect(reads.contains { $0.status == 503 } && reads.contains { $0.status == 429 })
        #expect(reads.allSatisfy { $0.method == "GET" })
    }

    @Test func aJournalOfAnotherOwnerIsRefused() async throws {
        let estate = try await MigratedEstate.start()
        defer { Task { await estate.stop() } }
        let text = try String(contentsOfFile: estate.config, encoding: .utf8).replacingOccurrences(of: "owner: { user: alice }", with: "owner: { user: bob-smith }")
        let other = try estate.directory.write("other.yml", text)
        let result = await runCLI(["diff", "--config", other, "--journal", estate.journal])
        #expect(result.code == 2)
        #expect(result.err.contains("belongs to \(estate.v3.identityServerURL) (user alice), but the configuration targets"))
    }

    @Test func badInputExitsTwoWithWhatToDo() async throws {
        let estate = try await MigratedEstate.start()
        defer { Task { await estate.stop() } }

        let missingJournal = await estate.diff(["--journal", estate.directory.file("nope.sqlite")], journal: false)
        #expect(missingJournal.code == 2)
        #expect(missingJournal.err.contains("nope.sqlite"))

        let badFormat = await estate.diff(["--format", "xml"])
        #expect(badFormat.code == 2)

        // A v3 that does not answer.
        let text = try String(contentsOfFile: estate.config, encoding: .utf8)
            .replacingOccurrences(of: estate.v3.identityServerURL, with: "http://127.0.0.1:9")
        let unreachable = try estate.directory.write("unreachable.yml", text)
        let result = await runCLI(["diff", "--config", unreachable, "--snapshot", estate.journal + ".v2-snapshot.json"])
        #expect(result.code == 2)
        #expect(result.err.contains("cannot connect to http://127.0.0.1:9"))
    }
}

/// `diff` after `run` of a generated estate (20 applications, 10 gateways, 1000 devices) against the v3
/// simulator with a set latency: wall time and requests. Opt-in (timings):
/// `DIFF_BENCH=1 swift test --filter DiffBenchmark`.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["DIFF_BENCH"] != nil))
struct DiffBenchmark {
    @Test(arguments: [0, 20]) func diffOfAMigratedGeneratedEstate(latencyMilliseconds: Int) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let snapshotPath = directory.file("v2.json")
        try SnapshotFile.write(SyntheticEstate.snapshot(applications: 20, gateways: 10, devices: 1000), to: snapshotPath)
        let users = ["bench-owner"] + (0..<20).map { "viewer-\($0)" }
        let v3 = try await V3Simulator.start(
            config: V3SimulatorConfig(users: users),
            options: V3SimulatorLaunchOptions(server: SimServerOptions(latency: .milliseconds(latencyMilliseconds), recordsRequests: false)))
        defer { Task { await v3.stop() } }
        let keyFile = try directory.write("v3-api-key", v3.simulator.apiKey)
        let config = try directory.write("migrate.yml", """
            source:
              account_server: http://127.0.0.1:9/api/v2
              token_file: \(keyFile)
            target:
              url: \(v3.identityServerURL)
              api_key_file: \(keyFile)
              owner: { user: bench-owner }
            devices:
              frequency_plan: EU_863_870_TTN
              with_session: true
            concurrency: 16
            """)
        let journal = directory.file("migration.sqlite")
        let run = await runCLI(["run", "--config", config, "--snapshot", snapshotPath, "--journal", journal])
        #expect(run.code == 0, "\(run.err)")
        let clock = ContinuousClock()
        let started = clock.now
        let diff = await runCLI(["diff", "--config", config, "--journal", journal, "--format", "json", "--out", directory.file("diff.json")])
        let elapsed = clock.now - started
        #expect(diff.code == 0, "\(diff.err)")
        #expect(diff.err.contains("1100 equal, 0 differs, 0 missing in v3, 0 only in v3; 30 skipped"))
        print("diff bench, latency \(latencyMilliseconds) ms: \(elapsed) in all; \(diff.err.split(separator: "\n").last ?? "")")
    }
}
