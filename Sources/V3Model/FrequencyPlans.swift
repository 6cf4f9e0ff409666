import Foundation
import ReferenceData

/// One v3 frequency plan of `lorawan-frequency-plans` (`reference/v3-api.md` §13).
public struct V3FrequencyPlan: Hashable, Sendable {
    /// The plan ID devices and gateways refer to (`EU_863_870_TTN`).
    public var id: String
    /// The LoRaWAN band (`EU_863_870`).
    public var bandID: String
    /// The plan this one extends, if any.
    public var baseID: String?
    /// Human name (`Europe 863-870 MHz (SF9 for RX2 - recommended)`).
    public var name: String
    /// Base frequency in MHz.
    public var baseFrequency: Int
    /// Whether the plan is offered for gateways (`gateways: true` in the source file).
    public var forGateways: Bool
}

/// The frequency plans of `v3-frequency-plans.json`, parsed once.
public enum V3FrequencyPlans {
    /// Every plan, in the source file's order.
    public static let all: [V3FrequencyPlan] = {
        struct File: Decodable {
            struct Plan: Decodable {
                var id: String
                var band_id: String
                var base_id: String?
                var name: String
                var base_frequency: Int
                var gateways: Bool?
            }
            var plans: [Plan]
        }
        do {
            let file = try JSONDecoder().decode(File.self, from: Data(ReferenceData.frequencyPlans.utf8))
            return file.plans.map {
                V3FrequencyPlan(
                    id: $0.id, bandID: $0.band_id, baseID: $0.base_id, name: $0.name,
                    baseFrequency: $0.base_frequency, forGateways: $0.gateways ?? false)
            }
        } catch {
            preconditionFailure("embedded v3-frequency-plans.json does not parse: \(error)")
        }
    }()

    private static let byID: [String: V3FrequencyPlan] = Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0) })

    /// The plan with this ID, or nil when v3 does not know it.
    public static func plan(id: String) -> V3FrequencyPlan? { byID[id] }

    /// Whether v3 knows the plan ID.
    public static func isKnown(_ id: String) -> Bool { byID[id] != nil }

    /// Known plan IDs that look like `id` (same region prefix), for error messages; at most `limit`.
    public static func suggestions(for id: String, limit: Int = 6) -> [String] {
        let prefix = id.uppercased().split(separator: "_").first.map(String.init) ?? ""
        let matching = all.map(\.id).filter { !prefix.isEmpty && $0.hasPrefix(prefix + "_") }
        return Array(matching.prefix(limit))
    }
}
