import Foundation
import V2Model
import V3Model

/// v2 gateway → v3 gateway (DESIGN.md §4 "Gateways", `reference/v3-api.md` §5).
public enum GatewayMapping {
    /// The v2 key name the link key replaces (v2 gateways had one key, used by the packet forwarder).
    public static let linkKeyV2Name = "gateway key"

    /// The gateway's link key: named like the application keys (`v2: gateway key [<run tag>]`, so a
    /// resumed run finds it by name), with `RIGHT_GATEWAY_LINK` only.
    public static func linkKey(runTag: String) -> V3APIKey {
        V3APIKey(name: ApplicationMapping.apiKeyName(v2Name: linkKeyV2Name, runTag: runTag).name, rights: [.gatewayLink])
    }

    /// The EUI of a legacy gateway whose v2 ID is `eui-` + 16 hex digits (`reference/v2-and-peers.md` §A.2).
    public static func euiFromID(_ v2ID: String) -> V3EUI? {
        let lower = v2ID.lowercased()
        guard lower.hasPrefix("eui-") else { return nil }
        let hex = String(lower.dropFirst(4))
        guard hex.utf8.count == 16, let eui = try? V3EUI(hex: hex), !eui.isZero else { return nil }
        return eui
    }

    /// The v3 gateway for a v2 gateway with its assigned ID and EUI.
    ///
    /// Name: the v2 `description` attribute (cut at 50, whole in the description) or else the v2 ID.
    /// `placement` `indoor`/`outdoor` → antenna placement; other attributes → attributes (`v2-id` first
    /// when the ID changed). Antenna location (not 0,0) → `antennas[0].location`, source REGISTRY.
    /// Plan from `FrequencyPlanMapping`; public flags and auto update carried (absent = false);
    /// `enforce_duty_cycle` true; `gateway_server_address` from the options.
    public static func gateway(
        _ v2: V2Gateway, id: AssignedID, eui: V3EUI?, options: MappingOptions, warnings: inout [MappingWarning]
    ) -> V3Gateway {
        let entity = EntityRef(kind: .gateway, v2ID: v2.id, v3ID: id.id)
        var v2Attributes = v2.attributes ?? [:]
        let v2Description = v2Attributes.removeValue(forKey: "description")?.trimmingCharacters(in: .whitespacesAndNewlines)

        var placement: V3AntennaPlacement?
        if let text = v2Attributes["placement"] {
            switch text.lowercased() {
            case "indoor":
                placement = .indoor
                v2Attributes.removeValue(forKey: "placement")
            case "outdoor":
                placement = .outdoor
                v2Attributes.removeValue(forKey: "placement")
            default:
                break
            }
        }

        let texts = TextMapping.nameAndDescription(
            name: (v2Description?.isEmpty ?? true) ? v2.id : v2Description, description: nil, entity: entity,
            warnings: &warnings)
        let reserved: [(key: String, value: String)] = id.changed ? [(key: "v2-id", value: v2.id)] : []
        let attributes = TextMapping.attributes(reserved: reserved, v2: v2Attributes, entity: entity, warnings: &warnings)

        var planIDs: [String]?
        switch FrequencyPlanMapping.gatewayPlan(v2Plan: v2.frequencyPlan, overrides: options.gatewayFrequencyPlans) {
        case .mapped(let plan, _):
            planIDs = [plan]
        case .missing:
            warnings.append(MappingWarning(
                .gatewayNoFrequencyPlan, entity,
                "gateway \"\(v2.id)\" has no frequency plan in v2; it is created without one. Set its plan in v3 before connecting it"))
        case .unmapped(let v2Plan):
            warnings.append(MappingWarning(
                .frequencyPlanUnmapped, entity,
                "gateway \"\(v2.id)\" uses v2 plan \(v2Plan), which has no v3 plan; it is created without one. Add `frequency_plans: {\(v2Plan): <v3 plan>}` or set its plan in v3"))
        }

        var location: V3Location?
        if let v2Location = v2.antennaLocation, v2Location.latitude != 0 || v2Location.longitude != 0 {
            location = V3Location(
                latitude: v2Location.latitude, longitude: v2Location.longitude, altitude: v2Location.altitude,
                source: .registry)
        }
        let antennas: [V3GatewayAntenna]? = (location == nil && placement == nil)
            ? nil : [V3GatewayAntenna(location: location, placement: placement)]

        return V3Gateway(
            gatewayID: id.id, eui: eui, name: texts.name, description: texts.description, attributes: attributes,
            frequencyPlanIDs: planIDs, gatewayServerAddress: options.gatewayServerAddress, antennas: antennas,
            locationPublic: v2.locationPublic ?? false, statusPublic: v2.statusPublic ?? false,
            autoUpdate: v2.autoUpdate ?? false, enforceDutyCycle: true)
    }
}
