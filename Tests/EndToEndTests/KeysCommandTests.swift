import Foundation
import HTTP
import Journal
import Simulator
import Testing
import TTNMigrateCLI

/// The API key name tag of a journal, read and closed again.
func migrationTag(of journal: String) async throws -> String {
    let reader = try JournalStore.openForReading(at: journal)
    let tag = reader.migrationTag
    try await reader.close()
    return tag
}

@Suite struct KeysCommandTests {
    /// The file's permission bits.
    func mode(_ path: String) throws -> Int? {
        try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
    }

    /// The rights the small estate's v2 key "default key" (settings, devices, messages:up:r) maps to
    /// (DESIGN.md §4): settings → INFO, SETTINGS_BASIC, SETTINGS_API_KEYS, DEVICES_READ, DEVICES_WRITE;
    /// devices → DEVICES_READ, DEVICES_WRITE, DEVICES_READ_KEYS, DEVICES_WRITE_KEYS; messages:up:r → TRAFFIC_READ.
    static let defaultKeyRights: Set<String> = [
        "RIGHT_APPLICATION_INFO", "RIGHT_APPLICATION_SETTINGS_BASIC", "RIGHT_APPLICATION_SETTINGS_API_KEYS",
        "RIGHT_APPLICATION_DEVICES_READ", "RIGHT_APPLICATION_DEVICES_WRITE", "RIGHT_APPLICATION_DEVICES_READ_KEYS",
        "RIGHT_APPLICATION_DEVICES_WRITE_KEYS", "RIGHT_APPLICATION_TRAFFIC_READ",
    ]

    @Test func exportsTheCreatedKeyToA0600FileAndTheSecretAuthenticates() async throws {
        let fixture = try await StatusFixture.start()
        defer { Task { await fixture.stop() } }
        let run = await fixture.run()
        #expect(run.code == 0, "\(run.err)")
        let tag = try await migrationTag(of: fixture.journal)

        let out = fixture.v2.directory.file("keys.json")
        let result = await runCLI(["keys", "--journal", fixture.journal, "--out", out])
        #expect(result.code == 0, "\(result.err)")
        #expect(result.out == "wrote 2 API keys to \(out) (json, mode 0600)")
        #expect(result.err.isEmpty)
        #expect(try mode(out) == 0o600)

        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(topLevelKeys(text) == ["format", "version", "journal", "migration_tag", "target", "api_keys"])
        let document = try jsonObject(text)
        #expect(member(document, "format") as? String == "ttn-migrate/api-keys")
        #expect(member(document, "version") as? Int == 1)
        #expect(member(document, "journal") as? String == fixture.journal)
        #expect(member(document, "migration_tag") as? String == tag)
        #expect(member(document, "target", "identity_server") as? String == fixture.v3.identityServerURL)
        let keys = member(document, "api_keys") as? [[String: Any]] ?? []
        #expect(keys.count == 2)
        let key = try #require(keys.first { $0["entity_type"] as? String == "application" })
        #expect(key["entity_type"] as? String == "application")
        #expect(key["entity_id"] as? String == "sensors")
        #expect(key["key_name"] as? String == "v2: default key [\(tag)]")
        #expect(key["replaces_v2_key"] as? String == "default key")
        #expect(Set(key["rights"] as? [String] ?? []) == Self.defaultKeyRights)
        #expect((key["rights"] as? [String])?.count == 8)
        #expect(key["step_id"] as? String == "application:sensors:api-key:default%20key")
        #expect(key["run"] as? Int == 1)
        let keyID = try #require(key["key_id"] as? String)
        let secret = try #require(key["secret"] as? String)
        // NNSXS.<key ID>.<secret part> (reference/v3-api.md §11).
        let parts = secret.split(separator: ".").map(String.init)
        #expect(parts.count == 3)
        #expect(parts.first == "NNSXS")
        #expect(parts.count == 3 && parts[1] == keyID)

        // The exported secret is the one v3 issued: it authenticates as the application's key.
        let info = try await fixture.v3Request("GET", "/api/v3/auth_info", key: secret)
        #expect(info.status == 200)
        let auth = try jsonObject(String(decoding: info.body, as: UTF8.self))
        #expect(member(auth, "api_key", "entity_ids", "application_ids", "application_id") as? String == "sensors")
        #expect(member(auth, "api_key", "api_key", "id") as? String == keyID)
        #expect(member(auth, "api_key", "api_key", "name") as? String == "v2: default key [\(tag)]")
        #expect(Set(member(auth, "api_key", "api_key", "rights") as? [String] ?? []) == Self.defaultKeyRights)
        // The gateway's link key: RIGHT_GATEWAY_LINK, for a Basics Station LNS or a gateway connection.
        let linkKey = try #require(keys.first { $0["entity_type"] as? String == "gateway" })
        #expect(linkKey["entity_id"] as? String == "eui-b827ebfffe000001")
        #expect(linkKey["key_name"] as? String == "v2: gateway key [\(tag)]")
        #expect(linkKey["rights"] as? [String] == ["RIGHT_GATEWAY_LINK"])
        #expect(linkKey["step_id"] as? String == "gateway:eui-b827ebfffe000001:api-key:link")
        let linkSecret = try #require(linkKey["secret"] as? String)
        let linkInfo = try await fixture.v3Request("GET", "/api/v3/auth_info", key: linkSecret)
        #expect(linkInfo.status == 200)
        let linkAuth = try jsonObject(String(decoding: linkInfo.body, as: UTF8.self))
        #expect(member(linkAuth, "api_key", "entity_ids", "gateway_ids", "gateway_id") as? String == "eui-b827ebfffe000001")
        #expect((member(linkAuth, "api_key", "api_key", "rights") as? [String])?.contains("RIGHT_GATEWAY_LINK") == true)

        // A key of the same form that v3 did not issue is refused: the check above can fail.
        let forged = "NNSXS.\(keyID).\(String(repeating: "A", count: parts.count == 3 ? parts[2].count : 52))"
        #expect(try await fixture.v3Request("GET", "/api/v3/auth_info", key: forged).status == 401)

        // No secret on any console: not from run, keys or status.
        let status = await fixture.status()
        let statusJSON = await fixture.status(["--format", "json"])
        for output in [run.out, run.err, result.out, result.err, status.out, status.err, statusJSON.out] {
            #expect(!output.contains(secret) && !output.contains(linkSecret))
            #expect(!output.contains(parts.count == 3 ? parts[2] : secret))
        }
    }

