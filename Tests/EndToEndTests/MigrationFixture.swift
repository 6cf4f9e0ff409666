import Executor
import Foundation
import HTTP
import Journal
import Simulator
import Testing
@testable import TTNMigrateCLI

/// Both simulators and a configuration between them: the small golden estate migrated to a v3
/// simulator whose accounts are alice (the owner) and bob-smith.
struct MigrationFixture {
    let v2: V2Fixture
    let v3: RunningV3Simulator
    let keyFile: String
    let configPath: String
    let journal: String

    static func start(
        v3Options: V3SimulatorLaunchOptions = V3SimulatorLaunchOptions(), users: [String] = ["alice", "bob-smith"],
        organizations: [String] = [], owner: String = "{ user: alice }", apiKeyRights: [String] = ["RIGHT_ALL"], extraConfig: String = "",
        estate: String = "small-estate.json", devicePlan: String = "EU_863_870_TTN"
    ) async throws -> MigrationFixture {
        let v2 = try await V2Fixture.start(estate: estate)
        let v3: RunningV3Simulator
        do {
            v3 = try await V3Simulator.start(
                config: V3SimulatorConfig(users: users, organizations: organizations, apiKeyRights: apiKeyRights), options: v3Options)
        } catch {
            await v2.stop()
            throw error
        }
        let keyFile = try v2.directory.write("v3-api-key", v3.simulator.apiKey + "\n")
        let split = v3.isSplit
            ? "  identity_server: \(v3.identityServerURL)\n  join_server: \(v3.clusterURL)\n  network_server: \(v3.clusterURL)\n  application_server: \(v3.clusterURL)\n"
            : "  url: \(v3.identityServerURL)\n"
        let handlerLines = v2.simulator.handlerURLs.map { "    - \($0)" }.joined(separator: "\n")
        let config = try v2.directory.write("migrate.yml", """
            source:
              account_server: \(v2.simulator.accountServerURL)
              token_file: \(v2.tokenFile)
              handlers:
            \(handlerLines)
            target:
            \(split)  gateway_server_address: eu1.cloud.thethings.network
              api_key_file: \(keyFile)
              owner: \(owner)
            users: { bob_smith: bob-smith }
            devices:
              frequency_plan: \(devicePlan)
              with_session: true
            \(extraConfig)
            """)
        return MigrationFixture(v2: v2, v3: v3, keyFile: keyFile, configPath: config, journal: v2.directory.file("journal.sqlite"))
    }

    /// Runs the migration in-process. `crashAfterSteps` kills it (journal changes not committed are lost).
    func run(
        crashAfterSteps: Int? = nil, retry: RetryPolicy = RetryPolicy(maxAttempts: 8, baseDelay: .milliseconds(20), maxDelay: .milliseconds(200)),
        requestTimeout: Duration = .seconds(5), concurrency: Int = 8, maxRate: Int? = nil, onDeviceFailure: DeviceFailurePolicy = .resume,
        journalOptions: JournalOptions = JournalOptions()
    ) async throws -> MigrationRunner.Outcome {
        let configuration = try MigrationConfiguration.load(path: configPath)
        var settings = MigrationRunner.Settings(journalPath: journal)
        settings.retry = retry
        settings.requestTimeout = requestTimeout
        settings.concurrency = concurrency
        settings.maxRatePerMinute = maxRate
        settings.onDeviceFailure = onDeviceFailure
        settings.journalOptions = journalOptions
        let runner = MigrationRunner(configuration: configuration, settings: settings)
        return try await runner.run(stop: StopSignal(), events: { _ in }, notes: { _ in }, crashAfterSteps: crashAfterSteps)
    }

    /// Sends one request to the v3 simulator's Identity Server with its API key (or `key`); `path` starts
    /// with `/api/v3`.
    func v3Request(_ method: String, _ path: String, body: String? = nil, key: String? = nil) async throws -> HTTPResponse {
        try await HTTPClient().send(HTTPRequest(
            method: method, url: v3.identityServerURL + path,
            headers: [("Authorization", "Bearer \(key ?? v3.simulator.apiKey)"), ("Content-Type", "application/json")],
            body: body.map { Data($0.utf8) }, timeout: .seconds(10)))
    }

    /// The v3 simulator's state as JSON text.
    var state: String { String(decoding: v3.simulator.stateDump(), as: UTF8.self) }

    func stop() async {
        await v3.stop()
        await v2.stop()
    }
}
