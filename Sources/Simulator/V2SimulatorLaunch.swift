import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A v2 simulator serving on 127.0.0.1, with its URLs.
public struct RunningV2Simulator: Sendable {
    public let simulator: V2Simulator
    public let server: SimServer
    public let port: Int

    /// `http://127.0.0.1:<port>`.
    public var baseURL: String { "http://127.0.0.1:\(port)" }
    /// The account server URL for `source.account_server`: `http://127.0.0.1:<port>/api/v2`.
    public var accountServerURL: String { baseURL + "/api/v2" }
    /// The handler URLs for `source.handlers`, in the estate's order of handler names.
    public var handlerURLs: [String] { simulator.estate.handlerNames.map(handlerURL(named:)) }

    /// The URL of handler `name`: `http://127.0.0.1:<port>/handlers/<name>`.
    public func handlerURL(named name: String) -> String { baseURL + "/handlers/" + name }

    /// One line of JSON with the URLs, e.g.
    /// `{"account_server":"http://127.0.0.1:4000/api/v2","handlers":["http://127.0.0.1:4000/handlers/eu"]}`.
    public var urlsJSON: String {
        let object: [String: Any] = ["account_server": accountServerURL, "handlers": handlerURLs]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Stops the server (see `SimServer.stop()`).
    public func stop() async { await server.stop() }
}

extension V2Simulator {
    /// Loads an estate file and serves it on 127.0.0.1 in one call. Throws `V2EstateError`,
    /// `V2SimulatorError` or `SimServerError`.
    public static func start(
        estateFile path: String, token: String, options: V2SimulatorOptions = V2SimulatorOptions(),
        server serverOptions: SimServerOptions = SimServerOptions()
    ) async throws -> RunningV2Simulator {
        let estate = try V2Estate.load(file: path, validation: options.validation)
        return try await start(estate: estate, token: token, options: options, server: serverOptions)
    }

    /// Serves an estate already loaded on 127.0.0.1.
    public static func start(
        estate: V2Estate, token: String, options: V2SimulatorOptions = V2SimulatorOptions(),
        server serverOptions: SimServerOptions = SimServerOptions()
    ) async throws -> RunningV2Simulator {
        let simulator = try V2Simulator(estate: estate, token: token, options: options)
        let server = SimServer(api: simulator, options: serverOptions)
        let port = try await server.start()
        return RunningV2Simulator(simulator: simulator, server: server, port: port)
    }
}

/// The bearer token the v2 simulator accepts: from `TTN_V2_TOKEN`, or generated and written to a
/// file only its owner can read, so a client can be pointed at it with `token_file:`.
public enum V2SimulatorToken {
    /// The environment variable a token is taken from.
    public static let environmentVariable = "TTN_V2_TOKEN"

    /// Where a token came from.
    public enum Origin: Sendable, Hashable {
        case environment
        /// Generated and written (mode 0600) to this path.
        case generated(file: String)
    }

    /// `TTN_V2_TOKEN` when set and not empty; otherwise a new token written to `tokenFile` (0600,
    /// replaced atomically).
    public static func resolve(
        environment: [String: String] = ProcessInfo.processInfo.environment, tokenFile: String
    ) throws(V2SimulatorTokenError) -> (token: String, origin: Origin) {
        if let token = environment[environmentVariable]?.trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty {
            return (token, .environment)
        }
        let token = generate()
        try write(token, to: tokenFile)
        return (token, .generated(file: tokenFile))
    }

    /// A new random token: `v2sim.` and 32 random bytes in base64url.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let base64 = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return "v2sim." + base64
    }

    /// Writes `token` and a newline to `path`, readable and writable by the owner only (0600),
    /// through a temporary file and a rename so no reader sees half a token.
    public static func write(_ token: String, to path: String) throws(V2SimulatorTokenError) {
        let url = URL(fileURLWithPath: path)
        let temporary = url.deletingLastPathComponent()
            .appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp").path
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            throw V2SimulatorTokenError(path: path, reason: String(cString: strerror(errno)))
        }
        let bytes = Array((token + "\n").utf8)
        let written = bytes.withUnsafeBytes { writeAll(descriptor, $0) }
        let failure = written == bytes.count ? nil : String(cString: strerror(errno))
        let synced = fsync(descriptor) == 0
        close(descriptor)
        guard failure == nil, synced, rename(temporary, path) == 0 else {
            let reason = failure ?? String(cString: strerror(errno))
            unlink(temporary)
            throw V2SimulatorTokenError(path: path, reason: reason)
        }
    }
}

/// The token file could not be written; the message names the file, never the token.
public struct V2SimulatorTokenError: Error, Hashable, CustomStringConvertible, LocalizedError {
    public let path: String
    public let reason: String

    public var description: String {
        "cannot write the v2 simulator token to \(path) (\(reason)); choose a writable location or set \(V2SimulatorToken.environmentVariable)"
    }

    public var errorDescription: String? { description }
}

/// `write(2)` of a whole buffer (outside the enum, whose `write` would shadow the C function).
private func writeAll(_ descriptor: Int32, _ buffer: UnsafeRawBufferPointer) -> Int {
    var done = 0
    while done < buffer.count {
        let result = write(descriptor, buffer.baseAddress! + done, buffer.count - done)
        if result <= 0 { return done }
        done += result
    }
    return done
}
