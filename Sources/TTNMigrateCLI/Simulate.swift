import ArgumentParser
import Foundation
import Simulator

extension TTNMigrate {
    /// Runs the v2 and v3 simulators on 127.0.0.1 until Ctrl-C.
    struct Simulate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the v2 (and v3) API simulators on 127.0.0.1 until interrupted.",
            discussion: """
                The first line on stdout is one JSON object with the URLs (and, when generated, the paths of the
                files holding the token and key), for scripts. Secrets are never printed: the v2 token is taken from
                TTN_V2_TOKEN, else generated into a 0600 file.
                """)

        @Option(name: .customLong("v2-data"), help: "The v2 estate the simulator serves (JSON, see examples/v2-estate.json).")
        var v2Data: String

        @Option(name: .customLong("v2-port"), help: "Port of the v2 simulator (0: chosen by the OS).")
        var v2Port: UInt16 = 0

        @Option(name: .customLong("v3-port"), help: "Port of the v3 simulator (IS, JS, NS and AS together; 0: chosen by the OS).")
        var v3Port: UInt16 = 0

        @Flag(name: .customLong("v3-split"), help: "Serve the Identity Server on --v3-port and JS/NS/AS on --v3-cluster-port, as on The Things Stack Cloud.")
        var v3Split = false

        @Option(name: .customLong("v3-cluster-port"), help: "Port of the JS/NS/AS with --v3-split (0: chosen by the OS).")
        var v3ClusterPort: UInt16 = 0

        @Option(name: .customLong("v3-users"), help: "Comma-separated v3 user accounts; the first owns the API key.")
        var v3Users: String = "alice"

        @Option(name: .customLong("v3-organizations"), help: "Comma-separated v3 organization accounts (the first user is a member of each).")
        var v3Organizations: String = ""

        @Option(name: .customLong("latency-ms"), help: "Latency added to every request, in milliseconds.")
        var latencyMilliseconds: Int = 0

        @Option(name: .customLong("rate-limit"), help: "Requests per minute each simulator accepts before answering 429.")
        var rateLimit: Int?

        @Option(name: .long, help: "Faults to inject, e.g. 503=0.1,drop-before=0.02,drop-after=0.02,stall=0.01,stall-ms=3000,seed=7.")
        var faults: String?

        @Option(name: .customLong("secrets-dir"), help: "Where generated token and key files are written (default: a new private temporary directory).")
        var secretsDirectory: String?

        func validate() throws {
            if Self.list(v3Users).isEmpty { throw ValidationError("--v3-users needs at least one user (the API key's owner)") }
            guard latencyMilliseconds >= 0, latencyMilliseconds <= 60_000 else {
                throw ValidationError("--latency-ms must be between 0 and 60000")
            }
            if let rateLimit, rateLimit < 1 { throw ValidationError("--rate-limit must be at least 1 request per minute") }
        }

        func run() async throws {
            let faultSpec = try faults.map { try FaultSpec(parsing: $0) } ?? .none
            let directory = try secretsDirectory ?? Self.makePrivateDirectory()
            let (token, origin) = try V2SimulatorToken.resolve(tokenFile: directory + "/v2-token")
            let serverOptions = SimServerOptions(
                port: v2Port, latency: .milliseconds(latencyMilliseconds), rateLimitPerMinute: rateLimit, faults: faultSpec)
            let trap = SignalTrap()
            defer { trap.cancel() }
            let (apiKey, keyOrigin) = try V3SimulatorAPIKey.resolve(keyFile: directory + "/v3-api-key")
            let v2 = try await V2Simulator.start(estateFile: v2Data, token: token, server: serverOptions)
            var v3Options = serverOptions
            v3Options.port = v3Port
            let v3: RunningV3Simulator
            do {
                v3 = try await V3Simulator.start(
                    config: V3SimulatorConfig(users: Self.list(v3Users), organizations: Self.list(v3Organizations), apiKey: apiKey),
                    options: V3SimulatorLaunchOptions(split: v3Split, server: v3Options, clusterPort: v3ClusterPort))
            } catch {
                await v2.stop()
                throw error
            }
            var urls: [String: Any] = [
                "v2_account_server": v2.accountServerURL,
                "v2_handlers": v2.handlerURLs,
                "v2_handler": v2.handlerURLs.first ?? "",
                "v3_identity_server": v3.identityServerURL,
                "v3_cluster": v3.clusterURL,
            ]
            if case .generated(let file) = origin { urls["v2_token_file"] = file }
            if case .generated(let file) = keyOrigin { urls["v3_api_key_file"] = file }
            let line = try JSONSerialization.data(withJSONObject: urls, options: [.sortedKeys, .withoutEscapingSlashes])
            Console.current.out(String(decoding: line, as: UTF8.self))
            _ = await trap.wait()
            await v2.stop()
            await v3.stop()
        }

        static func list(_ text: String) -> [String] {
            text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }

        /// A new directory only the current user can enter (0700).
        static func makePrivateDirectory() throws -> String {
            let path = NSTemporaryDirectory() + "ttn-migrate-sim-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            return path
        }
    }
}
