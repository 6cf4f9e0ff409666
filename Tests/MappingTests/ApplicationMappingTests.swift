import Mapping
import Testing
import V2Model
import V3Model

@Suite("applications, collaborators, API keys (DESIGN.md §4)")
struct ApplicationMappingTests {
    @Test func applicationAlwaysGetsV2IDAndItsEUIs() {
        var warnings: [MappingWarning] = []
        let v2 = V2Application(id: "my_app", name: "My App", euis: [v2EUI("70b3d57ed0000001"), v2EUI("70B3D57ED0000002")])
        let application = ApplicationMapping.application(v2, id: AssignedID(id: "my-app", reasons: [.invalidCharacters]), warnings: &warnings)
        #expect(application == V3Application(
            applicationID: "my-app", name: "My App",
            attributes: ["v2-id": "my_app", "v2-euis": "70B3D57ED0000001,70B3D57ED0000002"]))
        #expect(warnings.isEmpty)

        let unchanged = ApplicationMapping.application(V2Application(id: "sensors"), id: AssignedID(id: "sensors", reasons: []), warnings: &warnings)
        #expect(unchanged == V3Application(applicationID: "sensors", attributes: ["v2-id": "sensors"]))
    }

    @Test func euisAreCutAtWholeEUIsWithin200() {
        var warnings: [MappingWarning] = []
        let euis = (1...12).map { v2EUI(String(format: "70B3D57ED00000%02X", $0)) }
        let application = ApplicationMapping.application(V2Application(id: "many", euis: euis), id: AssignedID(id: "many", reasons: []), warnings: &warnings)
        // 11 EUIs = 11 × 16 + 10 commas = 186 characters; a 12th would make 203.
        #expect(application.attributes?["v2-euis"] == "70B3D57ED0000001,70B3D57ED0000002,70B3D57ED0000003,70B3D57ED0000004,70B3D57ED0000005,70B3D57ED0000006,70B3D57ED0000007,70B3D57ED0000008,70B3D57ED0000009,70B3D57ED000000A,70B3D57ED000000B")
        #expect(warnings.map(\.code) == [.applicationEUIsCut])
        #expect(warnings.first?.message.hasSuffix("70B3D57ED000000B,70B3D57ED000000C") == true)
    }

    @Test func longNameIsCut() {
        var warnings: [MappingWarning] = []
        let name = "Parking sensors of the municipality of Amsterdam-Noord"
        let application = ApplicationMapping.application(V2Application(id: "parking", name: name), id: AssignedID(id: "parking", reasons: []), warnings: &warnings)
        #expect(application.name == "Parking sensors of the municipality of Amsterdam-N")
        #expect(application.description == name)
        #expect(warnings.map(\.code) == [.nameCut])
    }

    @Test func collaboratorsTheOwnerUsersMapFixesAndMerges() {
        var warnings: [MappingWarning] = []
        var skipped: [SkippedEntity] = []
        let v2: [V2Collaborator] = [
            V2Collaborator(username: "alice", rights: ["settings", "collaborators", "delete", "devices"]),
            V2Collaborator(username: "bob_smith", rights: ["devices"]),
            V2Collaborator(username: "carol", rights: ["delete"]),
            V2Collaborator(username: "Carol", rights: ["messages:up:r"]),
            V2Collaborator(username: "Dave_X", rights: ["settings"]),
            V2Collaborator(username: "_", rights: ["settings"]),
            V2Collaborator(username: "erin", rights: ["collaborators", "bogus"]),
        ]
        let result = ApplicationMapping.collaborators(
            v2, kind: .applicationCollaborator, parentV2ID: "my_app", parentV3ID: "my-app", owner: .user("alice"),
            users: ["bob_smith": "robert"], warnings: &warnings, skipped: &skipped)
        #expect(result.map(\.collaborator) == [
            V3Collaborator(ids: .user("carol"), rights: [.applicationInfo, .applicationDelete, .applicationTrafficRead]),
            V3Collaborator(ids: .user("dave-x"), rights: [.applicationInfo, .applicationSettingsBasic, .applicationSettingsAPIKeys, .applicationDevicesRead, .applicationDevicesWrite]),
            V3Collaborator(ids: .user("erin"), rights: [.applicationInfo, .applicationSettingsCollaborators]),
            V3Collaborator(ids: .user("robert"), rights: [.applicationInfo, .applicationDevicesRead, .applicationDevicesWrite, .applicationDevicesReadKeys, .applicationDevicesWriteKeys]),
        ])
        #expect(result.map(\.v2Username) == ["Carol", "Dave_X", "erin", "bob_smith"])
        // Visited sorted by username: "Carol" < "Dave_X" < "_" < "alice" < "bob_smith" < "carol" < "erin".
        #expect(warnings.map(\.code) == [.collaboratorUserIDFixed, .collaboratorUserIDFixed, .collaboratorUserIDInvalid, .collaboratorMerged, .rightUnknown])
        #expect(skipped.map(\.entity.v2ID) == ["my_app/_", "my_app/alice"])
        #expect(skipped.map(\.warning) == [.collaboratorUserIDInvalid, nil])
        #expect(skipped[1].reason == "alice is the owner and already holds all rights (RIGHT_APPLICATION_ALL)")
    }

    @Test func anOrganizationOwnerDoesNotHideAUserOfTheSameName() {
        var warnings: [MappingWarning] = []
        var skipped: [SkippedEntity] = []
        let result = ApplicationMapping.collaborators(
            [V2Collaborator(username: "acme", rights: ["settings"])], kind: .applicationCollaborator, parentV2ID: "a", parentV3ID: "a",
            owner: .organization("acme"), users: [:], warnings: &warnings, skipped: &skipped)
        #expect(result.count == 1)
        #expect(skipped.isEmpty)
    }

    @Test func gatewayCollaboratorWithoutMappedRightsIsSkipped() {
        var warnings: [MappingWarning] = []
        var skipped: [SkippedEntity] = []
        let result = ApplicationMapping.collaborators(
            [V2Collaborator(username: "bob", rights: ["settings"]), V2Collaborator(username: "carol", rights: ["gateway:owner"])],
            kind: .gatewayCollaborator, parentV2ID: "gw_1", parentV3ID: "gw-1", owner: .user("alice"), users: [:],
            warnings: &warnings, skipped: &skipped)
        #expect(result.map(\.collaborator) == [V3Collaborator(ids: .user("carol"), rights: [.gatewayAll])])
        #expect(warnings.map(\.code) == [.rightUnknown, .collaboratorNoRights])
        #expect(skipped.map(\.entity) == [EntityRef(kind: .gatewayCollaborator, v2ID: "gw_1/bob", v3ID: "gw-1/bob")])
    }

    @Test func apiKeysAreNamedWithTheRunTag() {
        var warnings: [MappingWarning] = []
        let long = "integration key for the city dashboard and the alerting pipeline"
        let keys = ApplicationMapping.apiKeys(
            [
                V2AccessKey(name: "default key", key: V2Secret("ttn-account-v2.secret1"), rights: ["messages:up:r", "messages:down:w"]),
                V2AccessKey(name: long, key: V2Secret("ttn-account-v2.secret2"), rights: ["settings", "gateway:settings"]),
                V2AccessKey(name: "dup", key: V2Secret("ttn-account-v2.secret3"), rights: []),
                V2AccessKey(name: "dup", key: V2Secret("ttn-account-v2.secret4"), rights: ["delete"]),
            ],
            parentV2ID: "my_app", parentV3ID: "my-app", runTag: "run1", warnings: &warnings)
        #expect(keys.map(\.apiKey.name) == [
            "v2: default key [run1]", "v2: dup [run1]", "v2: dup (2) [run1]",
            "v2: integration key for the city dashboard [run1]",
        ])
        #expect(keys.map(\.apiKey.name).allSatisfy { $0.count <= 50 })
        #expect(keys.map(\.stepKey) == ["default%20key", "dup", "dup~2", "integration%20key%20for%20the%20city%20dashboard%20and%20the%20alerting%20pipeline"])
        #expect(keys[0].apiKey.rights == [.applicationInfo, .applicationTrafficRead, .applicationTrafficDownWrite])
        #expect(keys[1].apiKey.rights == [.applicationInfo])
        #expect(keys.allSatisfy { $0.apiKey.key == nil })
        #expect(warnings.map(\.code) == [.apiKeyNameCut, .rightUnknown])
        #expect(!warnings.contains { $0.message.contains("secret") })
    }

    @Test func stepKeysEscapeEverythingButSafeCharacters() {
        #expect(ApplicationMapping.escapeStepKey("a b/c:é~") == "a%20b%2Fc%3A%C3%A9%7E")
        #expect(ApplicationMapping.escapeStepKey("Key_1.x-y") == "Key_1.x-y")
    }
}
