import Foundation
import Simulator
import Testing

/// The example estate with every secret replaced by a distinctive random value, so that any copy of one
/// anywhere can be found: v2 token, v3 API key, v2 access and gateway keys, gateway tokens, device keys.
struct AuditSecrets {
    var v2Token = "v2sim.audit-" + randomHex(24)
    var v3AdminKey = V3SimulatorAPIKey.generate()
    /// v2 application access keys, gateway keys and gateway tokens: only the v2 snapshot may hold them.
    var v2Keys: [String] = []
    /// Root keys (AppKey): only the Join Server may receive them.
    var rootKeys: [String] = []
    /// NwkSKey: only the Network Server may receive them.
    var networkSessionKeys: [String] = []
    /// AppSKey: only the Application Server may receive them.
    var applicationSessionKeys: [String] = []

    var deviceKeys: [String] { rootKeys + networkSessionKeys + applicationSessionKeys }

    /// `estate` (v2 estate JSON) with its secrets replaced, recording the new values.
    mutating func rewrite(_ estate: Any) -> Any {
        if let array = estate as? [Any] { return array.map { rewrite($0) } }
        guard var object = estate as? [String: Any] else { return estate }
        for (name, value) in object {
            guard let text = value as? String else {
                object[name] = rewrite(value)
                continue
            }
            switch name {
            case "app_key": object[name] = Self.remember(randomHex(16), in: &rootKeys)
            case "nwk_s_key": object[name] = Self.remember(randomHex(16), in: &networkSessionKeys)
            case "app_s_key": object[name] = Self.remember(randomHex(16), in: &applicationSessionKeys)
            case "key" where text.hasPrefix("ttn-account-v2."):
                object[name] = Self.remember("ttn-account-v2.audit" + randomHex(12), in: &v2Keys)
            case "access_token": object[name] = Self.remember("eyJaudit" + randomHex(20), in: &v2Keys)
            default: break
            }
        }
        return object
    }

    private static func remember(_ value: String, in list: inout [String]) -> String {
        list.append(value)
        return value
    }
}

private func randomHex(_ bytes: Int) -> String {
    (0..<bytes).map { _ in String(format: "%02X", UInt8.random(in: 0...255)) }.joined()
}

/// The v3 simulator's API with every request body kept, to see which server received which device key.
final class BodyRecordingAPI: SimulatedAPI, @unchecked Sendable {
    private let wrapped: V3Simulator
    private let lock = NSLock()
    private var recorded: [RecordedRequest] = []

    struct RecordedRequest: Sendable {
        let path: String
        let body: String
    }

    init(_ wrapped: V3Simulator) { self.wrapped = wrapped }

    func handle(_ request: SimRequest) -> SimResponse {
        let body = String(decoding: request.body, as: UTF8.self)
        lock.withLock { recorded.append(RecordedRequest(path: request.path, body: body)) }
        return wrapped.handle(request)
    }

    func unavailableResponse() -> SimResponse { wrapped.unavailableResponse() }
    func rateLimitedResponse(limitPerMinute: Int, retryAfterSeconds: Int) -> SimResponse {
        wrapped.rateLimitedResponse(limitPerMinute: limitPerMinute, retryAfterSeconds: retryAfterSeconds)
    }

    var requests: [RecordedRequest] { lock.withLock { recorded } }
}

/// Every command line seen in /proc while audited commands run, sampled on a thread of its own.
final class ArgvSampler: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: Set<String> = []
    private var running = true
    private var thread: Thread?

    func start() {
        let thread = Thread { [self] in
            while lock.withLock({ running }) {
                let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
                var lines: [String] = []
                for pid in pids where pid.allSatisfy(\.isNumber) {
                    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { continue }
                    lines.append(String(decoding: data.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self))
                }
                lock.withLock { seen.formUnion(lines) }
                usleep(2_000)
            }
        }
        self.thread = thread
        thread.start()
    }

    func stop() { lock.withLock { running = false } }

    var commandLines: Set<String> { lock.withLock { seen } }
}

/// One run of the built `ttn-migrate` as a real process: stdout and stderr go to files, the exit is awaited
/// without holding a thread of the test's pool.
func runExecutable(_ arguments: [String], environment: [String: String], in directory: TemporaryDirectory, name: String) async throws
    -> (code: Int32, out: String, err: String)
{
    let outPath = directory.file("\(name).stdout")
    let errPath = directory.file("\(name).stderr")
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    let process = try SpawnedProcess(
        executable: executablePath(), arguments: arguments, environment: env, standardOutput: .file(outPath), standardError: .file(errPath))
    let code = await process.terminated().code
    return (code, try String(contentsOfFile: outPath, encoding: .utf8), try String(contentsOfFile: errPath, encoding: .utf8))
}

