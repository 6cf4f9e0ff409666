import ArgumentParser
import Foundation
import HTTP
import V2Client
import V2Model

/// `--config FILE`, shared by the commands that read the configuration.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "The migration configuration (YAML, see examples/migrate.yml).")
    var config: String

    @Option(name: .customLong("set"), help: ArgumentHelp(
        "Override a configuration key (repeatable), e.g. --set target.owner.user=bob --set include.applications=[app-1,app-2].",
        valueName: "key=value"))
    var overrides: [String] = []

    /// Loads the configuration and prints its warnings (plain http:// to a non-loopback host).
    func load() throws -> MigrationConfiguration {
        let configuration = try MigrationConfiguration.load(path: config, overrides: overrides)
        for warning in configuration.transportWarnings() {
            Console.current.err("warning: \(warning)")
        }
        return configuration
    }
}

/// `--snapshot FILE`: read v2 from a saved snapshot instead of live.
struct SnapshotInputOptions: ParsableArguments {
    @Option(name: .long, help: "Read the v2 estate from this snapshot (written by `ttn-migrate snapshot`) instead of live.")
    var snapshot: String?

    /// The estate: from the snapshot file when given, else read live from v2.
    func estate(configuration: MigrationConfiguration) async throws -> V2Snapshot {
        if let snapshot { return try SnapshotFile.read(path: snapshot) }
        return try await V2Source(configuration: configuration).read()
    }
}

extension MigrationConfiguration {
    /// Warnings about the configured transport, e.g. cleartext HTTP to a remote host.
    func transportWarnings() -> [String] {
        let urls = [source.accountServer] + source.handlers
            + [target.url, target.identityServer, target.joinServer, target.networkServer, target.applicationServer].compactMap { $0 }
        var warnings: [String] = []
        for url in urls where url.lowercased().hasPrefix("http://") {
            let host = URLComponents(string: url)?.host ?? ""
            if !["127.0.0.1", "localhost", "::1", "[::1]"].contains(host) {
                warnings.append("\(url) uses plain http:// to a non-loopback host: credentials travel unencrypted; use https://")
            }
        }
        if target.insecure {
            warnings.append("target.insecure is true: TLS certificates are not verified")
        }
        return warnings
    }
}

/// Reads the live v2 estate as the configuration says.
struct V2Source {
    let configuration: MigrationConfiguration

    func read() async throws -> V2Snapshot {
        try await readMeasured().snapshot
    }

    /// The estate and what reading it took: the requests and their round trips, and the reader's limits.
    func readMeasured() async throws -> (snapshot: V2Snapshot, statistics: V2RequestStatistics, options: V2ReaderOptions) {
        let token = try configuration.source.token.resolve(what: "the v2 token")
        let http = HTTPClient(configuration: HTTPClientConfiguration())
        let reader = V2Reader(
            http: http,
            options: V2ReaderOptions(
                accountServer: configuration.source.accountServer, handlers: configuration.source.handlers, token: V2Secret(token)))
        return (try await reader.readEstate(), reader.statistics, reader.options)
    }
}