    @Test func csvHasAHeaderAndOneLinePerKey() async throws {
        let fixture = try await StatusFixture.start()
        defer { Task { await fixture.stop() } }
        #expect(await fixture.run().code == 0)
        let tag = try await migrationTag(of: fixture.journal)
        let out = fixture.v2.directory.file("keys.csv")
        let result = await runCLI(["keys", "--journal", fixture.journal, "--out", out, "--format", "csv"])
        #expect(result.code == 0, "\(result.err)")
        #expect(result.out == "wrote 2 API keys to \(out) (csv, mode 0600)")
        #expect(try mode(out) == 0o600)
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 4 && lines.last == "")
        #expect(lines.first == "entity_type,entity_id,key_name,key_id,rights,replaces_v2_key,secret,created_at,step_id")
        let line = try #require(lines.first { $0.hasPrefix("application,") })
        let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.contains { $0.hasPrefix("gateway,eui-b827ebfffe000001,v2: gateway key [\(tag)],") && $0.contains(",RIGHT_GATEWAY_LINK,gateway key,NNSXS.") })
        #expect(fields.count == 9)
        #expect(fields.prefix(3) == ["application", "sensors", "v2: default key [\(tag)]"])
        #expect(Set(fields[4].split(separator: " ").map(String.init)) == Self.defaultKeyRights)
        #expect(fields[5] == "default key")
        #expect(fields[6].hasPrefix("NNSXS.\(fields[3])."))
        #expect(fields[8] == "application:sensors:api-key:default%20key")
        #expect(try await fixture.v3Request("GET", "/api/v3/auth_info", key: fields[6]).status == 200)
    }

    @Test func anExistingFileIsReplacedOnlyWithForce() async throws {
        let fixture = try await StatusFixture.start()
        defer { Task { await fixture.stop() } }
        #expect(await fixture.run().code == 0)
        let out = try fixture.v2.directory.write("keys.json", "precious\n", mode: 0o644)

        let refused = await runCLI(["keys", "--journal", fixture.journal, "--out", out])
        #expect(refused.code == 2)
        #expect(refused.out.isEmpty)
        #expect(refused.err == "error: \(out) exists; nothing was written: pass --force to replace it, or choose another --out")
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "precious\n")
        #expect(try mode(out) == 0o644)

        let forced = await runCLI(["keys", "--journal", fixture.journal, "--out", out, "--force"])
        #expect(forced.code == 0, "\(forced.err)")
        #expect(try mode(out) == 0o600)
        #expect(member(try jsonObject(String(contentsOfFile: out, encoding: .utf8)), "format") as? String == "ttn-migrate/api-keys")
        // No temporary file is left beside it.
        let names = try FileManager.default.contentsOfDirectory(atPath: fixture.v2.directory.path)
        #expect(!names.contains { $0.hasPrefix(".keys.json.tmp-") })
    }

    @Test func theJournalItselfIsNeverTheOutput() async throws {
        let fixture = try await StatusFixture.start()
        defer { Task { await fixture.stop() } }
        #expect(await fixture.run().code == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: fixture.journal))
        for target in [fixture.journal, fixture.journal + "-wal", fixture.journal + ".v2-snapshot.json"] {
            let result = await runCLI(["keys", "--journal", fixture.journal, "--out", target, "--force"])
            #expect(result.code == 2)
            #expect(result.err == "error: --out \(target) is the journal or one of its files; choose another path; nothing was written")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: fixture.journal)) == before)
    }
}

