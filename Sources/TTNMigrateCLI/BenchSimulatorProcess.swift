import Foundation
import HTTP
import Simulator
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `ttn-migrate simulate` in a child process, watched through its `/_sim/` control endpoints.
///
/// The benchmark runs the v3 simulator in its own process so that the two CPU figures it reports are clean:
/// the client's is this process's `getrusage`, the simulator's is the child's own process CPU as its
/// `/_sim/stats` reports it (`process_cpu_seconds`). In one process the two could not be told apart: the HTTP
/// server's work runs on the same threads as the client's.
final class BenchSimulatorProcess: @unchecked Sendable {
    let process: SpawnedProcess
    /// The v3 simulator's base URL (all components on one address).
    let v3URL: String
    /// The 0600 file the child wrote its generated API key to.
    let apiKeyFile: String
    private let errorLog: String
    private let http = HTTPClient(configuration: HTTPClientConfiguration(requestTimeout: .seconds(60)))

    private init(process: SpawnedProcess, v3URL: String, apiKeyFile: String, errorLog: String) {
        self.process = process
        self.v3URL = v3URL
        self.apiKeyFile = apiKeyFile
        self.errorLog = errorLog
    }

    /// Starts `executable simulate` with the given v3 users and latency, its generated secrets in `directory`
    /// (which must be private), and waits (at most 60 s) for the first stdout line with the URLs.
    static func start(
        executable: String, directory: String, users: [String], latencyMilliseconds: Int, rateLimitPerMinute: Int? = nil
    ) async throws -> BenchSimulatorProcess {
        // `simulate` always serves a v2 estate too; the benchmark reads v2 from a snapshot, so a minimal one does.
        let estateFile = directory + "/v2-estate.json"
        let estate = #"{"users": [{"username": "bench-owner"}], "applications": [], "gateways": []}"#
        guard FileManager.default.createFile(atPath: estateFile, contents: Data(estate.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw BenchError.setup("cannot write \(estateFile)")
        }
        let errorLog = directory + "/simulator.log"
        let arguments = [
            "simulate", "--v2-data", estateFile, "--v3-users", users.joined(separator: ","),
            "--latency-ms", String(latencyMilliseconds), "--secrets-dir", directory,
        ] + (rateLimitPerMinute.map { ["--rate-limit", String($0)] } ?? [])
        // Without these the child generates its token and key into --secrets-dir instead of using the user's.
        var environment = ProcessInfo.processInfo.environment
        environment["TTN_V2_TOKEN"] = nil
        environment["TTN_V3_API_KEY"] = nil
        let process: SpawnedProcess
        do {
            process = try SpawnedProcess(
                executable: executable, arguments: arguments, environment: environment, standardOutput: .pipe, standardError: .file(errorLog))
        } catch SpawnError.cannotStart(_, let reason) {
            throw BenchError.simulator("cannot start \(executable) simulate: \(reason)")
        }

        let line = await firstLine(of: process.output!, timeout: 60)
        guard let line, let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let v3URL = object["v3_identity_server"] as? String, let keyFile = object["v3_api_key_file"] as? String else {
            let log = (try? String(contentsOfFile: errorLog, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            process.send(SIGTERM)
            throw BenchError.simulator(
                "\(executable) simulate did not print its URLs" + (log.isEmpty ? "" : ": \(log)")
                    + "; check that it is a ttn-migrate binary of this version (or pass --simulator-executable)")
        }
        return BenchSimulatorProcess(process: process, v3URL: v3URL, apiKeyFile: keyFile, errorLog: errorLog)
    }

    /// The first line written to `handle`, or nil on end of file or after `timeout` seconds.
    private static func firstLine(of handle: FileHandle, timeout: Int) async -> String? {
        let descriptor = handle.fileDescriptor
        return await withCheckedContinuation { (continuation: CheckedContinuation<String?, Never>) in
            let thread = Thread {
                let deadline = Date().addingTimeInterval(TimeInterval(timeout))
                var bytes: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let remaining = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
                    var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                    let ready = poll(&poller, 1, remaining)
                    if ready < 0 && errno == EINTR { continue }
                    guard ready > 0 else { break }
                    let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { break }
                    bytes.append(contentsOf: buffer[0..<count])
                    if let newline = bytes.firstIndex(of: 10) {
                        continuation.resume(returning: String(decoding: bytes[..<newline], as: UTF8.self))
                        return
                    }
                }
                continuation.resume(returning: nil)
            }
            thread.start()
        }
    }

    /// The child's counters (`GET /_sim/stats`).
    struct Statistics {
        var requests: Int
        var processCPUSeconds: Double
    }

    func statistics() async throws -> Statistics {
        let object = try await getJSON("/_sim/stats")
        guard let fields = object as? [String: Any], let requests = fields["requests"] as? Int,
              let cpu = (fields["process_cpu_seconds"] as? NSNumber)?.doubleValue else {
            throw BenchError.simulator("the simulator's /_sim/stats lacks requests or process_cpu_seconds")
        }
        return Statistics(requests: requests, processCPUSeconds: cpu)
    }

    /// Each logged request's time from receipt to response, latency included (`GET /_sim/requests`, `total_seconds`).
    /// One request as the simulator's log has it.
    struct RequestRecord {
        var received: Date
        var finished: Date
        /// Receipt to response, latency included.
        var totalSeconds: Double
        /// Refused by the rate limit (429).
        var rateLimited: Bool
    }

    func requestRecords() async throws -> [RequestRecord] {
        guard let records = try await getJSON("/_sim/requests") as? [[String: Any]] else {
            throw BenchError.simulator("the simulator's /_sim/requests is not a list")
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return try records.map { record in
            guard let received = (record["received"] as? String).flatMap(formatter.date(from:)),
                  let finished = (record["finished"] as? String).flatMap(formatter.date(from:)),
                  let total = (record["total_seconds"] as? NSNumber)?.doubleValue, let limited = record["rate_limited"] as? Bool else {
                throw BenchError.simulator("a record of the simulator's /_sim/requests lacks received, finished, total_seconds or rate_limited")
            }
            return RequestRecord(received: received, finished: finished, totalSeconds: total, rateLimited: limited)
        }
    }

    /// The child's peak resident memory in bytes (`VmHWM` of /proc/<pid>/status); nil where there is no /proc.
    func peakResidentBytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, let kilobytes = Int(fields[1]) { return kilobytes * 1024 }
        }
        return nil
    }

    /// SIGTERM (the simulator stops its servers and exits), SIGKILL after 10 s.
    func stop() async {
        guard process.isRunning else { return }
        process.send(SIGTERM)
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning {
            process.send(SIGKILL)
            _ = await process.terminated()
        }
    }

    private func getJSON(_ path: String) async throws -> Any {
        let response: HTTPResponse
        do {
            response = try await http.send(HTTPRequest(url: v3URL + path))
        } catch {
            throw BenchError.simulator("GET \(path) of the simulator failed: \(error)")
        }
        guard response.status == 200 else {
            throw BenchError.simulator("GET \(path) of the simulator answered HTTP \(response.status)")
        }
        do {
            return try JSONSerialization.jsonObject(with: response.body)
        } catch {
            throw BenchError.simulator("GET \(path) of the simulator returned no JSON")
        }
    }
}

/// Why the benchmark could not run. Exit code 2.
enum BenchError: Error, CustomStringConvertible, Equatable {
    case setup(String)
    case simulator(String)
    case noSimulatorExecutable(running: String)

    var description: String {
        switch self {
        case .setup(let detail): return "bench: \(detail)"
        case .simulator(let detail): return "bench: the v3 simulator process: \(detail)"
        case .noSimulatorExecutable(let running):
            return "bench: the simulator runs as `ttn-migrate simulate` in a child process, but this program (\(running)) is not "
                + "ttn-migrate; pass --simulator-executable PATH (e.g. .build/debug/ttn-migrate)"
        }
    }
}
