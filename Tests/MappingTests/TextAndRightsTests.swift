import Mapping
import Testing
import V3Model

@Suite("names, descriptions, attributes (DESIGN.md §4)")
struct TextMappingTests {
    let entity = EntityRef(kind: .device, v2ID: "my_app/dev_1", v3ID: "my-app/dev-1")

    @Test func nameOf50IsKept() {
        var warnings: [MappingWarning] = []
        let name = String(repeating: "a", count: 50)
        let result = TextMapping.nameAndDescription(name: name, description: nil, entity: entity, warnings: &warnings)
        #expect(result.name == name)
        #expect(result.description == nil)
        #expect(warnings.isEmpty)
    }

    @Test func longNameIsCutAndKeptWholeInTheDescription() {
        var warnings: [MappingWarning] = []
        let name = String(repeating: "🙂", count: 51)
        let result = TextMapping.nameAndDescription(name: name, description: nil, entity: entity, warnings: &warnings)
        #expect(result.name == String(repeating: "🙂", count: 50))
        #expect(result.description == name)
        #expect(warnings.map(\.code) == [.nameCut])
        #expect(warnings.first?.entity == entity)
    }

    @Test func aGivenDescriptionIsNotReplaced() {
        var warnings: [MappingWarning] = []
        let result = TextMapping.nameAndDescription(
            name: String(repeating: "n", count: 60), description: "Original", entity: entity, warnings: &warnings)
        #expect(result.name == String(repeating: "n", count: 50))
        #expect(result.description == "Original")
    }

    @Test func emptyTextsBecomeAbsentAndLongDescriptionsAreCut() {
        var warnings: [MappingWarning] = []
        let empty = TextMapping.nameAndDescription(name: "", description: "", entity: entity, warnings: &warnings)
        #expect(empty.name == nil)
        #expect(empty.description == nil)
        let long = TextMapping.nameAndDescription(name: nil, description: String(repeating: "d", count: 2001), entity: entity, warnings: &warnings)
        #expect(long.description == String(repeating: "d", count: 2000))
        #expect(warnings.map(\.code) == [.descriptionCut])
    }

    @Test func attributesFixKeysDropEmptiesAndCutValues() {
        var warnings: [MappingWarning] = []
        let result = TextMapping.attributes(
            reserved: [(key: "v2-id", value: "dev_1")],
            v2: ["Serial_No": "123", "empty": "", "spaces": "  ", "long": String(repeating: "x", count: 201), "room": "R1"],
            entity: entity, warnings: &warnings)
        #expect(result == [
            "v2-id": "dev_1", "serial-no": "123", "long": String(repeating: "x", count: 200), "room": "R1",
        ])
        // Keys are visited sorted: "Serial_No" < "empty" < "long" < "room" < "spaces".
        #expect(warnings.map(\.code) == [.attributeKeyFixed, .attributeValueCut])
    }

    @Test func atMostTenAttributesReservedFirst() {
        var warnings: [MappingWarning] = []
        var v2: [String: String] = [:]
        for index in 1...12 { v2[index < 10 ? "k0\(index)" : "k\(index)"] = "v\(index)" }
        let result = TextMapping.attributes(reserved: [(key: "v2-id", value: "x_1")], v2: v2, entity: entity, warnings: &warnings)
        #expect(result == [
            "v2-id": "x_1", "k01": "v1", "k02": "v2", "k03": "v3", "k04": "v4", "k05": "v5", "k06": "v6", "k07": "v7",
            "k08": "v8", "k09": "v9",
        ])
        #expect(warnings.map(\.code) == [.attributesDropped])
        #expect(warnings.first?.message.contains(#""k10", "k11", "k12""#) == true)
    }

    @Test func aV2KeyCollidingWithAReservedOneGetsASuffix() {
        var warnings: [MappingWarning] = []
        let result = TextMapping.attributes(reserved: [(key: "v2-id", value: "a_b")], v2: ["v2_id": "other"], entity: entity, warnings: &warnings)
        #expect(result == ["v2-id": "a_b", "v2-id-2": "other"])
        #expect(warnings.map(\.code) == [.attributeKeyFixed])
    }

    @Test func noAttributesIsNil() {
        var warnings: [MappingWarning] = []
        #expect(TextMapping.attributes(reserved: [], v2: ["a": ""], entity: entity, warnings: &warnings) == nil)
        #expect(TextMapping.attributes(reserved: [], v2: nil, entity: entity, warnings: &warnings) == nil)
    }
}