/// Issue 13 §4: the whole operator's flow with distinctive secrets, every output scanned.
@Suite(.serialized, .timeLimit(.minutes(3))) struct SecretsAuditTests {
    @Test func noSecretLeavesItsPlace() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let examples = examplesDirectory()
        var secrets = AuditSecrets()
        let estate = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: examples + "/v2-estate.json")))
        let rewritten = secrets.rewrite(estate)
        let estatePath = directory.file("v2-estate.json")
        try JSONSerialization.data(withJSONObject: rewritten).write(to: URL(fileURLWithPath: estatePath))
        #expect(secrets.rootKeys.count >= 10 && secrets.networkSessionKeys.count >= 5 && secrets.v2Keys.count >= 20)

        let v2 = try await V2Simulator.start(estateFile: estatePath, token: secrets.v2Token)
        let simulator = try V3Simulator(config: V3SimulatorConfig(
            users: ["alice", "bob-smith", "carol"], organizations: ["acme"], apiKey: secrets.v3AdminKey, apiKeyRights: ["RIGHT_ALL"]))
        let recorder = BodyRecordingAPI(simulator)
        let v3 = SimServer(api: recorder)
        let v3Port = try await v3.start()
        let tokenFile = try directory.write("v2-token", secrets.v2Token)
        let keyFile = try directory.write("v3-api-key", secrets.v3AdminKey)
        let handlers = v2.handlerURLs.map { "    - \($0)" }.joined(separator: "\n")
        let config = try directory.write("migrate.yml", try String(contentsOfFile: examples + "/migrate.yml", encoding: .utf8)
            .replacingOccurrences(of: "http://127.0.0.1:8090/api/v2", with: v2.accountServerURL)
            .replacingOccurrences(of: "    - http://127.0.0.1:8090/handlers/eu\n    - http://127.0.0.1:8090/handlers/us-west", with: handlers)
            .replacingOccurrences(of: "token_env: TTN_V2_TOKEN", with: "token_file: \(tokenFile)")
            .replacingOccurrences(of: "url: http://127.0.0.1:8091", with: "url: http://127.0.0.1:\(v3Port)")
            .replacingOccurrences(of: "api_key_env: TTN_V3_API_KEY", with: "api_key_file: \(keyFile)"))

        let snapshot = directory.file("v2-snapshot.json")
        let journal = directory.file("journal.sqlite")
        let keysOut = directory.file("keys.json")
        let devicesOut = directory.file("devices.jsonl")
        var commands: [(name: String, arguments: [String], file: String?)] = [
            ("snapshot", ["snapshot", "--config", config, "--out", snapshot], nil),
            ("plan", ["plan", "--config", config, "--snapshot", snapshot, "--check-target"], nil),
            ("plan-json", ["plan", "--config", config, "--snapshot", snapshot, "--format", "json", "--out", directory.file("plan.json")], "plan.json"),
            ("run", ["run", "--config", config, "--snapshot", snapshot, "--journal", journal], nil),
            ("status", ["status", "--journal", journal], nil),
            ("status-json", ["status", "--journal", journal, "--format", "json"], nil),
        ]
        for format in ["table", "md", "json", "csv", "html"] {
            commands.append(("diff-\(format)", ["diff", "--config", config, "--snapshot", snapshot, "--journal", journal, "--format", format,
                                                "--out", directory.file("diff.\(format)")], "diff.\(format)"))
        }
        commands += [
            ("keys", ["keys", "--journal", journal, "--out", keysOut], nil),
            ("export-map", ["export-map", "--config", config, "--journal", journal, "--out", directory.file("map.csv")], "map.csv"),
            ("export-devices", ["export-devices", "--config", config, "--snapshot", snapshot, "--out", devicesOut], nil),
            ("cutover-list", ["cutover", "--config", config, "--journal", journal], nil),
            ("cutover", ["cutover", "--config", config, "--journal", journal, "--force"], nil),
            ("rollback-list", ["rollback", "--config", config, "--journal", journal], nil),
        ]

        let sampler = ArgvSampler()
        sampler.start()
        var printed: [(name: String, text: String)] = []
        var reports: [(name: String, text: String)] = []
        for command in commands {
            // Trace logging: every diagnostic the tool can print is printed and scanned.
            let result = try await runExecutable(command.arguments, environment: ["TTN_MIGRATE_LOG": "trace"], in: directory, name: command.name)
            #expect(result.code == 0 || (command.name.hasPrefix("diff") && result.code == 1),
                    "\(command.name) exited with \(result.code): \(result.err)")
            printed.append((command.name, result.out + "\n" + result.err))
            if let file = command.file { reports.append((file, try String(contentsOfFile: directory.file(file), encoding: .utf8))) }
        }
        sampler.stop()
        await v3.stop()
        await v2.stop()

        // The v3 keys the run created, as `keys --out` lists them; the journal holds them too (that is how keys reads them).
        let keysText = try String(contentsOfFile: keysOut, encoding: .utf8)
        let createdKeys = Set(matches(of: #"NNSXS\.[A-Z0-9]+\.[A-Z0-9]+"#, in: keysText)).subtracting([secrets.v3AdminKey])
        #expect(createdKeys.count == 8 + 15, "8 application API keys and 15 gateway link keys")
        let journalBytes = try journalText(journal)
        for key in createdKeys { #expect(journalBytes.contains(key)) }
        let v3Secrets = createdKeys.flatMap { [$0, String($0.split(separator: ".").last!)] } + [secrets.v3AdminKey]
        let everySecret = v3Secrets + secrets.deviceKeys + secrets.v2Keys + [secrets.v2Token]

        // Nothing printed (stdout, stderr, trace logs) and no report, plan, status or map holds any secret.
        for (name, text) in printed + reports {
            for secret in everySecret where text.range(of: secret, options: .caseInsensitive) != nil {
                Issue.record("\(name) shows a secret (\(secret.prefix(6))…)")
            }
        }
        // No process's argv held one.
        for line in sampler.commandLines {
            for secret in everySecret where line.range(of: secret, options: .caseInsensitive) != nil {
                Issue.record("a command line holds a secret: \(line.prefix(80))")
            }
        }
        #expect(sampler.commandLines.contains { $0.contains("ttn-migrate diff") }, "the sampler saw the audited processes")

        // v3 key secrets live only in keys --out and the journal, never in the snapshot or the device export.
        let snapshotText = try String(contentsOfFile: snapshot, encoding: .utf8)
        let devicesText = try String(contentsOfFile: devicesOut, encoding: .utf8)
        for key in createdKeys { #expect(!snapshotText.contains(key) && !devicesText.contains(key)) }
        // v2 credentials only in the snapshot (which must hold the estate as read).
        for key in secrets.v2Keys { #expect(!devicesText.contains(key) && !keysText.contains(key)) }
        #expect(!snapshotText.contains(secrets.v2Token))

        // Each device key reached only its owning server: root keys the JS, NwkSKey the NS, AppSKey the AS.
        let requests = recorder.requests
        let owners: [(keys: [String], prefix: String)] = [
            (secrets.rootKeys, "/api/v3/js/"), (secrets.networkSessionKeys, "/api/v3/ns/"), (secrets.applicationSessionKeys, "/api/v3/as/"),
        ]
        var delivered = 0
        for (keys, prefix) in owners {
            for key in keys {
                for request in requests where request.body.range(of: key, options: .caseInsensitive) != nil {
                    delivered += 1
                    #expect(request.path.hasPrefix(prefix), "a device key went to \(request.path), not to \(prefix)")
                }
            }
        }
        #expect(delivered >= 15, "the device keys did reach their servers (\(delivered) requests)")
        for request in requests {
            for secret in secrets.v2Keys + [secrets.v2Token] where request.body.range(of: secret) != nil {
                Issue.record("a v2 credential was sent to v3 (\(request.path))")
            }
        }

        // Files that hold secrets are readable by their owner only.
        for path in [journal, snapshot, keysOut, devicesOut, tokenFile, keyFile] {
            let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(path) has mode \(String(mode ?? 0, radix: 8))")
        }
    }

    private func matches(of pattern: String, in text: String) -> [String] {
        let expression = try! NSRegularExpression(pattern: pattern)
        return expression.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { String(text[Range($0.range, in: text)!]) }
    }

    /// The journal's bytes (and its write-ahead log's, if any) as Latin-1 text, to search for key values.
    private func journalText(_ path: String) throws -> String {
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        if let wal = FileManager.default.contents(atPath: path + "-wal") { data.append(wal) }
        return String(decoding: data.map { $0 < 0x80 ? $0 : 0x20 }, as: UTF8.self)
    }
}
