import Foundation
import HTTP
import Journal
import Executor
import Simulator
import Testing
@testable import TTNMigrateCLI

/// `cutover` on the small estate migrated into the v3 simulator: dev-1 (OTAA, no session: v3 holds
/// none, the device joins again) and dev_2 (ABP: v3 holds its session and counters).
@Suite(.serialized) struct CutoverCommandTests {
    static let devicePaths = ["sensors/dev-1", "sensors/dev_2"]

    /// The small estate migrated; then dev_2 has sent and received frames on v2 since the snapshot.
    static func migrated(v2Counters: (up: Int, down: Int) = (900, 40)) async throws -> MigratedEstate {
        let estate = try await MigratedEstate.start()
        let body = #"{"lorawan_device": {"app_eui": "70B3D57ED0001000", "dev_eui": "0004A30B001C0002", "f_cnt_up": \#(v2Counters.up), "f_cnt_down": \#(v2Counters.down), "disable_f_cnt_check": true}}"#
        let response = try await HTTPClient().send(HTTPRequest(
            method: "PUT", url: estate.v2.simulator.handlerURL(named: "eu") + "/applications/sensors/devices/dev_2",
            headers: [("Authorization", "Bearer \(V2Fixture.token)")], body: Data(body.utf8)))
        #expect(response.status == 200, "\(String(decoding: response.body, as: UTF8.self))")
        return estate
    }

    func cutover(_ estate: MigratedEstate, _ extra: [String] = []) async -> (code: Int32, out: String, err: String) {
        await runCLI(["cutover", "--config", estate.config, "--journal", estate.journal] + extra)
    }

    /// The v2 device's LoRaWAN fields as the handler stores them.
    func v2Device(_ estate: MigratedEstate, _ device: String) throws -> [String: Any] {
        let data = try #require(estate.v2.simulator.simulator.storedDevice(application: "sensors", device: device))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return object["lorawan_device"] as? [String: Any] ?? [:]
    }

    func keysCleared(_ lorawan: [String: Any]) -> Bool {
        ["app_key", "nwk_s_key", "app_s_key", "dev_addr"].allSatisfy { (lorawan[$0] as? String ?? "").isEmpty }
    }

    /// A v3 component's session counters of a device (0 when proto3 JSON leaves them out).
    func v3Session(_ estate: MigratedEstate, _ component: String, _ device: String, _ fields: [String]) async throws -> [String: Int]? {
        let response = try await estate.base.v3Request(
            "GET", "/api/v3/\(component)/applications/sensors/devices/\(device)?field_mask=" + fields.map { "session.\($0)" }.joined(separator: ","))
        #expect(response.status == 200)
        let object = try JSONSerialization.jsonObject(with: response.body) as? [String: Any]
        guard let session = object?["session"] as? [String: Any] else { return nil }
        return Dictionary(uniqueKeysWithValues: fields.map { ($0, session[$0] as? Int ?? 0) })
    }

