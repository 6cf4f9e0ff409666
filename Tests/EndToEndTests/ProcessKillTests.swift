import Foundation
import HTTP
import Journal
import Simulator
import Testing
import V2Model

/// The built `ttn-migrate` executable beside the test bundle.
func executablePath() -> String {
    let resources = Bundle.module.bundleURL
    return resources.deletingLastPathComponent().appendingPathComponent("ttn-migrate").path
}

/// A child process with its stdout readable line by line.
final class ChildProcess: @unchecked Sendable {
    let process: SpawnedProcess
    let output: FileHandle
    let errors: FileHandle

    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process = try SpawnedProcess(executable: executablePath(), arguments: arguments, environment: env, standardOutput: .pipe, standardError: .pipe)
        output = process.output!
        errors = process.errors!
    }

    /// The first line the process prints.
    func firstLine() -> String {
        var data = Data()
        while true {
            let byte = output.readData(ofLength: 1)
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            data.append(byte)
        }
        return String(decoding: data, as: UTF8.self)
    }

    func kill() { process.send(SIGKILL) }

    /// Sends `signal` once the process has printed `count` lines containing `marker` on stdout; false when the
    /// process ended first. Reads on a thread of its own, so a busy test process cannot delay the signal past
    /// the moment it was meant for.
    func signal(_ signal: Int32, afterLines count: Int, containing marker: String) async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let reader = Thread { [self] in
                var seen = 0
                var pending = Data()
                while seen < count {
                    let chunk = output.availableData
                    if chunk.isEmpty {
                        continuation.resume(returning: false)
                        return
                    }
                    pending.append(chunk)
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        if String(decoding: pending[pending.startIndex..<newline], as: UTF8.self).contains(marker) { seen += 1 }
                        pending.removeSubrange(pending.startIndex...newline)
                    }
                }
                process.send(signal)
                continuation.resume(returning: true)
            }
            reader.start()
        }
    }

    /// Everything written to stderr (after the process ended).
    func errorText() -> String { String(decoding: errors.readDataToEndOfFile(), as: UTF8.self) }

    func interrupt() { process.send(SIGINT) }

    /// Waits for the end without holding a thread of the cooperative pool (two on this machine: a test
    /// blocked on a child for seconds starved the timers of tests running beside it); the exit code (128 +
    /// the signal for one that killed it).
    func wait() async -> Int32 { await process.terminated().code }
}

/// The example estate served by `ttn-migrate simulate` in a child process, and a configuration for it.
struct SimulatorProcessFixture {
    let directory: TemporaryDirectory
    let simulator: ChildProcess
    let v3URL: String
    let apiKey: String
    let configPath: String

    static func start(latencyMilliseconds: Int) throws -> SimulatorProcessFixture {
        let directory = try TemporaryDirectory()
        let token = "v2sim.kill-test-token"
        let apiKey = V3SimulatorAPIKey.generate()
        let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples").path
        let simulator = try ChildProcess(
            ["simulate", "--v2-data", examples + "/v2-estate.json", "--v3-users", "alice,bob-smith,carol", "--v3-organizations", "acme",
             "--latency-ms", String(latencyMilliseconds), "--secrets-dir", directory.path],
            environment: ["TTN_V2_TOKEN": token, "TTN_V3_API_KEY": apiKey])
        let urls = try JSONSerialization.jsonObject(with: Data(simulator.firstLine().utf8)) as! [String: Any]
        let v3URL = urls["v3_identity_server"] as! String
        let handlers = (urls["v2_handlers"] as! [String]).map { "    - \($0)" }.joined(separator: "\n")
        let tokenFile = try directory.write("v2-token-file", token)
        let keyFile = try directory.write("v3-key-file", apiKey)
        var config = try String(contentsOfFile: examples + "/migrate.yml", encoding: .utf8)
        config = config.replacingOccurrences(of: "http://127.0.0.1:8090/api/v2", with: urls["v2_account_server"] as! String)
            .replacingOccurrences(of: "    - http://127.0.0.1:8090/handlers/eu\n    - http://127.0.0.1:8090/handlers/us-west", with: handlers)
            .replacingOccurrences(of: "token_env: TTN_V2_TOKEN", with: "token_file: \(tokenFile)")
            .replacingOccurrences(of: "url: http://127.0.0.1:8091", with: "url: \(v3URL)")
            .replacingOccurrences(of: "api_key_env: TTN_V3_API_KEY", with: "api_key_file: \(keyFile)")
        let configPath = try directory.write("migrate.yml", config)
        return SimulatorProcessFixture(directory: directory, simulator: simulator, v3URL: v3URL, apiKey: apiKey, configPath: configPath)
    }

