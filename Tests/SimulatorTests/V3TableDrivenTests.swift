import Foundation
import Simulator
import Testing

/// The simulator's rules come from the reference tables: changing a table changes the answer.
@Suite struct V3TableDrivenTests {
    private static let abpWithAppSKey = """
    {"end_device": {"ids": {"device_id": "dev1", "dev_eui": "70B3D57ED0000001"}, "supports_join": false,
      "frequency_plan_id": "EU_863_870_TTN", "lorawan_version": "MAC_V1_0_2", "lorawan_phy_version": "PHY_V1_0_2_REV_B",
      "session": {"dev_addr": "260B1234", "keys": {"f_nwk_s_int_key": {"key": "0123456789ABCDEF0123456789ABCDEF"},
                                                  "app_s_key": {"key": "FEDCBA9876543210FEDCBA9876543210"}}}},
     "field_mask": {"paths": ["supports_join", "frequency_plan_id", "lorawan_version", "lorawan_phy_version",
                              "session.dev_addr", "session.keys.f_nwk_s_int_key.key", "session.keys.app_s_key.key"]}}
    """

    @Test func aPathAddedToTheAllowedListIsAccepted() throws {
        let reference = try V3Harness()
        reference.createApplication("app1")
        let refused = reference.call("PUT", "/api/v3/ns/applications/app1/devices/dev1", Self.abpWithAppSKey)
        expectV3Error(refused, status: 400, code: 3, namespace: "pkg/rpcmiddleware/validator", name: "field_mask_paths")

        var tables = try V3Tables.reference()
        tables.allowedFieldMaskPaths["/ttn.lorawan.v3.NsEndDeviceRegistry/Set"]?.insert("session.keys.app_s_key.key")
        let changed = try V3Harness(tables: tables)
        changed.createApplication("app1")
        let accepted = changed.call("PUT", "/api/v3/ns/applications/app1/devices/dev1", Self.abpWithAppSKey)
        #expect(accepted.status == 200, "\(accepted.text)")
        #expect(accepted.string("session.keys.app_s_key.key") == "FEDCBA9876543210FEDCBA9876543210")
    }

    @Test func aPathRemovedFromTheAllowedListIsForbidden() throws {
        var tables = try V3Tables.reference()
        tables.allowedFieldMaskPaths["/ttn.lorawan.v3.ApplicationRegistry/Update"]?.remove("description")
        let v3 = try V3Harness(tables: tables)
        v3.createApplication("app1")
        let answer = v3.call("PUT", "/api/v3/applications/app1", #"{"application":{"description":"d"},"field_mask":{"paths":["description"]}}"#)
        expectV3Error(answer, status: 400, code: 3, namespace: "pkg/rpcmiddleware/validator", name: "field_mask_paths")
        #expect(answer.strings("details.0.attributes.forbidden_paths") == ["description"])
    }

    @Test func theBlocklistAndTheFrequencyPlansComeFromTheTables() throws {
        var tables = try V3Tables.reference()
        tables.idBlocklist.remove("admin")
        tables.idBlocklist.insert("app1")
        tables.frequencyPlans["XX_000_001"] = V3FrequencyPlan(id: "XX_000_001", bandID: "EU_863_870", baseID: nil, name: "test", forGateways: false)
        let v3 = try V3Harness(tables: tables)
        expectV3Error(v3.call("POST", "/api/v3/users/user1/applications", #"{"application":{"ids":{"application_id":"app1"}}}"#),
                      status: 400, code: 3, namespace: "pkg/identityserver/blocklist", name: "forbidden_id")
        v3.createApplication("admin")
        let device = v3.call("PUT", "/api/v3/ns/applications/admin/devices/dev1", """
        {"end_device":{"ids":{"device_id":"dev1","dev_eui":"70B3D57ED0000001","join_eui":"70B3D57ED0000000"},"supports_join":true,
          "frequency_plan_id":"XX_000_001","lorawan_version":"MAC_V1_0_2","lorawan_phy_version":"PHY_V1_0_2_REV_B"},
         "field_mask":{"paths":["supports_join","frequency_plan_id","lorawan_version","lorawan_phy_version"]}}
        """)
        #expect(device.status == 200, "\(device.text)")
    }

    @Test func routesComeFromTheAPIDefinition() throws {
        var tables = try V3Tables.reference()
        tables.routes.removeAll { $0.service == "EntityAccess" && $0.rpc == "AuthInfo" }
        tables.routes.append(V3RouteDefinition(service: "EntityAccess", rpc: "AuthInfo", method: "GET", pattern: "/whoami", hasBody: false))
        let v3 = try V3Harness(tables: tables)
        expectPlainError(v3.call("GET", "/api/v3/auth_info"), status: 404, code: 5, message: "Not Found")
        #expect(v3.call("GET", "/api/v3/whoami").string("api_key.entity_ids.user_ids.user_id") == "user1")
    }

    @Test func impliedRightsComeFromTheRightsTable() throws {
        var tables = try V3Tables.reference()
        tables.impliedRights["RIGHT_APPLICATION_LINK"] = ["RIGHT_APPLICATION_LINK", "RIGHT_APPLICATION_INFO", "RIGHT_APPLICATION_DELETE"]
        let v3 = try V3Harness(keyRights: ["RIGHT_APPLICATION_LINK"], tables: tables)
        #expect(v3.call("GET", "/api/v3/auth_info").strings("api_key.api_key.rights") == [
            "RIGHT_APPLICATION_INFO", "RIGHT_APPLICATION_DELETE", "RIGHT_APPLICATION_LINK",
        ])
    }

