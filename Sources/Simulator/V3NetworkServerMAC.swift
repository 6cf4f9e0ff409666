import Foundation
import ReferenceData

/// A band as the simulated Network Server knows it (`lorawan-bands.json`, from lorawan-stack `pkg/band`).
public struct V3SimBand: Sendable {
    /// One channel: frequency (Hz) and data-rate range.
    public struct Channel: Sendable, Equatable {
        public var frequency: Double
        public var minDataRate: Double
        public var maxDataRate: Double
    }

    /// The PHY versions the band has, as `PHYVersion` enum numbers (`pkg/band/all.go`).
    public var phyVersions: Set<Int>
    /// True when a join-accept CFList carries frequencies (EU-like), false for channel masks (US-like).
    public var cfListFrequencies: Bool
    public var uplinkChannels: [Channel]
    public var downlinkChannels: [Channel]
    public var maxUplinkChannels: Int
    public var rx2DataRateIndex: Double
    public var rx2Frequency: Double
    public var dataRateIndexes: Set<Int>
    public var maxADRDataRateIndex: Double
    public var defaultMaxEIRP: Double
    /// False for bands listed with their versions only: a session on them gets no derived MAC state.
    public var hasParameters: Bool
}

/// The channels and RX2 of a frequency plan (`lorawan-frequency-plan-channels.json`).
public struct V3SimPlanChannels: Sendable {
    public var bandID: String
    public var uplinkChannels: [V3SimBand.Channel]
    public var downlinkChannels: [V3SimBand.Channel]
    public var loraStandardChannel: Double?
    public var rx2Frequency: Double?
    public var rx2DefaultDataRate: Double?
}

extension V3Tables {
    /// Parses `lorawan-bands.json` and `lorawan-frequency-plan-channels.json` with the simulator's JSON reader.
    static func parseBands(bands: String, planChannels: String) throws -> (bands: [String: V3SimBand], plans: [String: V3SimPlanChannels]) {
        func document(_ name: String, _ text: String) throws -> V3JSON {
            do { return try V3JSON.parse(text) } catch { throw V3TablesError(table: name, problem: error.description) }
        }
        func channels(_ value: V3JSON?, table: String) throws -> [V3SimBand.Channel] {
            try (value?.arrayValue ?? []).map { row in
                let numbers = row.arrayValue?.compactMap(\.numberValue) ?? []
                guard numbers.count == 3 else { throw V3TablesError(table: table, problem: "a channel is not [frequency, min DR, max DR]") }
                return V3SimBand.Channel(frequency: numbers[0], minDataRate: numbers[1], maxDataRate: numbers[2])
            }
        }
        var bandTable: [String: V3SimBand] = [:]
        let bandsName = "lorawan-bands.json"
        for (id, band) in try document(bandsName, bands)[path: "bands"]?.objectValue ?? [:] {
            let versions = try (band[path: "phy_versions"]?.arrayValue ?? []).map { name in
                guard let number = V3EnumType.phyVersion.number(of: name) else {
                    throw V3TablesError(table: bandsName, problem: "band \(id) lists an unknown PHY version \(name)")
                }
                return number
            }
            bandTable[id] = V3SimBand(
                phyVersions: Set(versions),
                cfListFrequencies: band[path: "cf_list_type"]?.stringValue == "FREQUENCIES",
                uplinkChannels: try channels(band[path: "uplink_channels"], table: bandsName),
                downlinkChannels: try channels(band[path: "downlink_channels"], table: bandsName),
                maxUplinkChannels: Int(band[path: "max_uplink_channels"]?.numberValue ?? 16),
                rx2DataRateIndex: band[path: "rx2_data_rate_index"]?.numberValue ?? 0,
                rx2Frequency: band[path: "rx2_frequency"]?.numberValue ?? 0,
                dataRateIndexes: Set((band[path: "data_rate_indexes"]?.arrayValue ?? []).compactMap { $0.numberValue.map(Int.init) }),
                maxADRDataRateIndex: band[path: "max_adr_data_rate_index"]?.numberValue ?? 0,
                defaultMaxEIRP: band[path: "default_max_eirp"]?.numberValue ?? 0,
                hasParameters: band[path: "cf_list_type"] != nil)
        }
        var planTable: [String: V3SimPlanChannels] = [:]
        let plansName = "lorawan-frequency-plan-channels.json"
        for (id, plan) in try document(plansName, planChannels)[path: "plans"]?.objectValue ?? [:] {
            planTable[id] = V3SimPlanChannels(
                bandID: plan[path: "band_id"]?.stringValue ?? "",
                uplinkChannels: try channels(plan[path: "uplink_channels"], table: plansName),
                downlinkChannels: try channels(plan[path: "downlink_channels"], table: plansName),
                loraStandardChannel: plan[path: "lora_standard_channel"]?.numberValue,
                rx2Frequency: plan[path: "rx2_frequency"]?.numberValue,
                rx2DefaultDataRate: plan[path: "rx2_default_data_rate"]?.numberValue)
        }
        return (bandTable, planTable)
    }
}

