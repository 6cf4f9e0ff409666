import Foundation
import Testing
import V3Model

@Suite("v3 rights table (reference/v3-api.md §12)")
struct RightsTableTests {
    @Test func tableHasEveryRightInProtoOrder() {
        let all = V3Rights.all
        #expect(all.count == 63)  // 64 enum values minus right_invalid (§12)
        #expect(all.first?.rawValue == "RIGHT_USER_INFO")
        #expect(all.last?.rawValue == "RIGHT_ALL")
        #expect(V3Right(rawValue: "RIGHT_APPLICATION_INFO")?.number == 15)
        #expect(V3Right(rawValue: "RIGHT_APPLICATION_SETTINGS_PACKAGES")?.number == 56)
        #expect(V3Right(rawValue: "RIGHT_APPLICATION_TELEPATHY") == nil)
        #expect(V3Right(rawValue: "right_invalid") == nil)
        // Proto order: SETTINGS_PACKAGES (56) sits between SETTINGS_COLLABORATORS (18) and DELETE (19).
        let order = ["RIGHT_APPLICATION_DELETE", "RIGHT_APPLICATION_SETTINGS_PACKAGES", "RIGHT_APPLICATION_SETTINGS_COLLABORATORS"]
            .compactMap(V3Right.init(rawValue:)).sorted().map(\.rawValue)
        #expect(order == ["RIGHT_APPLICATION_SETTINGS_COLLABORATORS", "RIGHT_APPLICATION_SETTINGS_PACKAGES", "RIGHT_APPLICATION_DELETE"])
    }

    @Test func namedConstantsExistInTheTable() {
        let constants: [V3Right] = [
            .applicationInfo, .applicationSettingsBasic, .applicationSettingsAPIKeys, .applicationSettingsCollaborators,
            .applicationDelete, .applicationDevicesRead, .applicationDevicesWrite, .applicationDevicesReadKeys,
            .applicationDevicesWriteKeys, .applicationTrafficRead, .applicationTrafficUpWrite, .applicationTrafficDownWrite,
            .applicationLink, .applicationAll, .gatewayInfo, .gatewaySettingsBasic, .gatewaySettingsCollaborators,
            .gatewayDelete, .gatewayLink, .gatewayTrafficRead, .gatewayStatusRead, .gatewayLocationRead, .gatewayAll,
            .userApplicationsCreate, .userGatewaysCreate, .organizationApplicationsCreate, .organizationGatewaysCreate, .all,
        ]
        for constant in constants {
            #expect(V3Right(rawValue: constant.rawValue) != nil, "\(constant.rawValue)")
        }
    }