    @Test func dryRunListsTheDevicesAndGatewaysAndChangesNothing() async throws {
        let estate = try await Self.migrated()
        defer { Task { await estate.stop() } }
        let before = try Self.devicePaths.map { try v2Device(estate, String($0.split(separator: "/")[1])) as NSDictionary }
        let v3Requests = estate.v3.simulator.stateDump()

        let result = await cutover(estate)
        #expect(result.code == 0, "\(result.err)")
        let lines = result.out.components(separatedBy: "\n")
        #expect(lines[0] == "Cut-over of journal \(estate.journal): dry run, nothing is sent and nothing is written.")
        #expect(lines.contains("2 devices would be switched to v3 only: v3 frame counters raised to at least v2's, then the v2 AppKey and session cleared:"))
        #expect(lines.contains("  - device sensors/dev-1 (v2 handler \(estate.v2.simulator.handlerURL(named: "eu")))"))
        #expect(lines.contains("  - device sensors/dev_2 (v3 sensors/dev-2) (v2 handler \(estate.v2.simulator.handlerURL(named: "eu")))"))
        #expect(lines.contains("  - gateway eui-b827ebfffe000001, EUI B827EBFFFE000001, frequency plan EU_863_870"))
        #expect(lines.contains(#"      Semtech UDP packet forwarder: server_address "eu1.cloud.thethings.network", serv_port_up 1700, serv_port_down 1700, gateway_ID B827EBFFFE000001"#))
        let tag = try await migrationTag(of: estate.journal)
        #expect(lines.contains("      LoRa Basics Station: LNS wss://eu1.cloud.thethings.network:8887, CUPS https://eu1.cloud.thethings.network:443; "
            + "LNS key: API key \"v2: gateway key [\(tag)]\" (RIGHT_GATEWAY_LINK), its secret in `ttn-migrate keys --journal … --out FILE`"))
        #expect(lines.last == "To switch: ttn-migrate cutover --config \(estate.config) --journal \(estate.journal) --force")
        MigratedEstate.expectNoSecrets(result.out + result.err)

        let after = try Self.devicePaths.map { try v2Device(estate, String($0.split(separator: "/")[1])) as NSDictionary }
        #expect(before == after)
        #expect(estate.v3.simulator.stateDump() == v3Requests)
        #expect(try await JournalStore.openForReading(at: estate.journal).cutoverRecords().isEmpty)
    }

    @Test func forceRaisesV3CountersClearsV2KeysAndDiffStaysEqual() async throws {
        let estate = try await Self.migrated()
        defer { Task { await estate.stop() } }
        #expect(try await v3Session(estate, "ns", "dev-2", ["last_f_cnt_up", "last_n_f_cnt_down"]) == ["last_f_cnt_up": 5, "last_n_f_cnt_down": 3])

        let result = await cutover(estate, ["--fcnt-margin", "10", "--force"])
        #expect(result.code == 0, "\(result.out)\n\(result.err)")
        #expect(result.out.contains("switched device sensors/dev-1: no v3 session: the device joins again on v3; v2 keys cleared"))
        #expect(result.out.contains("switched device sensors/dev_2 (v3 sensors/dev-2): v3 counters up 910, down 50; v2 keys cleared"))
        #expect(result.err.contains("cutover: 2 switched, 0 already cleared in v2, 0 done earlier, 0 failed, 0 not fully migrated, 0 not started;"))
        MigratedEstate.expectNoSecrets(result.out + result.err)

        for device in ["dev-1", "dev_2"] {
            let lorawan = try v2Device(estate, device)
            #expect(keysCleared(lorawan), "\(device) keeps keys in v2")
            #expect(lorawan["dev_eui"] != nil && lorawan["app_eui"] != nil)
        }
        // v2's counters are kept as they were read.
        #expect(try v2Device(estate, "dev_2")["f_cnt_up"] as? Int == 900)
        #expect(try v2Device(estate, "dev-1")["f_cnt_up"] as? Int == 70000)
        #expect(try await v3Session(estate, "ns", "dev-2", ["last_f_cnt_up", "last_n_f_cnt_down"]) == ["last_f_cnt_up": 910, "last_n_f_cnt_down": 50])
        #expect(try await v3Session(estate, "as", "dev-2", ["last_a_f_cnt_down"]) == ["last_a_f_cnt_down": 50])
        #expect(try await v3Session(estate, "ns", "dev-1", ["last_f_cnt_up"]) == nil)

        let records = try await JournalStore.openForReading(at: estate.journal).cutoverRecords()
        #expect(records["sensors/dev-2"]?.state == .done)
        #expect(records["sensors/dev-2"]?.v2FCntUp == 900 && records["sensors/dev-2"]?.v3FCntUp == 910)
        #expect(records["sensors/dev-1"]?.state == .done && records["sensors/dev-1"]?.v3FCntUp == nil)

        // v3 counters above the plan's count as equal: the device moved on.
        let diff = await estate.diff()
        #expect(diff.code == 0, "\(diff.out)")

        // Again: nothing left to do, nothing sent.
        let puts = estate.v2.simulator.server.requestLog.filter { $0.method == "PUT" }.count
        let again = await cutover(estate, ["--force"])
        #expect(again.code == 0, "\(again.err)")
        #expect(again.err.contains("2 devices already switched by an earlier cut-over: left alone."))
        #expect(estate.v2.simulator.server.requestLog.filter { $0.method == "PUT" }.count == puts)
    }

    @Test func aFailingV3WriteLeavesV2UntouchedAndTheNextCutoverCompletes() async throws {
        let estate = try await Self.migrated()
        defer { Task { await estate.stop() } }
        let before = try v2Device(estate, "dev_2") as NSDictionary
        estate.v3.identityServer.setFaults(try FaultSpec(parsing: "503=1@PUT:/api/v3/as/"))
        var settings = CutoverRunner.Settings(journalPath: estate.journal)
        settings.options.retry = RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(5), maxDelay: .milliseconds(10))
        settings.options.frameCounterMargin = 1
        let runner = CutoverRunner(configuration: try MigrationConfiguration.load(path: estate.config), settings: settings)
        let outcome = try await Console.$current.withValue(CapturedOutput().console) {
            try await runner.execute(stop: StopSignal(), events: { _ in })
        }
        #expect(outcome.summary.failed.map { $0.device } == ["sensors/dev_2"])
        #expect(outcome.summary.failed.first?.message.contains("503") == true)
        #expect(outcome.summary.switched == ["sensors/dev-1"])
        #expect(try v2Device(estate, "dev_2") as NSDictionary == before, "v2 changed although v3 refused the counters")
        let failed = try await JournalStore.openForReading(at: estate.journal).cutoverRecords()["sensors/dev-2"]
        #expect(failed?.state == .failed && failed?.failures == 1)
        #expect(failed?.lastError?.contains("Application Server") == true)

        estate.v3.identityServer.setFaults(.none)
        let resumed = await cutover(estate, ["--fcnt-margin", "1", "--force"])
        #expect(resumed.code == 0, "\(resumed.err)")
        #expect(resumed.out.contains("switched device sensors/dev_2 (v3 sensors/dev-2): v3 counters up 901, down 41; v2 keys cleared"))
        #expect(keysCleared(try v2Device(estate, "dev_2")))
        #expect(try await v3Session(estate, "as", "dev-2", ["last_a_f_cnt_down"]) == ["last_a_f_cnt_down": 41])
    }

    @Test func v2FaultsOnSetDeviceAreRetriedAndDevicesSelectable() async throws {
        let estate = try await Self.migrated()
        defer { Task { await estate.stop() } }
        // The first SetDevice is applied but its answer lost; the retry sends the same body.
        estate.v2.simulator.server.setFaults(try FaultSpec(parsing: "drop-after=1@PUT:/handlers/,seed=1"))
        var settings = CutoverRunner.Settings(journalPath: estate.journal)
        settings.options.retry = RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(5), maxDelay: .milliseconds(10))
        settings.devices = ["sensors/dev-2"]
        let runner = CutoverRunner(configuration: try MigrationConfiguration.load(path: estate.config), settings: settings)
        let outcome = try await Console.$current.withValue(CapturedOutput().console) {
            try await runner.execute(stop: StopSignal(), events: { _ in })
        }
        // Both attempts drop the answer; the device is failed, but v2 did apply the clear.
        #expect(outcome.summary.failed.map { $0.device } == ["sensors/dev_2"])
        #expect(keysCleared(try v2Device(estate, "dev_2")))
        #expect(!keysCleared(try v2Device(estate, "dev-1")), "dev-1 was not selected")
        estate.v2.simulator.server.setFaults(.none)
        let resumed = await cutover(estate, ["--devices", "sensors/dev_2", "--force"])
        #expect(resumed.code == 0, "\(resumed.err)")
        #expect(resumed.out.contains("already cleared device sensors/dev_2 (v3 sensors/dev-2): v3 counters up 900, down 40; v2 held no keys"))
        let records = try await JournalStore.openForReading(at: estate.journal).cutoverRecords()
        #expect(records["sensors/dev-2"]?.state == .done)
        #expect(records["sensors/dev-1"] == nil)

        let unknown = await cutover(estate, ["--devices", "sensors/nope,sensors/dev-1"])
        #expect(unknown.code == 2)
        #expect(unknown.err == "error: --devices names a device this migration's plan does not hold: sensors/nope; give v2 IDs (application/device) or v3 IDs as `ttn-migrate plan` lists them")
        let empty = await cutover(estate, ["--devices", " , "])
        #expect(empty.code == 2)
    }

    @Test func devicesNotFullyMigratedStayOnV2() async throws {
        let estate = try await Self.migrated()
        defer { Task { await estate.stop() } }
        // Undo dev_2's Application Server step as if it had failed.
        let store = try JournalStore.open(at: estate.journal, target: try JournalPlanContext(
            configuration: try MigrationConfiguration.load(path: estate.config), journalPath: estate.journal, command: "test").target())
        try await store.startRun(RunInfo(toolVersion: "test", commandLine: []))
        try await store.markRolledBack(step: "device:sensors/dev-2:as")
        try await store.finishRun(outcome: .completed)
        try await store.close()

        let result = await cutover(estate, ["--force"])
        #expect(result.code == 1)
        #expect(result.err.contains("1 device stay on v2 (v2 keys kept):"))
        #expect(result.err.contains("  - device sensors/dev_2 (v3 sensors/dev-2): not fully migrated: device:sensors/dev-2:as is rolled_back"))
        #expect(keysCleared(try v2Device(estate, "dev-1")))
        #expect(!keysCleared(try v2Device(estate, "dev_2")))
    }
}