@Suite struct KeysBadInputTests {
    @Test func missingJournalIsNamedAndNothingIsWritten() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let journal = directory.file("nope.sqlite")
        let out = directory.file("keys.json")
        let result = await runCLI(["keys", "--journal", journal, "--out", out])
        #expect(result.code == 2)
        #expect(result.err == "error: no journal at \(journal): check the --journal path (`ttn-migrate run` creates the journal)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    @Test func aMissingOutputDirectoryIsNamed() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let out = directory.file("missing/keys.json")
        let result = await runCLI(["keys", "--journal", directory.file("j.sqlite"), "--out", out])
        #expect(result.code == 2)
        #expect(result.err == "error: cannot write \(out): directory \(directory.file("missing")) does not exist; choose a writable --out path; nothing was written")
    }

    @Test func keyStepsNotDoneAreNamedOnStderr() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let journal = directory.file("journal.sqlite")
        let store = try JournalStore.open(
            at: journal, target: JournalTarget(identityServerURL: "https://eu1.example.com", ownerKind: .user, ownerID: "alice"))
        try await store.startRun(RunInfo(toolVersion: "0.1.0", commandLine: ["ttn-migrate", "run", "--config", "m.yml"]))
        try await store.upsertPlannedSteps([
            PlannedStep(id: "application:app1:create", kind: "application-create", entityType: "application", entityKey: "app1", component: .identityServer),
            PlannedStep(id: "application:app1:api-key:k1", kind: "application-api-key", entityType: "application-api-key",
                        entityKey: "app1/v2: k1 [t]", component: .identityServer),
        ])
        try await store.markInFlight(step: "application:app1:api-key:k1")
        try await store.markFailed(step: "application:app1:api-key:k1", error: "create API key: 403 no rights")
        try await store.finishRun(outcome: .failed)
        try await store.close()

        let out = directory.file("keys.json")
        let result = await runCLI(["keys", "--journal", journal, "--out", out])
        #expect(result.code == 0, "\(result.err)")
        #expect(result.out == "wrote 0 API keys to \(out) (json, mode 0600)")
        #expect(result.err == "note: 1 API key step is not done, so its key is not in the file: application:app1:api-key:k1 (failed); see `ttn-migrate status --journal \(journal)`, resume the run, then export again")
        let document = try jsonObject(String(contentsOfFile: out, encoding: .utf8))
        #expect((member(document, "api_keys") as? [Any])?.isEmpty == true)
        #expect(member(document, "target", "owner_id") as? String == "alice")
    }
}
