import Foundation
import V3Model

/// v2 frequency-plan names → v3 plan IDs for gateways (`reference/v3-api.md` §13, gateway column).
///
/// No source gives an official table; this is the suggested one, overridable with `frequency_plans:`.
/// `CN_779_787` has no v3 plan at all.
public enum FrequencyPlanMapping {
    /// The built-in gateway table.
    public static let gatewayTable: [String: String] = [
        "EU_863_870": "EU_863_870",
        "US_902_928": "US_902_928_FSB_2",
        "AU_915_928": "AU_915_928_FSB_2",
        "CN_470_510": "CN_470_510_FSB_11",
        "AS_923": "AS_923",
        "AS_920_923": "AS_920_923",
        "AS_923_925": "AS_923_925",
        "KR_920_923": "KR_920_923_TTN",
        "IN_865_867": "IN_865_867",
        "RU_864_870": "RU_864_870_TTN",
        "EU_433": "EU_433",
    ]

    /// The v2 plans that exist but have no v3 plan.
    public static let unmappable: Set<String> = ["CN_779_787"]

    /// Outcome of looking up a gateway plan.
    public enum Outcome: Hashable, Sendable {
        /// The v3 plan, and whether it came from `frequency_plans:`.
        case mapped(String, overridden: Bool)
        /// The gateway has no v2 plan.
        case missing
        /// The v2 plan has no v3 plan.
        case unmapped(String)
    }

    /// The v3 plan for a gateway's v2 plan: `frequency_plans:` first, then the built-in table.
    public static func gatewayPlan(v2Plan: String?, overrides: [String: String]) -> Outcome {
        guard let v2Plan, !v2Plan.isEmpty else { return .missing }
        if let override = overrides[v2Plan] { return .mapped(override, overridden: true) }
        if let plan = gatewayTable[v2Plan] { return .mapped(plan, overridden: false) }
        return .unmapped(v2Plan)
    }
}
