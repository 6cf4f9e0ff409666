import Mapping
import Testing
import V2Model
import V3Model

@Suite("gateways (DESIGN.md §4, reference/v3-api.md §5, §13)")
struct GatewayMappingTests {
    let unchanged = AssignedID(id: "eui-b827ebfffe123456", reasons: [])

    func gatewayOptions(overrides: [String: String] = [:]) -> MappingOptions {
        MappingOptions(owner: .user("alice"), gatewayFrequencyPlans: overrides, gatewayServerAddress: "eu1.cloud.thethings.network")
    }

    func rooftop(plan: String? = "EU_863_870", attributes: [String: String]? = nil) -> V2Gateway {
        V2Gateway(
            id: "eui-b827ebfffe123456", activated: true, frequencyPlan: plan, autoUpdate: true, locationPublic: true,
            statusPublic: false, ownerPublic: true, antennaLocation: V2Location(latitude: 52.37, longitude: 4.89, altitude: 12),
            attributes: attributes ?? ["brand": "RAK", "model": "7258", "placement": "outdoor", "description": "Rooftop Amsterdam", "antenna_type": ""])
    }

    @Test func everyFieldOfAFullGateway() {
        var warnings: [MappingWarning] = []
        let gateway = GatewayMapping.gateway(rooftop(), id: unchanged, eui: v3EUI("B827EBFFFE123456"), options: gatewayOptions(), warnings: &warnings)
        #expect(gateway == V3Gateway(
            gatewayID: "eui-b827ebfffe123456", eui: v3EUI("B827EBFFFE123456"), name: "Rooftop Amsterdam", description: nil,
            attributes: ["brand": "RAK", "model": "7258"], frequencyPlanIDs: ["EU_863_870"],
            gatewayServerAddress: "eu1.cloud.thethings.network",
            antennas: [V3GatewayAntenna(location: V3Location(latitude: 52.37, longitude: 4.89, altitude: 12, source: .registry), placement: .outdoor)],
            locationPublic: true, statusPublic: false, autoUpdate: true, enforceDutyCycle: true))
        #expect(warnings.isEmpty)
    }

    @Test(arguments: [
        ("EU_863_870", "EU_863_870"), ("US_902_928", "US_902_928_FSB_2"), ("AU_915_928", "AU_915_928_FSB_2"),
        ("CN_470_510", "CN_470_510_FSB_11"), ("AS_923", "AS_923"), ("AS_920_923", "AS_920_923"),
        ("AS_923_925", "AS_923_925"), ("KR_920_923", "KR_920_923_TTN"), ("IN_865_867", "IN_865_867"),
        ("RU_864_870", "RU_864_870_TTN"), ("EU_433", "EU_433"),
    ])
    func builtInPlanTable(v2: String, v3: String) {
        var warnings: [MappingWarning] = []
        let gateway = GatewayMapping.gateway(rooftop(plan: v2), id: unchanged, eui: nil, options: gatewayOptions(), warnings: &warnings)
        #expect(gateway.frequencyPlanIDs == [v3])
        #expect(warnings.isEmpty)
        #expect(V3FrequencyPlans.isKnown(v3))
    }

    @Test func overridesWin() {
        var warnings: [MappingWarning] = []
        let options = gatewayOptions(overrides: ["AU_915_928": "AU_915_928_FSB_1", "CN_779_787": "EU_863_870"])
        #expect(GatewayMapping.gateway(rooftop(plan: "AU_915_928"), id: unchanged, eui: nil, options: options, warnings: &warnings).frequencyPlanIDs == ["AU_915_928_FSB_1"])
        #expect(GatewayMapping.gateway(rooftop(plan: "CN_779_787"), id: unchanged, eui: nil, options: options, warnings: &warnings).frequencyPlanIDs == ["EU_863_870"])
        #expect(warnings.isEmpty)
        #expect(FrequencyPlanMapping.gatewayPlan(v2Plan: "AU_915_928", overrides: options.gatewayFrequencyPlans) == .mapped("AU_915_928_FSB_1", overridden: true))
    }

    @Test func cn779HasNoPlanAndIsWarned() {
        var warnings: [MappingWarning] = []
        let gateway = GatewayMapping.gateway(rooftop(plan: "CN_779_787"), id: unchanged, eui: nil, options: gatewayOptions(), warnings: &warnings)
        #expect(gateway.frequencyPlanIDs == nil)
        #expect(warnings.map(\.code) == [.frequencyPlanUnmapped])
        #expect(warnings.first?.message.contains("frequency_plans: {CN_779_787: <v3 plan>}") == true)
    }

    @Test func unknownAndMissingPlans() {
        var warnings: [MappingWarning] = []
        #expect(GatewayMapping.gateway(rooftop(plan: "US"), id: unchanged, eui: nil, options: gatewayOptions(), warnings: &warnings).frequencyPlanIDs == nil)
        #expect(GatewayMapping.gateway(rooftop(plan: nil), id: unchanged, eui: nil, options: gatewayOptions(), warnings: &warnings).frequencyPlanIDs == nil)
        #expect(warnings.map(\.code) == [.frequencyPlanUnmapped, .gatewayNoFrequencyPlan])
    }

    @Test func nameFromTheIDWithoutDescriptionAndPlacementVariants() {
        var warnings: [MappingWarning] = []
        let plain = GatewayMapping.gateway(
            rooftop(attributes: ["placement": "Indoor"]), id: unchanged, eui: nil, options: gatewayOptions(), warnings: &warnings)
        #expect(plain.name == "eui-b827ebfffe123456")
        #expect(plain.attributes == nil)
        #expect(plain.antennas?.first?.placement == .indoor)
        let odd = GatewayMapping.gateway(
            rooftop(attributes: ["placement": "roof"]), id: unchanged, eui: nil, options: gatewayOptions(), warnings: &warnings)
        #expect(odd.attributes == ["placement": "roof"])
        #expect(odd.antennas?.first?.placement == nil)
        #expect(warnings.isEmpty)
    }

    @Test func longDescriptionIsCutIntoTheName() {
        var warnings: [MappingWarning] = []
        let text = "A gateway on the roof of the central library, facing north-east"
        let gateway = GatewayMapping.gateway(rooftop(attributes: ["description": text]), id: unchanged, eui: nil, options: gatewayOptions(), warnings: &warnings)
        #expect(gateway.name == "A gateway on the roof of the central library, faci")
        #expect(gateway.description == text)
        #expect(warnings.map(\.code) == [.nameCut])
    }

    @Test func noLocationNoPlacementNoAntenna() {
        var warnings: [MappingWarning] = []
        var v2 = rooftop(attributes: [:])
        v2.antennaLocation = V2Location(latitude: 0, longitude: 0)
        v2.locationPublic = nil
        v2.autoUpdate = nil
        let gateway = GatewayMapping.gateway(v2, id: unchanged, eui: nil, options: gatewayOptions(), warnings: &warnings)
        #expect(gateway.antennas == nil)
        #expect(gateway.locationPublic == false)
        #expect(gateway.autoUpdate == false)
    }

    @Test func renamedGatewayGetsV2ID() {
        var warnings: [MappingWarning] = []
        var v2 = rooftop()
        v2.id = "My_Gateway"
        let gateway = GatewayMapping.gateway(v2, id: AssignedID(id: "my-gateway", reasons: [.invalidCharacters]), eui: nil, options: gatewayOptions(), warnings: &warnings)
        #expect(gateway.ids.gatewayID == "my-gateway")
        #expect(gateway.attributes == ["v2-id": "My_Gateway", "brand": "RAK", "model": "7258"])
    }

    @Test func euiFromLegacyIDs() {
        #expect(GatewayMapping.euiFromID("eui-b827ebfffe123456") == v3EUI("B827EBFFFE123456"))
        #expect(GatewayMapping.euiFromID("EUI-B827EBFFFE123456") == v3EUI("B827EBFFFE123456"))
        #expect(GatewayMapping.euiFromID("eui-b827eb") == nil)
        #expect(GatewayMapping.euiFromID("eui-0000000000000000") == nil)
        #expect(GatewayMapping.euiFromID("my-kickstarter") == nil)
    }
}
