import Mapping
import Testing
import V3Model

private func problems(_ options: MappingOptions) -> [MappingOptionsProblem] {
    do {
        try options.validate()
        return []
    } catch {
        return error.problems
    }
}

@Suite("configuration errors (issue 4 \"Bad input\")")
struct OptionsValidationTests {
    @Test func validOptionsPass() throws {
        let options = MappingOptions(
            owner: .organization("acme"), users: ["bob_smith": "bob-smith"], applicationRenames: ["old_app": "new-app"],
            gatewayRenames: ["gw_1": "gw-one"], gatewayFrequencyPlans: ["AU_915_928": "AU_915_928_FSB_1"],
            deviceFrequencyPlan: "EU_863_870_TTN", deviceFrequencyPlansByApplication: ["parking": "US_902_928_FSB_2"],
            withSession: true, gatewayEUIs: ["my-kickstarter": "b827ebfffe123456"], gatewayServerAddress: "eu1.cloud.thethings.network",
            joinServerAddress: "eu1.cloud.thethings.network", networkServerAddress: "nam1.cloud.thethings.network:8884",
            applicationServerAddress: "localhost", runTag: "r-20240101")
        try options.validate()
        #expect(try options.resolvedOwner() == .organization("acme"))
        #expect(try MappingOptions(owner: .user("alice")).resolvedOwner() == .user("alice"))
    }

    @Test func unknownFrequencyPlans() {
        let options = MappingOptions(
            owner: .user("alice"), gatewayFrequencyPlans: ["AU_915_928": "AU_915_928_FSB_9"], deviceFrequencyPlan: "EU_868",
            deviceFrequencyPlansByApplication: ["parking": "US_915"])
        #expect(problems(options) == [
            .unknownFrequencyPlan(setting: "frequency_plans.AU_915_928", planID: "AU_915_928_FSB_9"),
            .unknownFrequencyPlan(setting: "devices.frequency_plan", planID: "EU_868"),
            .unknownFrequencyPlan(setting: "devices.applications.parking", planID: "US_915"),
        ])
        #expect(MappingOptionsProblem.unknownFrequencyPlan(setting: "devices.frequency_plan", planID: "EU_868").description
            == #"devices.frequency_plan: "EU_868" is not a v3 frequency plan; similar plans: EU_863_870, EU_863_870_TTN, EU_863_870_ROAMING_DRAFT, EU_868_1, EU_433"#)
    }

    @Test func renamesToInvalidBlocklistedOrSharedIDs() {
        let options = MappingOptions(
            owner: .user("alice"), applicationRenames: ["a1": "Bad_ID", "a2": "admin", "a3": "same-id", "a4": "same-id"],
            gatewayRenames: ["g1": "ab"])
        #expect(problems(options) == [
            .invalidRename(section: "applications", v2ID: "a1", v3ID: "Bad_ID", problem: .invalidCharacters),
            .invalidRename(section: "applications", v2ID: "a2", v3ID: "admin", problem: .blocklisted),
            .duplicateRename(section: "applications", v3ID: "same-id", v2IDs: ["a3", "a4"]),
            .invalidRename(section: "gateways", v2ID: "g1", v3ID: "ab", problem: .tooShort),
        ])
    }

    @Test func usersMustMapToValidV3UserIDs() {
        let options = MappingOptions(owner: .user("alice"), users: ["bob_smith": "bob_smith", "carol": "c", "dave": "dave"])
        #expect(problems(options) == [
            .invalidUserID(v2Username: "bob_smith", v3UserID: "bob_smith", problem: .invalidCharacters),
            .invalidUserID(v2Username: "carol", v3UserID: "c", problem: .tooShort),
        ])
    }

    @Test func ownerMustBeExactlyOneValidAccount() {
        #expect(problems(MappingOptions(owner: MappingOptions.Owner())) == [.ownerMissing])
        #expect(problems(MappingOptions(owner: MappingOptions.Owner(user: "alice", organization: "acme"))) == [.ownerAmbiguous])
        #expect(problems(MappingOptions(owner: .user("Alice"))) == [.invalidOwner(kind: "user", id: "Alice", problem: .invalidCharacters)])
        #expect(problems(MappingOptions(owner: .organization("ac"))) == [.invalidOwner(kind: "organization", id: "ac", problem: .tooShort)])
        #expect(throws: MappingOptionsError(problems: [.ownerMissing])) { try MappingOptions(owner: MappingOptions.Owner()).resolvedOwner() }
    }

    @Test func gatewayEUIsAddressesAndRunTag() {
        let options = MappingOptions(
            owner: .user("alice"), gatewayEUIs: ["g1": "B827EB", "g2": "0000000000000000", "g3": "B827EBFFFE000001", "g4": "b827ebfffe000001"],
            gatewayServerAddress: "https://eu1.cloud.thethings.network", runTag: "Run 1")
        #expect(problems(options) == [
            .invalidGatewayEUI(gatewayID: "g1", value: "B827EB", reason: #"invalid EUI "B827EB": 6 hex digits, expected 16"#),
            .invalidGatewayEUI(gatewayID: "g2", value: "0000000000000000", reason: "the EUI is zero"),
            .duplicateGatewayEUI(eui: "B827EBFFFE000001", gatewayIDs: ["g3", "g4"]),
            .invalidServerAddress(setting: "target.gateway_server_address", value: "https://eu1.cloud.thethings.network"),
            .invalidRunTag("Run 1"),
        ])
    }

    @Test func theErrorListsEveryProblem() {
        let error = MappingOptionsError(problems: [.ownerMissing, .invalidRunTag("")])
        #expect(error.description == """
            the configuration has 2 problems; nothing was done:
              - target.owner is not set: give `owner: {user: <v3 user ID>}` or `owner: {organization: <v3 organization ID>}`
              - run tag "" must be 1–12 characters of a-z, 0-9 and -
            """)
    }
}