/// The Network Server's MAC-state rules (lorawan-stack `pkg/networkserver/mac/utils.go` `NewState`,
/// `pkg/networkserver/internal/utils.go` `FrequencyPlanAndBand`), on the simulator's tables.
enum V3NetworkServerMAC {
    /// A uint64 as stored (decimal string) or a number.
    static func unsigned(_ value: V3JSON?) -> Double? {
        if let text = value?.stringValue { return UInt64(text).map { Double($0) } }
        return value?.numberValue
    }

    private static func decimal(_ number: Double) -> V3JSON { .string(String(UInt64(number))) }

    /// `no_band_version`: the plan's band has no such PHY version.
    static func noBandVersion(version: String, bandID: String) -> V3Failure {
        V3Failure(code: 3, namespace: "pkg/networkserver/internal", name: "no_band_version",
                  format: "specified version `{ver}` of band `{id}` does not exist",
                  attributes: ["ver": .string(version), "id": .string(bandID)])
    }

    private static func channel(up: Double, down: Double, min: Double, max: Double, enabled: Bool) -> V3JSON {
        .object([
            "uplink_frequency": decimal(up), "downlink_frequency": decimal(down),
            "min_data_rate_index": .number(min), "max_data_rate_index": .number(max), "enable_uplink": .bool(enabled),
        ])
    }

    /// `DeviceDefaultChannels`: the band's channels; with factory presets only those enabled (frequency bands
    /// add the presets they lack).
    private typealias Row = (up: Double, down: Double, min: Double, max: Double, enabled: Bool)

    /// The band's uplink channels, each with its downlink channel (round robin over the band's downlinks).
    private static func bandChannels(_ band: V3SimBand, enabled: Bool) -> [Row] {
        band.uplinkChannels.enumerated().map { index, channel in
            let down = band.downlinkChannels.isEmpty ? channel.frequency : band.downlinkChannels[index % band.downlinkChannels.count].frequency
            return (channel.frequency, down, channel.minDataRate, channel.maxDataRate, enabled)
        }
    }

    static func defaultChannels(_ band: V3SimBand, factoryPresets: [Double]) -> [V3JSON] {
        var channels = bandChannels(band, enabled: factoryPresets.isEmpty)
        for frequency in factoryPresets {
            if let index = channels.firstIndex(where: { $0.up == frequency }) {
                channels[index].enabled = true
            } else if band.cfListFrequencies {
                channels.append((frequency, frequency, 0, band.maxADRDataRateIndex, true))
            }
        }
        return channels.map { channel(up: $0.up, down: $0.down, min: $0.min, max: $0.max, enabled: $0.enabled) }
    }

    /// `DeviceDesiredChannels`: the band's channels disabled, then the plan's enabled (frequency bands add the
    /// plan's extra channels with their data rates; mask bands enable the plan's and its standard channel).
    static func desiredChannels(_ band: V3SimBand, _ plan: V3SimPlanChannels) -> [V3JSON] {
        var channels = bandChannels(band, enabled: false)
        var enable = plan.uplinkChannels
        if !band.cfListFrequencies, let standard = plan.loraStandardChannel {
            enable.append(V3SimBand.Channel(frequency: standard, minDataRate: 0, maxDataRate: 0))
        }
        for (position, planChannel) in enable.enumerated() {
            if let index = channels.firstIndex(where: { $0.up == planChannel.frequency }) {
                channels[index].enabled = true
                if band.cfListFrequencies {
                    channels[index].min = planChannel.minDataRate
                    channels[index].max = planChannel.maxDataRate
                }
            } else if band.cfListFrequencies {
                let down = position < plan.downlinkChannels.count ? plan.downlinkChannels[position].frequency : planChannel.frequency
                channels.append((planChannel.frequency, down, planChannel.minDataRate, planChannel.maxDataRate, true))
            }
        }
        return channels.map { channel(up: $0.up, down: $0.down, min: $0.min, max: $0.max, enabled: $0.enabled) }
    }