@Suite("rights tables (DESIGN.md §4)")
struct RightsMappingTests {
    @Test func applicationRightsOneByOne() {
        let expected: [String: [V3Right]] = [
            "settings": [.applicationInfo, .applicationSettingsBasic, .applicationSettingsAPIKeys, .applicationDevicesRead, .applicationDevicesWrite],
            "collaborators": [.applicationInfo, .applicationSettingsCollaborators],
            "delete": [.applicationInfo, .applicationDelete],
            "devices": [.applicationInfo, .applicationDevicesRead, .applicationDevicesWrite, .applicationDevicesReadKeys, .applicationDevicesWriteKeys],
            "messages:up:r": [.applicationInfo, .applicationTrafficRead],
            "messages:up:w": [.applicationInfo, .applicationTrafficUpWrite],
            "messages:down:w": [.applicationInfo, .applicationTrafficDownWrite],
        ]
        for (v2, v3) in expected {
            let result = RightsMapping.applicationRights([v2])
            #expect(result.rights == v3, "\(v2)")
            #expect(result.unknown == [])
        }
    }

    @Test func allApplicationRightsInProtoOrder() {
        let result = RightsMapping.applicationRights(["messages:down:w", "settings", "collaborators", "delete", "devices", "messages:up:r", "messages:up:w"])
        #expect(result.rights.map(\.rawValue) == [
            "RIGHT_APPLICATION_INFO", "RIGHT_APPLICATION_SETTINGS_BASIC", "RIGHT_APPLICATION_SETTINGS_API_KEYS",
            "RIGHT_APPLICATION_SETTINGS_COLLABORATORS", "RIGHT_APPLICATION_DELETE", "RIGHT_APPLICATION_DEVICES_READ",
            "RIGHT_APPLICATION_DEVICES_WRITE", "RIGHT_APPLICATION_DEVICES_READ_KEYS", "RIGHT_APPLICATION_DEVICES_WRITE_KEYS",
            "RIGHT_APPLICATION_TRAFFIC_READ", "RIGHT_APPLICATION_TRAFFIC_UP_WRITE", "RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE",
        ])
    }

    @Test func infoIsAlwaysAddedAndUnknownRightsAreReported() {
        #expect(RightsMapping.applicationRights([]).rights == [.applicationInfo])
        let result = RightsMapping.applicationRights(["settings", "gateway:settings", "bogus", "bogus"])
        #expect(result.rights == [.applicationInfo, .applicationSettingsBasic, .applicationSettingsAPIKeys, .applicationDevicesRead, .applicationDevicesWrite])
        #expect(result.unknown == ["bogus", "gateway:settings"])
    }

    @Test func gatewayRightsOneByOne() {
        let expected: [String: [V3Right]] = [
            "gateway:settings": [.gatewayInfo, .gatewaySettingsBasic],
            "gateway:collaborators": [.gatewaySettingsCollaborators],
            "gateway:delete": [.gatewayDelete],
            "gateway:location": [.gatewayLocationRead],
            "gateway:status": [.gatewayStatusRead],
            "gateway:messages": [.gatewayTrafficRead],
            "gateway:owner": [.gatewayAll],
        ]
        for (v2, v3) in expected {
            #expect(RightsMapping.gatewayRights([v2]).rights == v3, "\(v2)")
        }
    }

    @Test func gatewayOwnerStandsForEverything() {
        #expect(RightsMapping.gatewayRights(["gateway:settings", "gateway:owner", "gateway:status"]).rights == [.gatewayAll])
        #expect(RightsMapping.gatewayRights(["gateway:location", "gateway:settings", "gateway:status"]).rights == [
            .gatewayInfo, .gatewaySettingsBasic, .gatewayStatusRead, .gatewayLocationRead,
        ])
        let unknown = RightsMapping.gatewayRights(["settings"])
        #expect(unknown.rights == [])
        #expect(unknown.unknown == ["settings"])
    }
}
