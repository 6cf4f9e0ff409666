import Foundation

/// How to serve a v3 simulator: one address for every component, or split like The Things Stack Cloud (the
/// Identity Server on one address, the Join, Network and Application Servers on another).
public struct V3SimulatorLaunchOptions: Sendable {
    /// Serve the IS and the cluster on two addresses (`--v3-split`).
    public var split: Bool
    /// The IS server (or the only server): port (`--v3-port`, 0 = OS choice), latency, rate limit, faults.
    public var server: SimServerOptions
    /// The cluster's port when split (`--v3-cluster-port`, 0 = OS choice); its other options are `server`'s.
    public var clusterPort: UInt16

    public init(split: Bool = false, server: SimServerOptions = SimServerOptions(), clusterPort: UInt16 = 0) {
        self.split = split
        self.server = server
        self.clusterPort = clusterPort
    }
}

/// A v3 simulator serving on 127.0.0.1, with its URLs. Stop it with `stop()` before the process or test ends.
public struct RunningV3Simulator: Sendable {
    /// The state and rules (for `stateDump()`, `addUserAPIKey`, `apiKey`).
    public let simulator: V3Simulator
    /// The server answering the Identity Server (and, unless split, every other component).
    public let identityServer: SimServer
    /// The server answering the Join, Network and Application Servers: `identityServer` unless split.
    public let cluster: SimServer
    public let identityServerPort: Int
    public let clusterPort: Int

    /// Whether the IS and the cluster have different addresses.
    public var isSplit: Bool { identityServerPort != clusterPort }
    /// `http://127.0.0.1:<port>`: the v3 base URL for `target.identity_server` (the client adds `/api/v3`).
    public var identityServerURL: String { "http://127.0.0.1:\(identityServerPort)" }
    /// The base URL for `target.join_server`, `network_server` and `application_server`.
    public var clusterURL: String { "http://127.0.0.1:\(clusterPort)" }
    /// The distinct servers (one, or two when split), e.g. for request logs and statistics.
    public var servers: [SimServer] { isSplit ? [identityServer, cluster] : [identityServer] }

    /// One line of JSON: `{"v3_cluster":"http://127.0.0.1:…","v3_identity_server":"http://127.0.0.1:…"}`.
    public var urlsJSON: String {
        let object: [String: Any] = ["v3_identity_server": identityServerURL, "v3_cluster": clusterURL]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Stops every server (see `SimServer.stop()`).
    public func stop() async {
        for server in servers { await server.stop() }
    }
}

extension V3Simulator {
    /// Creates a simulator and serves it on 127.0.0.1 in one call: with `options.split`, the IS view on
    /// `options.server.port` and the cluster view on `options.clusterPort`, both over the same state. Throws
    /// `V3SimulatorConfigError`, `V3TablesError` or `SimServerError`.
    public static func start(
        config: V3SimulatorConfig, options: V3SimulatorLaunchOptions = V3SimulatorLaunchOptions(), tables: V3Tables? = nil
    ) async throws -> RunningV3Simulator {
        let simulator = try V3Simulator(config: config, tables: tables)
        guard options.split else {
            let server = SimServer(api: simulator, options: options.server)
            let port = try await server.start()
            return RunningV3Simulator(simulator: simulator, identityServer: server, cluster: server,
                                      identityServerPort: port, clusterPort: port)
        }
        let identityServer = SimServer(api: simulator.serving(V3Component.identityServerOnly), options: options.server)
        var clusterOptions = options.server
        clusterOptions.port = options.clusterPort
        let cluster = SimServer(api: simulator.serving(V3Component.cluster), options: clusterOptions)
        let identityPort = try await identityServer.start()
        let clusterPort: Int
        do {
            clusterPort = try await cluster.start()
        } catch {
            await identityServer.stop()
            throw error
        }
        return RunningV3Simulator(simulator: simulator, identityServer: identityServer, cluster: cluster,
                                  identityServerPort: identityPort, clusterPort: clusterPort)
    }
}

/// The API key the v3 simulator accepts: from `TTN_V3_API_KEY` (as the tool's default configuration reads it),
/// or generated and written to a file only its owner can read.
public enum V3SimulatorAPIKey {
    /// The environment variable a key is taken from.
    public static let environmentVariable = "TTN_V3_API_KEY"

    /// Where a key came from.
    public enum Origin: Sendable, Hashable {
        case environment
        /// Generated and written (mode 0600) to this path.
        case generated(file: String)
    }

    /// `TTN_V3_API_KEY` when set and not empty (it must be an `NNSXS.<id>.<secret>` key); otherwise a new key
    /// written to `keyFile` (0600, replaced atomically).
    public static func resolve(
        environment: [String: String] = ProcessInfo.processInfo.environment, keyFile: String
    ) throws(V3SimulatorAPIKeyError) -> (key: String, origin: Origin) {
        if let key = environment[environmentVariable]?.trimmingCharacters(in: .whitespacesAndNewlines), !key.isEmpty {
            guard V3Token.parseAPIKey(key) != nil else {
                throw V3SimulatorAPIKeyError(
                    description: "\(environmentVariable) does not hold a v3 API key of the form NNSXS.<id>.<secret>; unset it to let the simulator generate one")
            }
            return (key, .environment)
        }
        let key = generate()
        do {
            try V2SimulatorToken.write(key, to: keyFile)
        } catch {
            throw V3SimulatorAPIKeyError(
                description: "cannot write the v3 simulator API key to \(error.path) (\(error.reason)); choose a writable location or set \(environmentVariable)")
        }
        return (key, .generated(file: keyFile))
    }

    /// A new random API key: `NNSXS.` + base32 of 24 random bytes + `.` + base32 of 32 random bytes (98 characters).
    public static func generate() -> String {
        let token = V3Token.generate()
        return "\(V3Token.apiKeyType).\(token.id).\(token.secret)"
    }
}

/// The v3 simulator's API key is unusable or cannot be stored; never contains the key.
public struct V3SimulatorAPIKeyError: Error, Sendable, CustomStringConvertible, LocalizedError {
    public let description: String
    public var errorDescription: String? { description }
}
