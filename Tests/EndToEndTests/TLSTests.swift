import Foundation
import HTTP
import Simulator
import Testing

/// A certificate authority made with `openssl` for one test, and a server certificate it signed for
/// 127.0.0.1 and localhost.
struct TestCertificateAuthority {
    let directory: TemporaryDirectory
    var caFile: String { directory.file("ca.pem") }
    var certificate: String { directory.file("server.pem") }
    var key: String { directory.file("server.key") }

    static func make() async throws -> TestCertificateAuthority {
        let directory = try TemporaryDirectory()
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        _ = try directory.write("server.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n")
        try await runTool("openssl", ["req", "-x509"] + ec + [
            "-keyout", directory.file("ca.key"), "-out", directory.file("ca.pem"), "-days", "2", "-subj", "/CN=ttn-migrate test CA",
        ])
        try await runTool("openssl", ["req"] + ec + [
            "-keyout", directory.file("server.key"), "-out", directory.file("server.csr"), "-subj", "/CN=127.0.0.1",
        ])
        try await runTool("openssl", [
            "x509", "-req", "-in", directory.file("server.csr"), "-CA", directory.file("ca.pem"), "-CAkey", directory.file("ca.key"),
            "-CAcreateserial", "-out", directory.file("server.pem"), "-days", "2", "-extfile", directory.file("server.ext"),
        ])
        return TestCertificateAuthority(directory: directory)
    }
}

/// Runs a tool found on PATH to its end, without blocking a thread of the test's concurrency pool;
/// a missing tool or a non-zero exit is an error (the TLS tests fail, never skip, without it).
@discardableResult
func runTool(_ name: String, _ arguments: [String], timeout: Duration = .seconds(30)) async throws -> Int32 {
    let process = try SpawnedProcess(executable: try toolURL(name).path, arguments: arguments)
    let status = await process.terminated().code
    guard status == 0 else { throw ToolError.failed("\(name) \(arguments.joined(separator: " ")) exited with \(status)") }
    return status
}

enum ToolError: Error, CustomStringConvertible {
    case missing(String)
    case failed(String)

    var description: String {
        switch self {
        case .missing(let name): return "\(name) is not installed: run ./scripts/install-deps.sh (it installs openssl and stunnel4)"
        case .failed(let detail): return detail
        }
    }
}

func toolURL(_ name: String) throws -> URL {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return URL(fileURLWithPath: candidate) }
    }
    throw ToolError.missing(name)
}

/// A TLS front (Debian's `stunnel4`) on 127.0.0.1 before a plain-HTTP server of the test.
final class TLSFront: @unchecked Sendable {
    private let process: SpawnedProcess
    let port: Int

    private init(process: SpawnedProcess, port: Int) {
        self.process = process
        self.port = port
    }

    var base: String { "https://127.0.0.1:\(port)" }

    /// Starts stunnel in front of `backendPort`; retries on another port if the one picked was taken
    /// between its release and stunnel's bind.
    static func start(backendPort: Int, authority: TestCertificateAuthority) async throws -> TLSFront {
        let binary = try toolURL("stunnel4")
        for attempt in 0..<5 {
            let reserved = try ReservedPort()
            let port = reserved.port
            reserved.release()
            let config = try authority.directory.write("stunnel-\(backendPort)-\(attempt).conf", """
                foreground = yes
                pid =
                output = \(authority.directory.file("stunnel-\(backendPort).log"))
                debug = 4
                [front]
                accept = 127.0.0.1:\(port)
                connect = 127.0.0.1:\(backendPort)
                cert = \(authority.certificate)
                key = \(authority.key)

                """)
            let process = try SpawnedProcess(executable: binary.path, arguments: [config])
            let front = TLSFront(process: process, port: port)
            for _ in 0..<100 where process.isRunning {
                if canConnect(port: port) { return front }
                try await Task.sleep(for: .milliseconds(50))
            }
            front.stop()
        }
        throw ToolError.failed("stunnel4 did not start listening in front of port \(backendPort)")
    }

    /// Kills stunnel (SIGKILL: it needs no clean shutdown).
    func stop() {
        process.send(SIGKILL)
    }

    deinit { stop() }