    /// `NewState` for a device given without a MAC state: current parameters from the band's defaults and
    /// the device's `mac_settings`, desired ones from its plan. Nil when the band has no parameters.
    static func newState(_ device: V3JSON, band: V3SimBand, plan: V3SimPlanChannels) -> V3JSON? {
        guard band.hasParameters else { return nil }
        let presets = (device[path: "mac_settings.factory_preset_frequencies"]?.arrayValue ?? []).compactMap { unsigned($0) }
        let rx1Delay = device[path: "mac_settings.rx1_delay"]?.numberValue ?? 1
        let rx2DataRate = device[path: "mac_settings.rx2_data_rate_index"]?.numberValue ?? band.rx2DataRateIndex
        let rx2Frequency = unsigned(device[path: "mac_settings.rx2_frequency"]).flatMap { $0 == 0 ? nil : $0 } ?? band.rx2Frequency
        let current: V3JSON = .object([
            "max_eirp": .number(band.defaultMaxEIRP), "adr_nb_trans": .number(1), "rx1_delay": .number(rx1Delay),
            "rx2_data_rate_index": .number(rx2DataRate), "rx2_frequency": decimal(rx2Frequency),
            "channels": .array(defaultChannels(band, factoryPresets: presets)),
        ])
        let desired: V3JSON = .object([
            "max_eirp": .number(band.defaultMaxEIRP), "adr_nb_trans": .number(1),
            "rx1_delay": .number(device[path: "mac_settings.desired_rx1_delay"]?.numberValue ?? rx1Delay),
            "rx2_data_rate_index": .number(plan.rx2DefaultDataRate ?? rx2DataRate),
            "rx2_frequency": decimal(plan.rx2Frequency ?? rx2Frequency),
            "channels": .array(desiredChannels(band, plan)),
        ])
        return .object([
            "current_parameters": current, "desired_parameters": desired,
            "device_class": .string("CLASS_A"), "lorawan_version": device[path: "lorawan_version"] ?? .string("MAC_V1_0_2"),
        ])
    }

    /// The PHY checks of an NS Set once plan and version are known: data-rate indexes the band defines, at most
    /// `MaxUplinkChannels` channels in a given MAC state, factory presets as frequencies.
    static func validate(_ device: V3JSON, mask: [String], band: V3SimBand) throws(V3Failure) {
        let ns = V3Component.networkServer
        var dataRatePaths = ["mac_settings.rx2_data_rate_index", "mac_settings.desired_rx2_data_rate_index"]
        for parameters in ["mac_state.current_parameters", "mac_state.desired_parameters"] {
            dataRatePaths.append(parameters + ".rx2_data_rate_index")
            let channelsPath = parameters + ".channels"
            guard let channels = device[path: channelsPath]?.arrayValue, V3Engine.maskSets(mask, channelsPath) else { continue }
            if band.hasParameters, channels.count > band.maxUplinkChannels { throw V3Failure.fieldValue(ns, field: channelsPath) }
            for channel in channels {
                for field in ["min_data_rate_index", "max_data_rate_index"] {
                    if let index = channel[path: field]?.numberValue, band.hasParameters, !band.dataRateIndexes.contains(Int(index)) {
                        throw V3Failure.fieldValue(ns, field: channelsPath)
                    }
                }
            }
        }
        for path in dataRatePaths where V3Engine.maskSets(mask, path) && band.hasParameters {
            if let index = device[path: path]?.numberValue, !band.dataRateIndexes.contains(Int(index)) {
                throw V3Failure.fieldValue(ns, field: path)
            }
        }
        let presetsPath = "mac_settings.factory_preset_frequencies"
        if V3Engine.maskSets(mask, presetsPath), let presets = device[path: presetsPath] {
            guard let list = presets.arrayValue, list.allSatisfy({ (unsigned($0) ?? 0) > 0 }) else {
                throw V3Failure.fieldValue(ns, field: presetsPath)
            }
        }
    }
}
