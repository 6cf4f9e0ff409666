import Foundation
import Journal
import HTTP
import Simulator
import Testing
@testable import TTNMigrateCLI

/// `export-map` on the small estate after `run` and a cut-over of dev_2, against a map written by hand
/// from Golden/small-estate.json and the mapping rules.
@Suite(.serialized) struct ExportMapCommandTests {
    @Test func csvAndJsonListEveryEntityWithBothIDsAndState() async throws {
        let estate = try await MigratedEstate.start()
        defer { Task { await estate.stop() } }
        let cutover = await runCLI(["cutover", "--config", estate.config, "--journal", estate.journal, "--devices", "sensors/dev_2", "--force"])
        #expect(cutover.code == 0, "\(cutover.err)")
        let store = try JournalStore.openForReading(at: estate.journal)
        let tag = store.migrationTag
        let keyID = try #require(try await store.apiKeys().first { $0.key.entityType == "application" }?.key.keyID)
        let linkKeyID = try #require(try await store.apiKeys().first { $0.key.entityType == "gateway" }?.key.keyID)
        try await store.close()

        let csvPath = estate.directory.file("map.csv")
        let csv = await runCLI(["export-map", "--config", estate.config, "--journal", estate.journal, "--out", csvPath])
        #expect(csv.code == 0, "\(csv.err)")
        #expect(csv.err == "wrote 14 rows to \(csvPath): 8 migrated, 6 not_migrated")
        let text = try String(contentsOfFile: csvPath, encoding: .utf8)
        let lines = text.components(separatedBy: "\r\n")
        #expect(Array(lines.prefix(12)) == [
            "kind,v2_id,v3_id,v2_key_name,v3_key_id,state,reason,cutover",
            "application,sensors,sensors,,,migrated,,",
            "application-collaborator,sensors/bob_smith,sensors/bob-smith,,,migrated,,",
            "application-api-key,sensors/default key,sensors/v2: default key [\(tag)],default key,\(keyID),migrated,,",
            "application-link,sensors,sensors,,,migrated,,",
            "device,sensors/dev-1,sensors/dev-1,,,migrated,,",
            "device,sensors/dev_2,sensors/dev-2,,,migrated,,done",
            "gateway,eui-b827ebfffe000001,eui-b827ebfffe000001,,,migrated,,",
            "gateway-api-key,eui-b827ebfffe000001/gateway key,eui-b827ebfffe000001/v2: gateway key [\(tag)],gateway key,\(linkKeyID),migrated,,",
            "application,old,,,,not_migrated,deleted in v2,",
            "application-collaborator,sensors/alice,sensors/alice,,,not_migrated,alice is the owner and already holds all rights (RIGHT_APPLICATION_ALL),",
            "gateway-collaborator,eui-b827ebfffe000001/alice,eui-b827ebfffe000001/alice,,,not_migrated,alice is the owner and already holds all rights (RIGHT_GATEWAY_ALL),",
        ])
        // What is not migrated, per application, quoted where the text holds commas.
        #expect(lines[12].hasPrefix("integration,sensors,sensors,,,not_migrated,\"v2 integrations (HTTP Integration, Data Storage,"))
        #expect(lines[13].hasPrefix("webhook,sensors,sensors,,,not_migrated,"))
        #expect(lines[14].hasPrefix("mqtt,sensors,sensors,,,not_migrated,\"MQTT clients must move to the v3 Application Server's MQTT server"))
        #expect(lines[15] == "" && lines.count == 16)
        MigratedEstate.expectNoSecrets(text)

        let jsonPath = estate.directory.file("map.json")
        let json = await runCLI(["export-map", "--config", estate.config, "--journal", estate.journal, "--out", jsonPath, "--format", "json"])
        #expect(json.code == 0, "\(json.err)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: jsonPath))) as? [String: Any])
        #expect(document["format"] as? String == "ttn-migrate/id-map")
        let entities = try #require(document["entities"] as? [[String: Any]])
        #expect(entities.count == 14)
        let key = try #require(entities.first { $0["kind"] as? String == "application-api-key" })
        #expect(key["v2_key_name"] as? String == "default key" && key["v3_key_id"] as? String == keyID)
        let device = try #require(entities.first { $0["v2_id"] as? String == "sensors/dev_2" })
        #expect(device["v3_id"] as? String == "sensors/dev-2" && device["cutover"] as? String == "done" && device["reason"] is NSNull)
        let attributes = try FileManager.default.attributesOfItem(atPath: jsonPath)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func failedStepsShowTheirErrorAndBadArgumentsAreRefused() async throws {
        let fixture = try await MigrationFixture.start(
            v3Options: V3SimulatorLaunchOptions(server: SimServerOptions(faults: try FaultSpec(parsing: "503=1.0@/api/v3/as/"))))
        defer { Task { await fixture.stop() } }
        _ = try await fixture.run(retry: RetryPolicy(maxAttempts: 1))
        let out = fixture.v2.directory.file("map.csv")
        let result = await runCLI(["export-map", "--config", fixture.configPath, "--journal", fixture.journal, "--out", out])
        #expect(result.code == 0, "\(result.err)")
        let lines = try String(contentsOfFile: out, encoding: .utf8).components(separatedBy: "\r\n")
        let device = try #require(lines.first { $0.hasPrefix("device,sensors/dev-1,") })
        #expect(device.hasPrefix("device,sensors/dev-1,sensors/dev-1,,,failed,device:sensors/dev-1:as: set device sensors/dev-1 in the Application Server: "), "\(device)")
        #expect(device.contains("503"))

        let format = await runCLI(["export-map", "--config", fixture.configPath, "--journal", fixture.journal, "--out", out, "--format", "xml"])
        #expect(format.code == 2)
        #expect(format.err.contains("--format must be csv or json"))
        let missing = await runCLI(["export-map", "--config", fixture.configPath, "--journal", fixture.journal + ".nope", "--out", out])
        #expect(missing.code == 2)
        #expect(missing.err.hasPrefix("error: no journal at"))
    }
}