    func stop() {
        simulator.interrupt()
        // Synchronous, for `defer`: an interrupted simulator ends within milliseconds.
        _ = simulator.process.waitUntilExit()
        directory.cleanUp()
    }
}

@Suite(.serialized) struct ProcessKillTests {
    /// SIGKILLs the real CLI several times mid-run (the simulators live in another process), resumes, and
    /// checks that nothing is duplicated (exactly one API key per name) and nothing is missing.
    @Test func sigkillMidRunThenResumeLosesAndDuplicatesNothing() async throws {
        let fixture = try SimulatorProcessFixture.start(latencyMilliseconds: 15)
        defer { fixture.stop() }
        let directory = fixture.directory
        let v3URL = fixture.v3URL
        let apiKey = fixture.apiKey
        let configPath = fixture.configPath
        let snapshot = directory.file("v2.json")
        let journal = directory.file("journal.sqlite")
        let snapshotRun = try ChildProcess(["snapshot", "--config", configPath, "--out", snapshot])
        #expect(await snapshotRun.wait() == 0)

        let runArguments = ["run", "--config", configPath, "--snapshot", snapshot, "--journal", journal, "--concurrency", "4"]
        // Each run is killed once it has reported some steps done (113 in all), so the kills land mid-run whatever
        // the machine's speed; a run that finishes first (a step done but not yet journaled at a kill is found
        // present the next time, not done again) ends the series.
        for steps in [10, 20, 25, 35] {
            let run = try ChildProcess(runArguments)
            guard await run.signal(SIGKILL, afterLines: steps, containing: "] done ") else {
                #expect(await run.wait() == 0)
                break
            }
            let status = await run.wait()
            #expect(await run.process.terminated() == .signaled(SIGKILL) || status == 0)
        }
        let final = try ChildProcess(runArguments)
        #expect(await final.wait() == 0)
        let http = HTTPClient()
        // The kills landed mid-run: runs that started, did some steps and never finished.
        let runs = try await JournalStore.openForReading(at: journal).runs()
        let killed = runs.filter { $0.finishedAt == nil }
        #expect(killed.count >= 2, "\(runs.map { ($0.outcome, $0.stepsDone) })")
        #expect(killed.contains { $0.stepsDone > 0 })

        // Every application API key exactly once; every planned application, gateway and device present.
        func get(_ path: String) async throws -> [String: Any] {
            let response = try await http.send(HTTPRequest(url: v3URL + "/api/v3" + path, headers: [("Authorization", "Bearer \(apiKey)")]))
            #expect(response.status == 200, "\(path): \(response.status)")
            return (try JSONSerialization.jsonObject(with: response.body) as? [String: Any]) ?? [:]
        }
        let applications = (try await get("/users/alice/applications?limit=1000")["applications"] as? [[String: Any]]) ?? []
        let applicationIDs = applications.compactMap { ($0["ids"] as? [String: Any])?["application_id"] as? String }.sorted()
        #expect(applicationIDs == ["ab-v2", "demo-v2", "legacy-app", "new-app", "parking-sensors", "weather-station", "weather-station-2"])
        var keyNames: [String] = []
        var deviceCount = 0
        for id in applicationIDs {
            let keys = (try await get("/applications/\(id)/api-keys?limit=1000")["api_keys"] as? [[String: Any]]) ?? []
            keyNames += keys.compactMap { ($0["name"] as? String).map { "\(id)/\($0)" } }
            deviceCount += ((try await get("/applications/\(id)/devices?limit=1000")["end_devices"] as? [[String: Any]]) ?? []).count
        }
        #expect(keyNames.count == 8)
        #expect(Set(keyNames).count == keyNames.count, "duplicate API keys: \(keyNames.sorted())")
        #expect(deviceCount == 15)
        let gateways = (try await get("/users/alice/gateways?limit=1000")["gateways"] as? [[String: Any]]) ?? []
        #expect(gateways.count == 15)
    }