    private static func canConnect(port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

/// The v3 side behind a TLS front, as an operator's `https://` address with a private CA.
@Suite(.serialized, .timeLimit(.minutes(2))) struct TLSTests {
    /// The small estate's fixture with the v3 address replaced by a TLS front before it.
    private static func fixture() async throws -> (MigrationFixture, TLSFront, TestCertificateAuthority) {
        let authority = try await TestCertificateAuthority.make()
        let fixture = try await MigrationFixture.start()
        do {
            return (fixture, try await TLSFront.start(backendPort: fixture.v3.identityServerPort, authority: authority), authority)
        } catch {
            await fixture.stop()
            authority.directory.cleanUp()
            throw error
        }
    }

    private static func config(_ fixture: MigrationFixture, _ front: TLSFront, name: String, target extra: String = "") throws -> String {
        try fixture.config(
            named: name, replacing: "  url: \(fixture.v3.identityServerURL)\n", with: "  url: \(front.base)\n\(extra)")
    }

    @Test func unknownCertificateIsRefusedAndNothingIsWritten() async throws {
        let (fixture, front, authority) = try await Self.fixture()
        defer { front.stop(); authority.directory.cleanUp() }
        let config = try Self.config(fixture, front, name: "tls-default.yml")
        let result = await runCLI(["run", "--config", config, "--journal", fixture.journal])
        await fixture.stop()
        #expect(result.code != 0)
        #expect(result.err.contains("TLS"), "\(result.err)")
        #expect(result.err.contains(front.base))
        #expect(!result.err.contains("Fatal error") && !result.err.contains("Stack"))
        #expect(!fixture.state.contains("\"application_id\""), "nothing may be written through an unverified connection")
    }

    @Test func certificateIsAcceptedWithCAFileAndTheMigrationCompletes() async throws {
        let (fixture, front, authority) = try await Self.fixture()
        defer { front.stop(); authority.directory.cleanUp() }
        let config = try Self.config(fixture, front, name: "tls-ca.yml", target: "  ca_file: \(authority.caFile)\n")
        let result = await runCLI(["run", "--config", config, "--journal", fixture.journal])
        let state = fixture.state
        await fixture.stop()
        #expect(result.code == 0, "\(result.err)")
        #expect(!result.err.contains("not verified"))
        #expect(state.contains("\"application_id\""))
        #expect(fixture.v3.identityServer.statistics.requests > 13)
    }

    @Test func insecureIsAcceptedOnlyWithALoudWarning() async throws {
        let (fixture, front, authority) = try await Self.fixture()
        defer { front.stop(); authority.directory.cleanUp() }
        let config = try Self.config(fixture, front, name: "tls-insecure.yml", target: "  insecure: true\n")
        let result = await runCLI(["plan", "--config", config, "--check-target"])
        await fixture.stop()
        #expect(result.code == 0, "\(result.err)")
        #expect(result.err.contains("warning: target.insecure is true: TLS certificates are not verified"), "\(result.err)")
        #expect(result.err.contains("Target check"))
    }

    /// A TLS server redirecting to another host (also TLS, same CA): the client refuses, and the other
    /// host never sees a request, so the `Authorization` header cannot reach it.
    @Test func authorizationNeverFollowsARedirectToAnotherHost() async throws {
        let authority = try await TestCertificateAuthority.make()
        defer { authority.directory.cleanUp() }
        let stolen = TestRecorder()
        let other = try await SimServerForTLS { request in
            stolen.record(request.headers["authorization"] ?? "none")
            return SimResponse(status: 200)
        }
        defer { Task { await other.stop() } }
        let otherFront = try await TLSFront.start(backendPort: other.port, authority: authority)
        defer { otherFront.stop() }
        let otherBase = "https://localhost:\(otherFront.port)"
        let origin = try await SimServerForTLS { request in
            request.path == "/same"
                ? SimResponse(status: 307, headers: ["Location": "/final"])
                : request.path == "/final"
                    ? SimResponse(status: 200, body: Data((request.headers["authorization"] ?? "none").utf8))
                    : SimResponse(status: 307, headers: ["Location": otherBase + "/steal"])
        }
        defer { Task { await origin.stop() } }
        let originFront = try await TLSFront.start(backendPort: origin.port, authority: authority)
        defer { originFront.stop() }

        let client = HTTPClient(configuration: HTTPClientConfiguration(caFile: authority.caFile))
        let same = try await client.send(HTTPRequest(url: originFront.base + "/same", headers: [("Authorization", "Bearer tls-secret")]))
        #expect(same.status == 200)
        #expect(String(decoding: same.body, as: UTF8.self) == "Bearer tls-secret", "a same-origin redirect keeps its credentials")
        await #expect(throws: HTTPError.redirectRefused(from: originFront.base + "/away", to: otherBase + "/steal")) {
            _ = try await client.send(HTTPRequest(url: originFront.base + "/away", headers: [("Authorization", "Bearer tls-secret")]))
        }
        // The other host is reachable with the same CA, so the refusal is the client's choice, not a TLS failure.
        let direct = try await client.send(HTTPRequest(url: otherBase + "/probe"))
        #expect(direct.status == 200)
        #expect(stolen.values == ["none"], "only the direct probe, without credentials, reached the other host")
    }
}

/// Values recorded by a server closure.
final class TestRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [String] = []
    func record(_ value: String) { lock.withLock { recorded.append(value) } }
    var values: [String] { lock.withLock { recorded } }
}

/// A plain-HTTP `SimServer` answering with a closure, to stand behind a `TLSFront`.
final class SimServerForTLS: Sendable {
    private let server: SimServer
    let port: Int

    init(answer: @escaping @Sendable (SimRequest) -> SimResponse) async throws {
        server = SimServer(api: ClosureSimulatedAPI(answer), options: SimServerOptions(controlEndpoints: false))
        port = try await server.start()
    }

    func stop() async { await server.stop() }
}
