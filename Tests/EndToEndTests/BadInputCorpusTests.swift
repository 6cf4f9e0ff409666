import Foundation
import Simulator
import Testing
import V2Model

/// A simulator's API with an override: `rule` answers the requests it wants to, the real API the rest.
final class HostileAPI: SimulatedAPI, @unchecked Sendable {
    private let wrapped: any SimulatedAPI
    private let lock = NSLock()
    private var rule: (@Sendable (SimRequest) -> SimResponse?)?

    init(_ wrapped: any SimulatedAPI) { self.wrapped = wrapped }

    func setRule(_ rule: (@Sendable (SimRequest) -> SimResponse?)?) { lock.withLock { self.rule = rule } }

    func handle(_ request: SimRequest) -> SimResponse {
        if let answer = lock.withLock({ rule })?(request) { return answer }
        return wrapped.handle(request)
    }

    func unavailableResponse() -> SimResponse { wrapped.unavailableResponse() }
    func rateLimitedResponse(limitPerMinute: Int, retryAfterSeconds: Int) -> SimResponse {
        wrapped.rateLimitedResponse(limitPerMinute: limitPerMinute, retryAfterSeconds: retryAfterSeconds)
    }
}

/// Both simulators of the small estate behind `HostileAPI`s, a configuration, and a snapshot read before any
/// rule was set.
struct HostileFixture {
    let directory: TemporaryDirectory
    let v2: HostileAPI
    let v3: HostileAPI
    let v3Simulator: V3Simulator
    let servers: [SimServer]
    let configPath: String
    let snapshotPath: String
    let v3Base: String
    let v2Base: String

    static func start() async throws -> HostileFixture {
        let directory = try TemporaryDirectory()
        let estate = try V2Estate.load(file: golden("small-estate.json"), validation: .strict)
        let v2 = HostileAPI(try V2Simulator(estate: estate, token: V2Fixture.token, options: V2SimulatorOptions()))
        let v3Simulator = try V3Simulator(config: V3SimulatorConfig(users: ["alice", "bob-smith"]))
        let v3 = HostileAPI(v3Simulator)
        let fastRetry = SimServerOptions()
        let v2Server = SimServer(api: v2, options: fastRetry)
        let v3Server = SimServer(api: v3, options: fastRetry)
        let v2Port = try await v2Server.start()
        let v3Port = try await v3Server.start()
        let v2Base = "http://127.0.0.1:\(v2Port)"
        let v3Base = "http://127.0.0.1:\(v3Port)"
        let tokenFile = try directory.write("v2-token", V2Fixture.token + "\n")
        let keyFile = try directory.write("v3-api-key", v3Simulator.apiKey + "\n")
        let handlers = estate.handlerNames.map { "    - \(v2Base)/handlers/\($0)" }.joined(separator: "\n")
        let config = try directory.write("migrate.yml", """
            source:
              account_server: \(v2Base)/api/v2
              token_file: \(tokenFile)
              handlers:
            \(handlers)
            target:
              url: \(v3Base)
              gateway_server_address: eu1.cloud.thethings.network
              api_key_file: \(keyFile)
              owner: { user: alice }
            users: { bob_smith: bob-smith }
            devices:
              frequency_plan: EU_863_870_TTN
              with_session: true

            """)
        let snapshot = directory.file("v2-snapshot.json")
        let read = await runCLI(["snapshot", "--config", config, "--out", snapshot])
        #expect(read.code == 0, "\(read.err)")
        return HostileFixture(
            directory: directory, v2: v2, v3: v3, v3Simulator: v3Simulator, servers: [v2Server, v3Server], configPath: config,
            snapshotPath: snapshot, v3Base: v3Base, v2Base: v2Base)
    }

    func stop() async {
        for server in servers { await server.stop() }
        directory.cleanUp()
    }
}

/// One hostile input: what it breaks, the command that meets it, and what a user must see.
struct HostileInput: Sendable, CustomTestStringConvertible {
    enum Target: Sendable {
        /// `plan` with this configuration text (bytes) and the good snapshot.
        case config(@Sendable (String) -> Data)
        /// `plan` with the good configuration and this snapshot text (bytes).
        case snapshot(@Sendable (String) -> Data)
        /// `snapshot` (a live read) while the v2 simulator answers with this rule.
        case v2(@Sendable (SimRequest) -> SimResponse?)
        /// `run` from the good snapshot while the v3 simulator answers with this rule.
        case v3(@Sendable (SimRequest) -> SimResponse?)
    }

    let name: String
    let target: Target
    let code: Int32
    /// Text the error must contain (what went wrong, the entity or the next step).
    let message: String