    /// Ctrl-C (SIGINT) lets requests in flight finish, records them, prints the resume command and exits 130.
    @Test func interruptExits130WithTheResumeCommand() async throws {
        let fixture = try SimulatorProcessFixture.start(latencyMilliseconds: 40)
        defer { fixture.stop() }
        let snapshot = fixture.directory.file("v2.json")
        #expect(try await ChildProcess(["snapshot", "--config", fixture.configPath, "--out", snapshot]).wait() == 0)
        let journal = fixture.directory.file("journal.sqlite")
        let run = try ChildProcess(["run", "--config", fixture.configPath, "--snapshot", snapshot, "--journal", journal, "--concurrency", "2"])
        #expect(await run.signal(SIGINT, afterLines: 10, containing: "] done "))
        #expect(await run.wait() == 130)
        let errors = run.errorText()
        #expect(errors.contains("interrupted; resume with: ttn-migrate run --config \(fixture.configPath) --journal \(journal) --concurrency 2"))
        let runs = try await JournalStore.openForReading(at: journal).runs()
        #expect(runs.last?.outcome == .interrupted)
        let resumed = try ChildProcess(["run", "--config", fixture.configPath, "--journal", journal, "--concurrency", "2"])
        #expect(await resumed.wait() == 0)
    }

    /// SIGKILLs `cutover --force` mid-way twice, resumes, and checks that every migrated device ends with
    /// no keys in v2 and v3 counters at least v2's: a kill between the v3 write and the v2 clear, or
    /// after the clear before it was journaled, loses nothing.
    @Test func sigkillDuringCutoverThenResumeLosesNothing() async throws {
        let fixture = try SimulatorProcessFixture.start(latencyMilliseconds: 10)
        defer { fixture.stop() }
        let journal = fixture.directory.file("journal.sqlite")
        #expect(try await ChildProcess(["run", "--config", fixture.configPath, "--journal", journal]).wait() == 0)
        let arguments = ["cutover", "--config", fixture.configPath, "--journal", journal, "--fcnt-margin", "16", "--force"]
        for lines in [2, 3] {
            let cutover = try ChildProcess(arguments)
            guard await cutover.signal(SIGKILL, afterLines: lines, containing: "] switched ") else {
                Issue.record("the cut-over finished before the kill: \(cutover.errorText())")
                break
            }
            _ = await cutover.wait()
        }
        let final = try ChildProcess(arguments)
        let code = await final.wait()
        let errors = final.errorText()
        #expect(code == 0 || errors.contains("not fully migrated"), "\(errors)")

        let store = try JournalStore.openForReading(at: journal)
        let records = try await store.cutoverRecords()
        try await store.close()
        let estate = try SnapshotFile.read(path: journal + ".v2-snapshot.json")
        let http = HTTPClient()
        var checked = 0
        for record in records.values {
            #expect(record.state == .done, "\(record.entityKey) is \(record.state)")
            guard let application = estate.applications.first(where: { $0.application.id == record.v2ApplicationID }),
                  let handler = application.handler.url else { continue }
            let v2 = try await http.send(HTTPRequest(
                url: handler + "/applications/\(record.v2ApplicationID)/devices/\(record.v2DeviceID)",
                headers: [("Authorization", "Bearer v2sim.kill-test-token")]))
            let lorawan = (try JSONSerialization.jsonObject(with: v2.body) as? [String: Any])?["lorawan_device"] as? [String: Any] ?? [:]
            for key in ["app_key", "nwk_s_key", "app_s_key", "dev_addr"] {
                #expect((lorawan[key] as? String ?? "").isEmpty, "\(record.entityKey) keeps \(key) in v2")
            }
            let v2Up = lorawan["f_cnt_up"] as? Int ?? 0
            let v3 = try await http.send(HTTPRequest(
                url: fixture.v3URL + "/api/v3/ns/applications/\(record.entityKey.replacingOccurrences(of: "/", with: "/devices/"))?field_mask=session.last_f_cnt_up",
                headers: [("Authorization", "Bearer \(fixture.apiKey)")]))
            if let session = (try JSONSerialization.jsonObject(with: v3.body) as? [String: Any])?["session"] as? [String: Any] {
                #expect(session["last_f_cnt_up"] as? Int ?? 0 >= v2Up + 16, "\(record.entityKey): v3 \(session) below v2 \(v2Up) + 16")
            }
            checked += 1
        }
        #expect(checked >= 8, "only \(checked) devices were cut over")
    }
}
