import Foundation
import Simulator
import Testing
import TTNMigrateCLI

/// A unique temporary directory for one test, removed by `cleanUp()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "ttn-migrate-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ text: String, mode: Int = 0o600) throws -> String {
        let target = file(name)
        guard FileManager.default.createFile(atPath: target, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: target])
        }
        return target
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: path) }
}

/// Output captured from one command run.
final class CapturedOutput: @unchecked Sendable {
    private let lock = NSLock()
    private var outLines: [String] = []
    private var errLines: [String] = []

    var console: Console {
        Console(
            out: { line in self.lock.withLock { self.outLines.append(line) } },
            err: { line in self.lock.withLock { self.errLines.append(line) } })
    }
    var out: String { lock.withLock { outLines.joined(separator: "\n") } }
    var err: String { lock.withLock { errLines.joined(separator: "\n") } }
}

/// Runs `ttn-migrate` in-process and returns the exit code and output.
func runCLI(_ arguments: [String]) async -> (code: Int32, out: String, err: String) {
    let captured = CapturedOutput()
    let code = await Console.$current.withValue(captured.console) {
        await CommandLineRunner.run(arguments)
    }
    return (code, captured.out, captured.err)
}

/// A file of the Golden folder.
func golden(_ name: String) -> String {
    Bundle.module.path(forResource: "Golden/" + name, ofType: nil)!
}

/// Parses JSON text into Foundation objects for structural comparison.
func jsonObject(_ text: String) throws -> NSObject {
    try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) as! NSObject
}

/// The v2 simulator on the golden small estate, with a token in a 0600 file.
struct V2Fixture {
    let simulator: RunningV2Simulator
    let tokenFile: String
    let directory: TemporaryDirectory

    static let token = "v2sim.test-token-not-secret"

    static func start(
        estate: String = "small-estate.json", validation: V2EstateValidation = .strict, server: SimServerOptions = SimServerOptions()
    ) async throws -> V2Fixture {
        let directory = try TemporaryDirectory()
        let tokenFile = try directory.write("v2-token", token + "\n")
        let simulator = try await V2Simulator.start(
            estateFile: golden(estate), token: token, options: V2SimulatorOptions(validation: validation), server: server)
        return V2Fixture(simulator: simulator, tokenFile: tokenFile, directory: directory)
    }

    /// A configuration reading this simulator.
    func config(extra: String = "", tokenFile: String? = nil, handlers: [String]? = nil) throws -> String {
        let handlerLines = (handlers ?? simulator.handlerURLs).map { "    - \($0)" }.joined(separator: "\n")
        return try directory.write("migrate.yml", """
            source:
              account_server: \(simulator.accountServerURL)
              token_file: \(tokenFile ?? self.tokenFile)
              handlers:
            \(handlerLines)
            target:
              url: http://127.0.0.1:9
              owner: { user: alice }
            \(extra)
            """)
    }

    func stop() async {
        await simulator.stop()
        directory.cleanUp()
    }
}