    @Test func referenceTablesHaveTheDocumentedSizes() throws {
        let tables = try V3Tables.reference()
        // Counts from reference/v3-api.md (top table, §2.2, §8.3, §12, §13).
        #expect(tables.allowedFieldMaskPaths.count == 79)
        #expect(tables.allowedFieldMaskPaths["/ttn.lorawan.v3.NsEndDeviceRegistry/Set"]?.count == 586)
        #expect(tables.allowedFieldMaskPaths["/ttn.lorawan.v3.AsEndDeviceRegistry/Set"]?.count == 28)
        #expect(tables.allowedFieldMaskPaths["/ttn.lorawan.v3.ApplicationRegistry/Update"]?.count == 26)
        #expect(tables.idBlocklist.count == 731)
        #expect(tables.rightNumbers.count == 64)
        #expect(tables.frequencyPlans.count == 71)
        #expect(tables.frequencyPlans["EU_863_870_TTN"]?.forGateways == false)
        #expect(tables.routes.contains(V3RouteDefinition(service: "NsEndDeviceRegistry", rpc: "Set", method: "PUT",
                                                         pattern: "/ns/applications/{end_device.ids.application_ids.application_id}/devices/{end_device.ids.device_id}",
                                                         hasBody: true)))
    }

    @Test func brokenTablesAreRefusedWithTheTableNamed() throws {
        #expect(throws: V3TablesError.self) {
            _ = try V3Tables.parse(fieldMasks: "{", fieldMasksZero: "{}", rights: "{}", blocklist: "{}", frequencyPlans: "{}", apiDefinition: "{}")
        }
        do {
            _ = try V3Tables.parse(fieldMasks: "{}", fieldMasksZero: "{}", rights: #"{"rights":[]}"#, blocklist: "{}", frequencyPlans: "{}", apiDefinition: "{}")
            Issue.record("an empty rights table was accepted")
        } catch let error as V3TablesError {
            #expect(error.table == "v3-rights.json")
        }
        var tables = try V3Tables.reference()
        tables.rightNumbers["RIGHT_APPLICATION_DEVICES_WRITE_KEYS"] = nil
        #expect(throws: V3TablesError.self) { _ = try V3Harness(tables: tables) }
    }

    @Test func configurationMistakesAreRefusedWithTheValueNamed() throws {
        func message(_ config: V3SimulatorConfig) -> String {
            do {
                _ = try V3Simulator(config: config)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(message(V3SimulatorConfig(users: [])).contains("no user configured"))
        #expect(message(V3SimulatorConfig(users: ["Bob_Smith"])).contains("`Bob_Smith`"))
        #expect(message(V3SimulatorConfig(users: ["alice"], organizations: ["alice"])).contains("configured twice"))
        #expect(message(V3SimulatorConfig(users: ["alice"], apiKey: "NNSXS.only-two")).contains("NNSXS.<id>.<secret>"))
        #expect(!message(V3SimulatorConfig(users: ["alice"], apiKey: "NNSXS.only-two")).contains("only-two"))
        #expect(message(V3SimulatorConfig(users: ["alice"], apiKeyRights: ["RIGHT_TO_EVERYTHING"])).contains("RIGHT_TO_EVERYTHING"))
        #expect(message(V3SimulatorConfig(users: ["al"])) == "accepted")
    }

    @Test func simulatorCodeDoesNotImportTheClientsTypes() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/Simulator")
        let files = try FileManager.default.contentsOfDirectory(atPath: sources.path).filter { $0.hasPrefix("V3") && $0.hasSuffix(".swift") }
        #expect(files.count >= 10)
        for file in files {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            for module in ["V3Model", "V3Client", "Mapping", "Plan", "Executor"] {
                #expect(!text.contains("import \(module)"), "\(file) imports \(module)")
            }
        }
    }
}
