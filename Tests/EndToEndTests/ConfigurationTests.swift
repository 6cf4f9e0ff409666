import Foundation
import V2Model
import Testing
@testable import TTNMigrateCLI

@Suite struct ConfigurationTests {
    static let base = """
        source:
          account_server: https://account.example.com/api/v2
          handlers: [https://eu.example.com:8094]
        target:
          url: https://eu1.example.com
          owner: { user: alice }
        include: { applications: all }
        """

    @Test func exampleConfigurationLoadsAsDocumented() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("examples/migrate.yml").path
        let config = try MigrationConfiguration.load(path: path)
        #expect(config.target.owner == .user("alice"))
        #expect(config.users == ["bob_smith": "bob-smith"])
        #expect(config.renameApplications == ["old_app": "new-app"])
        #expect(config.devices.frequencyPlan == "EU_863_870_TTN")
        #expect(config.devices.applications == ["parking_sensors": "US_902_928_FSB_2"])
        #expect(config.gatewayEUIs == ["my-kickstarter": "B827EBFFFE123456"])
        #expect(config.source.token == .environment("TTN_V2_TOKEN"))
        #expect(config.target.apiKey == .environment("TTN_V3_API_KEY"))
        #expect(config.concurrency == 16)
    }

    @Test func everyKeyCanBeSetFromTheCommandLine() throws {
        let config = try MigrationConfiguration.parse(Self.base, path: "m.yml", overrides: [
            "target.owner={ organization: acme }", "include.applications=[app-1, app-2]", "devices.with_session=true",
            "users.bob_smith=bob", "concurrency=4", "source.handlers=[http://127.0.0.1:9/handlers/eu]",
        ])
        #expect(config.target.owner == .organization("acme"))
        #expect(config.include.applications == .only(["app-1", "app-2"]))
        #expect(config.devices.withSession)
        #expect(config.users == ["bob_smith": "bob"])
        #expect(config.concurrency == 4)
        #expect(config.source.handlers == ["http://127.0.0.1:9/handlers/eu"])
        #expect(config.target.url == "https://eu1.example.com")
    }

    @Test func badOverridesAreClearErrors() throws {
        #expect(throws: ConfigurationError.badOverride("target.url", reason: "expected KEY=VALUE, e.g. target.owner.user=alice")) {
            try MigrationConfiguration.parse(Self.base, path: "m.yml", overrides: ["target.url"])
        }
        do {
            _ = try MigrationConfiguration.parse(Self.base, path: "m.yml", overrides: ["target.colour=blue"])
            Issue.record("accepted an unknown key")
        } catch {
            #expect("\(error)" == "configuration m.yml (from --set): unknown key `colour` in target; known keys: url, identity_server, join_server, network_server, application_server, gateway_server_address, api_key_env, api_key_file, owner, ca_file, insecure")
        }
        #expect(throws: ConfigurationError.badOverride("target.url.host=x", reason: "`host` is set inside a value that is not a mapping")) {
            try MigrationConfiguration.parse(Self.base, path: "m.yml", overrides: ["target.url.host=x"])
        }
    }

    @Test func wrongTypesNameTheKeyAndLine() throws {
        do {
            _ = try MigrationConfiguration.parse("concurrency: many\n", path: "m.yml")
            Issue.record("accepted a word as a number")
        } catch {
            #expect("\(error)" == "configuration m.yml line 1: `concurrency` must be a whole number")
        }
        do {
            _ = try MigrationConfiguration.parse("source:\n  handlers: [ftp://x]\n", path: "m.yml")
            Issue.record("accepted an ftp URL")
        } catch {
            #expect("\(error)" == "configuration m.yml line 2: `source.handlers` is not an http(s) URL: ftp://x")
        }
        do {
            _ = try MigrationConfiguration.parse("source:\n  token_env: A\n  token_file: /b\n", path: "m.yml")
            Issue.record("accepted two token sources")
        } catch {
            #expect("\(error)" == "configuration m.yml line 3: `source.token_file` cannot be combined with `token_env`: choose one")
        }
    }

    @Test func plainHTTPToARemoteHostIsWarned() throws {
        let config = try MigrationConfiguration.parse(Self.base, path: "m.yml", overrides: ["target.url=http://eu1.example.com", "target.insecure=true"])
        #expect(config.transportWarnings() == [
            "http://eu1.example.com uses plain http:// to a non-loopback host: credentials travel unencrypted; use https://",
            "target.insecure is true: TLS certificates are not verified",
        ])
        let local = try MigrationConfiguration.parse(Self.base, path: "m.yml", overrides: ["target.url=http://127.0.0.1:8080"])
        #expect(local.transportWarnings().isEmpty)
    }
}

@Suite struct RefreshTests {
    /// `--refresh` re-reads v2 and says what changed against the frozen estate: entities added, gone and
    /// changed, each by kind and ID; the next plan uses the new estate.
    @Test func refreshShowsWhatChangedAndReplacesTheFrozenEstate() async throws {
        let fixture = try await MigrationFixture.start()
        defer { Task { await fixture.stop() } }
        _ = try await fixture.run()
        let frozen = fixture.journal + ".v2-snapshot.json"
        var changed = try SnapshotFile.read(path: frozen)
        let sensors = try #require(changed.applications.firstIndex { $0.application.id == "sensors" })
        changed.applications[sensors].application.name = "Sensors (renamed in v2)"
        changed.applications[sensors].handler.devices.removeAll { $0.devId == "dev_2" }
        changed.gateways.append(V2Gateway(id: "eui-b827ebfffe000099", frequencyPlan: "EU_863_870"))
        let newSnapshot = fixture.v2.directory.file("changed.json")
        try SnapshotFile.write(changed, to: newSnapshot)

        let configuration = try MigrationConfiguration.load(path: fixture.configPath)
        var settings = MigrationRunner.Settings(journalPath: fixture.journal, snapshotPath: newSnapshot)
        settings.refresh = true
        let notes = Lines()
        _ = try await MigrationRunner(configuration: configuration, settings: settings).frozenEstate(notes: notes.append)
        #expect(notes.all == [
            "refresh: application sensors changed in v2",
            "refresh: new gateway eui-b827ebfffe000099",
            "refresh: device sensors/dev_2 is gone from v2 (what was migrated stays in v3)",
        ])
        #expect(try SnapshotFile.read(path: frozen) == changed)

        // Without --refresh the frozen estate is used and --snapshot is only noted.
        settings.refresh = false
        let later = Lines()
        _ = try await MigrationRunner(configuration: configuration, settings: settings).frozenEstate(notes: later.append)
        #expect(later.all.count == 1 && later.all[0].hasPrefix("using the v2 estate frozen beside the journal"))
    }
}

/// Lines collected from a `@Sendable` callback.
final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    var all: [String] { lock.withLock { lines } }
    func append(_ line: String) { lock.withLock { lines.append(line) } }
}