    @Test func impliedRightsAreOneLevelDeep() {
        #expect(V3Right.applicationLink.implied == [
            .applicationLink, .applicationInfo, .applicationTrafficRead, .applicationTrafficDownWrite,
        ])
        #expect(V3Right.gatewayAll.implied.count == 13)
        #expect(V3Right.applicationAll.implied.count == 15)
        #expect(V3Right.applicationInfo.implied == [.applicationInfo])
        #expect(V3Right.all.implied.count == 63)  // "RIGHT_ALL → all 63" (§12)
        #expect(V3Right.gatewayAll.isPseudoRight)
        #expect(!V3Right.applicationLink.isPseudoRight)
    }

    @Test func missingRights() {
        #expect(V3Rights.missing([.applicationInfo, .applicationDelete], from: [.applicationAll]) == [])
        #expect(V3Rights.missing([.applicationTrafficRead, .applicationDelete], from: [.applicationLink]) == [.applicationDelete])
    }

    @Test func rightsDecodeFromNamesShortNamesAndNumbers() throws {
        let decoded = try JSONDecoder().decode([V3Right].self, from: Data(#"["RIGHT_GATEWAY_INFO","APPLICATION_INFO",40]"#.utf8))
        #expect(decoded == [.gatewayInfo, .applicationInfo, .gatewayAll])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([V3Right].self, from: Data(#"["RIGHT_NOPE"]"#.utf8)) }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([V3Right].self, from: Data("[999]".utf8)) }
        let encoded = try JSONEncoder().encode([V3Right.applicationInfo])
        #expect(String(decoding: encoded, as: UTF8.self) == #"["RIGHT_APPLICATION_INFO"]"#)
    }
}

@Suite("v3 frequency plans (reference/v3-api.md §13)")
struct FrequencyPlanTableTests {
    @Test func plans() throws {
        #expect(V3FrequencyPlans.all.count == 71)
        let ttn = try #require(V3FrequencyPlans.plan(id: "EU_863_870_TTN"))
        #expect(ttn.bandID == "EU_863_870")
        #expect(ttn.baseID == "EU_863_870")
        #expect(ttn.baseFrequency == 868)
        #expect(!ttn.forGateways)
        #expect(V3FrequencyPlans.plan(id: "EU_863_870")?.forGateways == true)
        // `gateways` absent in the source: not for gateways.
        #expect(V3FrequencyPlans.plan(id: "US_903_0")?.forGateways == false)
        #expect(V3FrequencyPlans.isKnown("US_902_928_FSB_2"))
        #expect(!V3FrequencyPlans.isKnown("CN_779_787"))
        #expect(!V3FrequencyPlans.isKnown("EU_868"))
        #expect(V3FrequencyPlans.suggestions(for: "EU_868") == ["EU_863_870", "EU_863_870_TTN", "EU_863_870_ROAMING_DRAFT", "EU_868_1", "EU_433"])
        #expect(V3FrequencyPlans.suggestions(for: "XYZ") == [])
    }
}

@Suite("v3 field masks and device entity map (reference/v3-api.md §2, §17)")
struct FieldMaskTableTests {
    @Test func allowedPathCounts() {
        #expect(V3FieldMasks.allowedPaths(for: .networkServerSet).count == 586)
        #expect(V3FieldMasks.allowedPaths(for: .applicationServerSet).count == 28)
        #expect(V3FieldMasks.allowedPaths(for: .joinServerSet).count == 30)
        #expect(V3FieldMasks.allowedPaths(for: .endDeviceUpdate).count == 25)
        for rpc in V3RPC.allCases {
            #expect(V3FieldMasks.allowedPaths(for: rpc.rawValue) != nil, "\(rpc.rawValue) missing from the table")
        }
    }

    @Test func theAppSKeyNeverGoesToTheNetworkServer() {
        #expect(throws: V3FieldMaskError(rpc: V3RPC.networkServerSet.rawValue, forbiddenPaths: ["session.keys.app_s_key.key"])) {
            try V3FieldMasks.validate(["session.dev_addr", "session.keys.app_s_key.key"], for: .networkServerSet)
        }
        #expect(V3FieldMasks.mustBeZero(under: "session.keys", for: .networkServerSet).contains("session.keys.app_s_key.key"))
        #expect(V3FieldMasks.mustBeZero(under: "root_keys.app_key", for: .joinServerSet) == [
            "root_keys.app_key.encrypted_key", "root_keys.app_key.kek_label",
        ])
    }

    @Test func identityServerCannotUpdateIdentifiers() {
        #expect(V3FieldMasks.forbiddenPaths(["name", "ids.dev_eui", "locations"], for: .endDeviceUpdate) == ["ids.dev_eui"])
    }

    @Test func entityMapOwnership() throws {
        let appSKey = try #require(V3DeviceEntityMap.ownership(of: "session.keys.app_s_key.key"))
        #expect(appSKey.readers == [.applicationServer])
        #expect(appSKey.writers == [.applicationServer])
        let rx1 = try #require(V3DeviceEntityMap.ownership(of: "mac_settings.rx1_delay"))
        #expect(rx1.writers == [.networkServer])
        let devEUI = try #require(V3DeviceEntityMap.ownership(of: "ids.dev_eui"))
        #expect(devEUI.readers == [.identityServer, .joinServer, .networkServer, .applicationServer])
        #expect(devEUI.writers == [.joinServer, .networkServer, .applicationServer])
        #expect(V3DeviceEntityMap.ownership(of: "created_at")?.writers == [])
        #expect(V3DeviceEntityMap.ownership(of: "no_such_field") == nil)
    }
}
