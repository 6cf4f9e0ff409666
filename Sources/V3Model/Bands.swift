import Foundation
import ReferenceData

/// One channel of a band or a frequency plan: uplink frequency and data-rate range.
public struct V3BandChannel: Hashable, Sendable {
    /// Frequency in Hz.
    public var frequency: UInt64
    public var minDataRate: Int
    public var maxDataRate: Int

    public init(frequency: UInt64, minDataRate: Int, maxDataRate: Int) {
        self.frequency = frequency
        self.minDataRate = minDataRate
        self.maxDataRate = maxDataRate
    }
}

/// A LoRaWAN band as the Network Server uses it to build a device's MAC state (`lorawan-bands.json`,
/// transcribed from lorawan-stack `pkg/band`).
public struct V3Band: Hashable, Sendable {
    /// How a join-accept's CFList describes channels: extra frequencies (EU-like) or channel masks (US-like).
    public enum CFListType: String, Hashable, Sendable {
        case frequencies = "FREQUENCIES"
        case channelMasks = "CHANNEL_MASKS"
    }

    /// The MAC-state parameters of the band, at `parametersVersion`.
    public struct Parameters: Hashable, Sendable {
        /// The PHY version the values are taken from (the one the migration sends for this band).
        public var parametersVersion: String
        public var cfListType: CFListType
        /// The band's default uplink channels (the NS enables them unless factory presets are set).
        public var uplinkChannels: [V3BandChannel]
        public var downlinkChannels: [V3BandChannel]
        public var maxUplinkChannels: Int
        /// RX2 defaults of the band (`DefaultRx2Parameters`).
        public var rx2DataRateIndex: Int
        public var rx2Frequency: UInt64
        /// The data-rate indexes the band defines.
        public var dataRateIndexes: [Int]
        public var maxADRDataRateIndex: Int
        public var defaultMaxEIRP: Double
    }

    /// The band ID (`EU_863_870`).
    public var id: String
    /// The PHY versions the NS has for the band (`pkg/band/all.go`), in `V3Bands.phyVersionOrder`, as
    /// `RP001_…`/`RP002_…`/`TS001_…` names.
    public var phyVersions: [String]
    /// Nil for bands whose parameters are not transcribed (`MA_869_870_DRAFT`, `ISM_2400`).
    public var parameters: Parameters?
}

/// The channels and RX2 settings of one frequency plan (`lorawan-frequency-plan-channels.json`).
public struct V3PlanChannels: Hashable, Sendable {
    public var planID: String
    public var bandID: String
    public var uplinkChannels: [V3BandChannel]
    /// Empty when the plan gives none (the uplink frequencies are used for downlinks).
    public var downlinkChannels: [V3BandChannel]
    /// The 500 kHz (US-like) or 250 kHz channel, enabled on channel-mask bands.
    public var loraStandardChannel: UInt64?
    /// `rx2-channel` of the plan, overriding the band's RX2 frequency.
    public var rx2Frequency: UInt64?
    /// `rx2-default-data-rate` of the plan (`EU_863_870_TTN`: 3, SF9), overriding the band's.
    public var rx2DefaultDataRate: Int?
}

/// The embedded band and plan-channel tables, parsed once.
public enum V3Bands {
    /// The order of PHY versions (`lorawan.proto` `PHYVersion`, by release), for "closest version" choices.
    public static let phyVersionOrder: [String] = tables.order

    /// The band with this ID, or nil when the table does not have it.
    public static func band(id: String) -> V3Band? { tables.bands[id] }

    /// The channels of a plan, or nil when the plan is unknown.
    public static func channels(planID: String) -> V3PlanChannels? { tables.plans[planID] }

    /// The `RP…`/`TS…` name of a PHY version given by any of its names (`PHY_V1_0_2_REV_B` →
    /// `RP001_V1_0_2_REV_B`), from the aliases `V3PHYVersion` reads.
    public static func canonicalName(_ version: V3PHYVersion) -> String {
        rpNames[V3PHYVersion(name: version.rawValue).rawValue] ?? version.rawValue
    }

    private static let rpNames: [String: String] = Dictionary(
        V3PHYVersion.aliases.filter { $0.key.hasPrefix("RP") || $0.key.hasPrefix("TS") }.map { ($0.value, $0.key) },
        uniquingKeysWith: { first, _ in first })

    private struct Tables {
        var order: [String]
        var bands: [String: V3Band]
        var plans: [String: V3PlanChannels]
    }

    private static let tables: Tables = {
        struct BandFile: Decodable {
            struct Band: Decodable {
                var phy_versions: [String]
                var parameters_version: String?
                var cf_list_type: String?
                var uplink_channels: [[UInt64]]?
                var downlink_channels: [[UInt64]]?
                var max_uplink_channels: Int?
                var rx2_data_rate_index: Int?
                var rx2_frequency: UInt64?
                var data_rate_indexes: [Int]?
                var max_adr_data_rate_index: Int?
                var default_max_eirp: Double?
            }
            var phy_version_order: [String]
            var bands: [String: Band]
        }
        struct PlanFile: Decodable {
            struct Plan: Decodable {
                var band_id: String
                var uplink_channels: [[UInt64]]
                var downlink_channels: [[UInt64]]
                var lora_standard_channel: UInt64?
                var rx2_frequency: UInt64?
                var rx2_default_data_rate: Int?
            }
            var plans: [String: Plan]
        }
        func channels(_ rows: [[UInt64]]?) -> [V3BandChannel] {
            (rows ?? []).map { V3BandChannel(frequency: $0[0], minDataRate: Int($0[1]), maxDataRate: Int($0[2])) }
        }
        do {
            let bandFile = try JSONDecoder().decode(BandFile.self, from: Data(ReferenceData.bands.utf8))
            let planFile = try JSONDecoder().decode(PlanFile.self, from: Data(ReferenceData.frequencyPlanChannels.utf8))
            var bands: [String: V3Band] = [:]
            for (id, band) in bandFile.bands {
                var parameters: V3Band.Parameters?
                if let version = band.parameters_version, let type = band.cf_list_type.flatMap(V3Band.CFListType.init(rawValue:)),
                   let rx2DataRate = band.rx2_data_rate_index, let rx2Frequency = band.rx2_frequency {
                    parameters = V3Band.Parameters(
                        parametersVersion: version, cfListType: type, uplinkChannels: channels(band.uplink_channels),
                        downlinkChannels: channels(band.downlink_channels), maxUplinkChannels: band.max_uplink_channels ?? 16,
                        rx2DataRateIndex: rx2DataRate, rx2Frequency: rx2Frequency, dataRateIndexes: band.data_rate_indexes ?? [],
                        maxADRDataRateIndex: band.max_adr_data_rate_index ?? 0, defaultMaxEIRP: band.default_max_eirp ?? 0)
                }
                bands[id] = V3Band(id: id, phyVersions: band.phy_versions, parameters: parameters)
            }
            var plans: [String: V3PlanChannels] = [:]
            for (id, plan) in planFile.plans {
                plans[id] = V3PlanChannels(
                    planID: id, bandID: plan.band_id, uplinkChannels: channels(plan.uplink_channels),
                    downlinkChannels: channels(plan.downlink_channels), loraStandardChannel: plan.lora_standard_channel,
                    rx2Frequency: plan.rx2_frequency, rx2DefaultDataRate: plan.rx2_default_data_rate)
            }
            return Tables(order: bandFile.phy_version_order, bands: bands, plans: plans)
        } catch {
            preconditionFailure("embedded band tables do not parse: \(error)")
        }
    }()
}
