import ArgumentParser
import Foundation
import V2Model

extension TTNMigrate {
    /// Saves the whole v2 estate to one file.
    struct Snapshot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Save the whole v2 estate (applications with deleted ones, gateways, devices, payload formats) to one file.",
            discussion: "The file holds access keys and device keys: it is created 0600 and replaced atomically.")

        @OptionGroup var options: ConfigOptions

        @Option(name: .long, help: "Where to write the snapshot (JSON).")
        var out: String

        func run() async throws {
            let configuration = try options.load()
            try Self.checkWritable(out)
            let started = ContinuousClock.now
            let (snapshot, statistics, readerOptions) = try await V2Source(configuration: configuration).readMeasured()
            try SnapshotFile.write(snapshot, to: out)
            let elapsed = ContinuousClock.now - started
            let console = Console.current
            let devices = snapshot.applications.reduce(0) { $0 + $1.handler.devices.count }
            let deleted = snapshot.applications.filter { $0.application.isDeleted }.count
            console.out("wrote \(out): \(snapshot.applications.count) applications (\(deleted) deleted), \(snapshot.gateways.count) gateways, \(devices) devices in \(elapsed.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow)))")
            if let figures = SnapshotTiming(
                seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, requests: statistics.requests,
                medianRoundTrip: statistics.medianRoundTrip, inFlight: readerOptions.applicationConcurrency,
                pacedRequests: statistics.pacedRequests, handlerRequestsPerSecond: readerOptions.handlerRequestsPerSecond) {
                console.out(figures.line)
            }
            for record in snapshot.applications where record.handler.status == .notFound || record.handler.status == .unreadable {
                let why = record.handler.status == .notFound ? "no configured handler knows it" : (record.handler.reason ?? "unreadable")
                console.err("warning: application \(record.application.id): devices not read: \(why)")
            }
        }

        /// Fails before any network work when the output cannot be created.
        static func checkWritable(_ path: String) throws {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw SnapshotFileError.unwritable(path: path, reason: "directory \(directory) does not exist")
            }
            guard FileManager.default.isWritableFile(atPath: directory) else {
                throw SnapshotFileError.unwritable(path: path, reason: "directory \(directory) is not writable")
            }
        }
    }
}

/// How long `snapshot` took beside its ideal (issue 12).
///
/// Requests go at most `inFlight` at a time, so they need `requests × L ÷ inFlight` (L: the median round
/// trip); the handler allows 5 per second per token subject (`reference/v2-and-peers.md` §B), each
/// subject's first request at once: the applications read with their own access key share
/// `5/s × applications read at once`, those read with the user's token one 5/s. The ideal is the longest
/// of these; the ratio is the time against it.
struct SnapshotTiming: Equatable {
    var seconds: Double
    var requests: Int
    /// The median round trip of the requests, the latency L.
    var medianRoundTrip: Double
    var inFlight: Int
    /// Handler requests read with the user's token, and with applications' own keys.
    var bearerRequests: Int
    var keyRequests: Int
    /// Applications read with their own key, and how many of them at once: min(`inFlight`, such applications).
    var keyApplications: Int
    var keyApplicationsAtOnce: Int
    var handlerRequestsPerSecond: Double

    /// Nil without requests or a measurable round trip.
    init?(seconds: Double, requests: Int, medianRoundTrip: Double?, inFlight: Int, pacedRequests: [String: Int], handlerRequestsPerSecond: Double) {
        guard requests > 0, let medianRoundTrip, medianRoundTrip > 0 else { return nil }
        self.seconds = seconds
        self.requests = requests
        self.medianRoundTrip = medianRoundTrip
        self.inFlight = inFlight
        bearerRequests = pacedRequests["bearer"] ?? 0
        let keyed = pacedRequests.filter { $0.key.hasPrefix("key:") }
        keyRequests = keyed.values.reduce(0, +)
        keyApplications = keyed.count
        keyApplicationsAtOnce = min(inFlight, keyed.count)
        self.handlerRequestsPerSecond = handlerRequestsPerSecond
    }

    var latencyBoundSeconds: Double { Double(requests) * medianRoundTrip / Double(inFlight) }
    var bearerBoundSeconds: Double { Double(max(0, bearerRequests - 1)) / handlerRequestsPerSecond }
    var keyBoundSeconds: Double {
        keyApplicationsAtOnce > 0 ? Double(keyRequests - keyApplications) / (handlerRequestsPerSecond * Double(keyApplicationsAtOnce)) : 0
    }
    var idealSeconds: Double { max(latencyBoundSeconds, bearerBoundSeconds, keyBoundSeconds) }
    var ratio: Double { seconds / idealSeconds }

    var line: String {
        var bounds = [String(format: "%d requests × %.1f ms ÷ %d in flight = %.2f s", requests, medianRoundTrip * 1000, inFlight, latencyBoundSeconds)]
        if bearerRequests > 0 {
            bounds.append(String(format: "%d handler requests with the user's token at %.0f/s = %.2f s", bearerRequests, handlerRequestsPerSecond, bearerBoundSeconds))
        }
        if keyRequests > 0 {
            bounds.append(String(
                format: "%d with applications' keys at %.0f/s × %d applications at once = %.2f s", keyRequests, handlerRequestsPerSecond,
                keyApplicationsAtOnce, keyBoundSeconds))
        }
        return String(format: "read %d requests in %.2f s; ideal %.2f s, the longest of: ", requests, seconds, idealSeconds)
            + bounds.joined(separator: "; ") + String(format: "; %.2f× the ideal", ratio)
    }
}
