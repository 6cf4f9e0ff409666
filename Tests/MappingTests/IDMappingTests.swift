import Mapping
import Testing
import V3Model

struct FixCase: Sendable, CustomTestStringConvertible {
    var v2: String
    var v3: String
    var reasons: [IDChangeReason]
    var testDescription: String { "\(v2) → \(v3)" }
}

@Suite("IDs (DESIGN.md §4)")
struct IDMappingTests {
    @Test(arguments: [
        FixCase(v2: "my-app", v3: "my-app", reasons: []),
        FixCase(v2: "my_app", v3: "my-app", reasons: [.invalidCharacters]),
        FixCase(v2: "My App", v3: "my-app", reasons: [.invalidCharacters]),
        FixCase(v2: "my__app", v3: "my-app", reasons: [.invalidCharacters]),
        FixCase(v2: "_my_app_", v3: "my-app", reasons: [.invalidCharacters]),
        FixCase(v2: "sensor.café", v3: "sensor-caf", reasons: [.invalidCharacters]),
        FixCase(v2: "ab", v3: "ab-v2", reasons: [.tooShort]),
        FixCase(v2: "a", v3: "a-v2", reasons: [.tooShort]),
        FixCase(v2: "a_b", v3: "a-b-v2", reasons: [.invalidCharacters, .tooShort]),
        FixCase(v2: "__", v3: "id-v2", reasons: [.invalidCharacters, .tooShort]),
        FixCase(v2: "admin", v3: "admin-v2", reasons: [.blocklisted]),
        FixCase(v2: "app", v3: "app-v2", reasons: [.blocklisted]),
        FixCase(v2: "ADMIN", v3: "admin-v2", reasons: [.invalidCharacters, .blocklisted]),
        FixCase(v2: "abcdefghijklmnopqrstuvwxyz0123456789abcd", v3: "abcdefghijklmnopqrstuvwxyz0123456789", reasons: [.tooLong]),
        FixCase(v2: "abcdefghijklmnopqrstuvwxyz012345678_9x", v3: "abcdefghijklmnopqrstuvwxyz012345678", reasons: [.invalidCharacters, .tooLong]),
    ])
    func fixEntityID(_ fixCase: FixCase) {
        let fixed = IDMapping.fixEntityID(fixCase.v2)
        #expect(fixed == AssignedID(id: fixCase.v3, reasons: fixCase.reasons))
        #expect(V3IDRules.isValidEntityID(fixed.id))
    }

    @Test func collisionsInSortedOrder() {
        // Sorted: "my-app" < "my__app" < "my_app" ('-' < '_' < 'a').
        let assigned = IDMapping.assign(["my_app", "my-app", "my__app"])
        #expect(assigned == [
            "my-app": AssignedID(id: "my-app", reasons: []),
            "my__app": AssignedID(id: "my-app-2", reasons: [.invalidCharacters, .collision]),
            "my_app": AssignedID(id: "my-app-3", reasons: [.invalidCharacters, .collision]),
        ])
    }

    @Test func suffixSkipsIDsThatExist() {
        let assigned = IDMapping.assign(["my-app", "my-app-2", "my_app"])
        #expect(assigned["my-app"] == AssignedID(id: "my-app", reasons: []))
        #expect(assigned["my-app-2"] == AssignedID(id: "my-app-2", reasons: []))
        #expect(assigned["my_app"] == AssignedID(id: "my-app-3", reasons: [.invalidCharacters, .collision]))
    }

    @Test func aValidIDIsNeverTakenByAFixedOne() {
        // "admin" sorts first but needs fixing; "admin-v2" is already valid and keeps its ID.
        let assigned = IDMapping.assign(["admin", "admin-v2"])
        #expect(assigned["admin-v2"] == AssignedID(id: "admin-v2", reasons: []))
        #expect(assigned["admin"] == AssignedID(id: "admin-v2-2", reasons: [.blocklisted, .collision]))
    }

    @Test func collisionSuffixCutsTheBaseToStayWithin36() {
        let valid = "sensor-abcdefghijklmnopqrstuvwxyz-01"
        let other = "sensor_abcdefghijklmnopqrstuvwxyz-01"
        #expect(valid.count == 36)
        let assigned = IDMapping.assign([other, valid])
        #expect(assigned[valid] == AssignedID(id: valid, reasons: []))
        #expect(assigned[other] == AssignedID(id: "sensor-abcdefghijklmnopqrstuvwxyz-2", reasons: [.invalidCharacters, .collision]))
    }

    @Test func explicitRenamesComeFirst() {
        let assigned = IDMapping.assign(["north", "south", "east"], renames: ["south": "north", "east": "east"])
        #expect(assigned == [
            "south": AssignedID(id: "north", reasons: [.renamed]),
            "north": AssignedID(id: "north-2", reasons: [.collision]),
            "east": AssignedID(id: "east", reasons: []),
        ])
    }

    @Test func warningCodeFollowsTheMostDecisiveReason() {
        #expect(IDMapping.warningCode(for: []) == nil)
        #expect(IDMapping.warningCode(for: [.renamed]) == nil)
        #expect(IDMapping.warningCode(for: [.invalidCharacters]) == .idInvalidFixed)
        #expect(IDMapping.warningCode(for: [.invalidCharacters, .tooLong]) == .idTooLong)
        #expect(IDMapping.warningCode(for: [.invalidCharacters, .tooShort]) == .idTooShort)
        #expect(IDMapping.warningCode(for: [.blocklisted]) == .idBlocklisted)
        #expect(IDMapping.warningCode(for: [.blocklisted, .collision]) == .idCollision)
    }

    @Test func userIDs() {
        #expect(IDMapping.fixUserID("bob_smith") == AssignedID(id: "bob-smith", reasons: [.invalidCharacters]))
        #expect(IDMapping.fixUserID("Alice") == AssignedID(id: "alice", reasons: [.invalidCharacters]))
        #expect(IDMapping.fixUserID("j.doe") == AssignedID(id: "j-doe", reasons: [.invalidCharacters]))
        #expect(IDMapping.fixUserID("ab") == AssignedID(id: "ab", reasons: []))
        #expect(IDMapping.fixUserID("a") == nil)
        #expect(IDMapping.fixUserID("__") == nil)
        #expect(IDMapping.fixUserID("admin") == nil)
    }

    @Test func attributeKeys() {
        #expect(IDMapping.fixAttributeKey("Serial_No") == "serial-no")
        #expect(IDMapping.fixAttributeKey("id") == "id-v2")
        #expect(IDMapping.fixAttributeKey("v2-id") == "v2-id")
        #expect(IDMapping.fixAttributeKey("admin") == "admin")
        #expect(IDMapping.fixAttributeKey("__") == nil)
    }

    @Test func appendingCutsTheBase() {
        #expect(IDMapping.appending("-v2", to: "admin") == "admin-v2")
        #expect(IDMapping.appending("-10", to: "abcdefghijklmnopqrstuvwxyz0123456789") == "abcdefghijklmnopqrstuvwxyz0123456-10")
    }
}