    var testDescription: String { name }
}

private func text(_ value: String) -> Data { Data(value.utf8) }
private func json(_ status: Int, _ body: String, type: String = "application/json") -> SimResponse {
    SimResponse(status: status, headers: ["Content-Type": type], body: Data(body.utf8))
}
private let htmlPage = "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
private func replacing(_ old: String, _ new: String) -> @Sendable (String) -> Data {
    { original in
        if !original.contains(old) { Issue.record("the corpus case no longer matches its input: \(old)") }
        return Data(original.replacingOccurrences(of: old, with: new).utf8)
    }
}
private func on(_ method: String, _ suffix: String, _ answer: @escaping @Sendable (SimRequest) -> SimResponse) -> @Sendable (SimRequest) -> SimResponse? {
    { request in request.method == method && request.path.hasSuffix(suffix) ? answer(request) : nil }
}

/// The corpus (issue 13 §2): configuration, snapshot, v2 answers and v3 answers.
let hostileInputs: [HostileInput] = [
    // Configuration (YAML).
    HostileInput(name: "config: truncated YAML", target: .config { text(String($0.prefix(60)) + "\n  owner: [unclosed") },
                 code: 2, message: "migrate.yml"),
    HostileInput(name: "config: empty file", target: .config { _ in Data() }, code: 2, message: "migrate.yml is empty"),
    HostileInput(name: "config: a list, not a mapping", target: .config { _ in text("- source\n- target\n") }, code: 2, message: "migrate.yml"),
    HostileInput(name: "config: invalid UTF-8", target: .config { Data($0.utf8.prefix(40)) + Data([0xFF, 0xFE, 0xC3, 0x28]) + Data($0.utf8.dropFirst(40)) },
                 code: 2, message: "UTF-8"),
    HostileInput(name: "config: concurrency of the wrong type", target: .config { text($0 + "concurrency: many\n") }, code: 2, message: "concurrency"),
    HostileInput(name: "config: negative concurrency", target: .config { text($0 + "concurrency: -5\n") }, code: 2, message: "concurrency"),
    HostileInput(name: "config: overflowing concurrency", target: .config { text($0 + "concurrency: 99999999999999999999999\n") }, code: 2, message: "concurrency"),
    HostileInput(name: "config: misspelt section", target: .config { text($0 + "targte: {}\n") }, code: 2, message: "targte"),
    HostileInput(name: "config: invalid owner ID", target: .config(replacing("owner: { user: alice }", "owner: { user: Bad_ID! }")),
                 code: 2, message: "Bad_ID!"),
    HostileInput(name: "config: owner ID of a megabyte", target: .config(replacing("owner: { user: alice }", "owner: { user: \(String(repeating: "a", count: 1_000_000)) }")),
                 code: 2, message: "owner"),
    HostileInput(name: "config: unknown frequency plan", target: .config(replacing("frequency_plan: EU_863_870_TTN", "frequency_plan: EU_999_999")),
                 code: 2, message: "EU_999_999"),
    HostileInput(name: "config: gateway EUI of the wrong length", target: .config { text($0 + "gateway_euis: { gw1: B827EB }\n") }, code: 2, message: "B827EB"),
    HostileInput(name: "config: YAML nested 100,000 deep", target: .config { _ in text(String(repeating: "[", count: 100_000)) }, code: 2, message: "migrate.yml"),
    HostileInput(name: "config: YAML alias bomb", target: .config { _ in text("a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n") }, code: 2, message: "migrate.yml"),
    HostileInput(name: "config: users map of the wrong type", target: .config(replacing("users: { bob_smith: bob-smith }", "users: [bob_smith]")),
                 code: 2, message: "users"),

    // Snapshot (JSON).
    HostileInput(name: "snapshot: truncated JSON", target: .snapshot { text(String($0.prefix($0.count / 2))) }, code: 2, message: "v2-snapshot.json"),
    HostileInput(name: "snapshot: an HTML page", target: .snapshot { _ in text(htmlPage) }, code: 2, message: "v2-snapshot.json"),
    HostileInput(name: "snapshot: empty file", target: .snapshot { _ in Data() }, code: 2, message: "v2-snapshot.json"),
    HostileInput(name: "snapshot: invalid UTF-8", target: .snapshot { Data($0.utf8.prefix(200)) + Data([0xC3, 0x28, 0xFF]) + Data($0.utf8.dropFirst(203)) },
                 code: 2, message: "v2-snapshot.json"),
    HostileInput(name: "snapshot: applications of the wrong type", target: .snapshot(replacing(#""applications" : ["#, #""applications" : "none", "ignored" : ["#)),
                 code: 2, message: "applications"),
    HostileInput(name: "snapshot: another file format", target: .snapshot(replacing(#""format" : "ttn-migrate/v2-snapshot""#, #""format" : "ttn-migrate/plan""#)),
                 code: 2, message: "ttn-migrate/plan"),
    HostileInput(name: "snapshot: a newer version", target: .snapshot(replacing(#""version" : 1"#, #""version" : 99"#)), code: 2, message: "99"),
    HostileInput(name: "snapshot: DevEUI of the wrong length", target: .snapshot(replacing(#""dev_eui" : "0004A30B001C0001""#, #""dev_eui" : "0004A30B001C05""#)),
                 code: 2, message: "0004A30B001C05"),
    HostileInput(name: "snapshot: AppKey of the wrong length", target: .snapshot(replacing(#""app_key" : "000102030405060708090A0B0C0D0E0F""#, #""app_key" : "0001020304""#)),
                 code: 2, message: "app_key"),
    HostileInput(name: "snapshot: negative frame counter", target: .snapshot(replacing(#""f_cnt_up" : 70000"#, #""f_cnt_up" : -1"#)), code: 2, message: "f_cnt_up"),
    HostileInput(name: "snapshot: frame counter past 32 bits", target: .snapshot(replacing(#""f_cnt_up" : 70000"#, #""f_cnt_up" : 4294967296"#)), code: 2, message: "f_cnt_up"),
    HostileInput(name: "snapshot: unknown handler status", target: .snapshot(replacing(#""status" : "read""#, #""status" : "teleported""#)), code: 2, message: "teleported"),
    HostileInput(name: "snapshot: JSON nested 100,000 deep", target: .snapshot { _ in text(String(repeating: "[", count: 100_000)) }, code: 2, message: "v2-snapshot.json"),

    // v2 answers (a live `snapshot`).
    HostileInput(name: "v2: an HTML error page with 200", target: .v2(on("GET", "/users/me") { _ in json(200, htmlPage, type: "text/html") }),
                 code: 2, message: "the v2 user profile (http://127.0.0.1:"),
    HostileInput(name: "v2: 200 with an empty body", target: .v2(on("GET", "/applications") { _ in SimResponse(status: 200) }),
                 code: 2, message: "an empty body"),
    HostileInput(name: "v2: truncated JSON", target: .v2(on("GET", "/gateways") { _ in json(200, #"[{"id":"eui-b827ebfffe000001","name":"Ro"#) }),
                 code: 2, message: "the v2 gateway list"),
    HostileInput(name: "v2: a list of the wrong type", target: .v2(on("GET", "/applications") { _ in json(200, #"{"applications":[]}"#) }),
                 code: 2, message: "the v2 application list"),
    HostileInput(name: "v2: a device list that pages forever", target: .v2(on("GET", "/devices") { request in
        let limit = Int(request.query["limit"] ?? "") ?? 100
        let devices = (0..<limit).map { #"{"dev_id":"loop-\#($0)"}"# }.joined(separator: ",")
        return json(200, #"{"devices":[\#(devices)]}"#)
    }), code: 2, message: "never end"),
    HostileInput(name: "v2: the token refused", target: .v2 { _ in json(401, #"{"code":16,"error":"token is expired"}"#) }, code: 2, message: "token"),
    HostileInput(name: "v2: 500 with an HTML page on every try", target: .v2(on("GET", "/devices/dev-1") { _ in json(500, htmlPage, type: "text/html") }),
                 code: 2, message: "500"),
    HostileInput(name: "v2: a redirect to another host", target: .v2(on("GET", "/applications") { _ in
        SimResponse(status: 302, headers: ["Location": "http://198.51.100.7/api/v2/applications"]) }), code: 2, message: "another origin"),
    HostileInput(name: "v2: a device EUI of the wrong length", target: .v2 { request in
        guard request.method == "GET", request.path.contains("/devices/"), request.path.hasSuffix("/dev-1") else { return nil }
        return json(200, #"{"dev_id":"dev-1","app_id":"sensors","lorawan_device":{"dev_eui":"0004A3","app_eui":"70B3D57ED0001000","app_key":"000102030405060708090A0B0C0D0E0F"}}"#)
    }, code: 2, message: "dev-1"),

    // v3 answers (`run`).
    HostileInput(name: "v3: an HTML error page with 200", target: .v3(on("GET", "/auth_info") { _ in json(200, htmlPage, type: "text/html") }),
                 code: 2, message: "not JSON (text/html, starting `<!DOCTYPE html>"),
    HostileInput(name: "v3: 200 with an empty body", target: .v3(on("GET", "/auth_info") { _ in SimResponse(status: 200) }), code: 2, message: "auth_info): Identity Server sent an answer that cannot be read (an empty body)"),
    HostileInput(name: "v3: JSON of the wrong shape", target: .v3(on("GET", "/auth_info") { _ in json(200, "[1, 2, 3]") }), code: 2, message: "auth_info"),
    HostileInput(name: "v3: the API key refused", target: .v3 { _ in
        json(401, #"{"code":16,"message":"error:pkg/auth/rights:invalid_api_key (invalid API key)","details":[]}"#) }, code: 2, message: "API key"),
    HostileInput(name: "v3: a redirect to another host", target: .v3(on("GET", "/auth_info") { _ in
        SimResponse(status: 307, headers: ["Location": "http://198.51.100.7/api/v3/auth_info"]) }), code: 2, message: "another origin"),
    HostileInput(name: "v3: truncated JSON for a create", target: .v3(on("POST", "/applications") { _ in json(200, #"{"ids":{"application_id":"sen"#) }),
                 code: 1, message: "create application sensors: Identity Server sent an answer that cannot be read (not JSON"),
    HostileInput(name: "v3: 502 HTML on every try of a create", target: .v3(on("POST", "/applications") { _ in json(502, htmlPage, type: "text/html") }),
                 code: 1, message: "502"),
]

/// Each hostile input gives a clear error and the right exit code; no crash, no stack trace, and nothing
/// half-written (issue 13 §2).
@Suite(.timeLimit(.minutes(2))) struct BadInputCorpusTests {
    @Test func theCorpusIsLargeAndCoversEveryInput() {
        #expect(hostileInputs.count >= 30)
        #expect(Set(hostileInputs.map(\.name)).count == hostileInputs.count)
    }

    @Test(arguments: hostileInputs) func hostileInputGivesAClearError(_ input: HostileInput) async throws {
        let fixture = try await HostileFixture.start()
        defer { Task { await fixture.stop() } }
        let result: (code: Int32, out: String, err: String)
        let directory = fixture.directory
        switch input.target {
        case .config(let make):
            let original = try String(contentsOfFile: fixture.configPath, encoding: .utf8)
            let path = directory.file("migrate.yml")
            try make(original).write(to: URL(fileURLWithPath: path))
            result = await runCLI(["plan", "--config", path, "--snapshot", fixture.snapshotPath])
        case .snapshot(let make):
            let original = try String(contentsOfFile: fixture.snapshotPath, encoding: .utf8)
            let path = directory.file("v2-snapshot.json")
            try make(original).write(to: URL(fileURLWithPath: path))
            result = await runCLI(["plan", "--config", fixture.configPath, "--snapshot", path])
        case .v2(let rule):
            fixture.v2.setRule(rule)
            let out = directory.file("live-snapshot.json")
            result = await runCLI(["snapshot", "--config", fixture.configPath, "--out", out])
            #expect(!FileManager.default.fileExists(atPath: out), "a failed read must not leave a snapshot behind")
        case .v3(let rule):
            fixture.v3.setRule(rule)
            let journal = directory.file("journal.sqlite")
            result = await runCLI(["run", "--config", fixture.configPath, "--snapshot", fixture.snapshotPath, "--journal", journal])
            if result.code == 1 {
                // Failed steps are journaled: `status` reads the journal and names them.
                let status = await runCLI(["status", "--journal", journal])
                #expect(status.code == 0 || status.code == 1, "\(status.err)")
            }
        }
        #expect(result.code == input.code, "exit \(result.code), expected \(input.code): \(result.err)")
        #expect(result.err.contains(input.message), "the error does not say `\(input.message)`: \(result.err.prefix(600))")
        #expect(result.err.count < 20_000, "an error of \(result.err.count) characters: hostile input must not be echoed in full")
        for marker in ["Fatal error", "Stack dump", "Current stack trace", "DecodingError(", "Swift.DecodingError", "keyNotFound(", "typeMismatch("] {
            #expect(!result.err.contains(marker), "the error shows internals (\(marker)): \(result.err.prefix(400))")
        }
    }
}

@Test func requestTimeoutOutOfRangeIsAUsageError() async {
    let result = await runCLI(["run", "--config", "/nonexistent.yml", "--request-timeout", "0"])
    #expect(result.code == 2)
    #expect(result.err.contains("--request-timeout must be between 1 and 600 seconds"))
}
