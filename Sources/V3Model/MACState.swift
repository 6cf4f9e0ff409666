import Foundation

/// One channel of a device's MAC parameters (`MACParameters.Channel`, `end_device.proto`).
public struct V3MACChannel: Codable, Hashable, Sendable {
    public var uplinkFrequency: UInt64
    public var downlinkFrequency: UInt64
    public var minDataRateIndex: Int
    public var maxDataRateIndex: Int
    public var enableUplink: Bool

    public init(uplinkFrequency: UInt64, downlinkFrequency: UInt64, minDataRateIndex: Int, maxDataRateIndex: Int, enableUplink: Bool) {
        self.uplinkFrequency = uplinkFrequency
        self.downlinkFrequency = downlinkFrequency
        self.minDataRateIndex = minDataRateIndex
        self.maxDataRateIndex = maxDataRateIndex
        self.enableUplink = enableUplink
    }

    enum CodingKeys: String, CodingKey {
        case uplinkFrequency = "uplink_frequency"
        case downlinkFrequency = "downlink_frequency"
        case minDataRateIndex = "min_data_rate_index"
        case maxDataRateIndex = "max_data_rate_index"
        case enableUplink = "enable_uplink"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        uplinkFrequency = try container.decodeDecimal(forKey: .uplinkFrequency) ?? 0
        downlinkFrequency = try container.decodeDecimal(forKey: .downlinkFrequency) ?? 0
        minDataRateIndex = try container.decodeIfPresent(Int.self, forKey: .minDataRateIndex) ?? 0
        maxDataRateIndex = try container.decodeIfPresent(Int.self, forKey: .maxDataRateIndex) ?? 0
        enableUplink = try container.decodeIfPresent(Bool.self, forKey: .enableUplink) ?? false
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeDecimal(uplinkFrequency, forKey: .uplinkFrequency)
        try container.encodeDecimal(downlinkFrequency, forKey: .downlinkFrequency)
        try container.encode(minDataRateIndex, forKey: .minDataRateIndex)
        try container.encode(maxDataRateIndex, forKey: .maxDataRateIndex)
        try container.encode(enableUplink, forKey: .enableUplink)
    }
}

/// The MAC parameters of a session (`MACParameters`) that the migration sets.
///
/// Zero-valued enums (ADR data rate 0, RX1 offset 0, duty cycle 1, rejoin periodicities) equal what the NS's
/// `NewState` sets and are left out; dwell times, ping-slot and beacon frequencies stay unset so the NS uses
/// the band's and the plan's (class A devices, `pkg/networkserver/mac/utils.go`).
public struct V3MACParameters: Codable, Hashable, Sendable {
    public var maxEIRP: Double
    public var adrNbTrans: Int
    /// Seconds; written as a number (`RxDelay`, `reference/v3-api.md` §1).
    public var rx1Delay: Int
    public var rx2DataRateIndex: Int
    public var rx2Frequency: UInt64
    public var channels: [V3MACChannel]

    public init(maxEIRP: Double, adrNbTrans: Int, rx1Delay: Int, rx2DataRateIndex: Int, rx2Frequency: UInt64, channels: [V3MACChannel]) {
        self.maxEIRP = maxEIRP
        self.adrNbTrans = adrNbTrans
        self.rx1Delay = rx1Delay
        self.rx2DataRateIndex = rx2DataRateIndex
        self.rx2Frequency = rx2Frequency
        self.channels = channels
    }

    enum CodingKeys: String, CodingKey {
        case channels
        case maxEIRP = "max_eirp"
        case adrNbTrans = "adr_nb_trans"
        case rx1Delay = "rx1_delay"
        case rx2DataRateIndex = "rx2_data_rate_index"
        case rx2Frequency = "rx2_frequency"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        maxEIRP = try container.decodeIfPresent(Double.self, forKey: .maxEIRP) ?? 0
        adrNbTrans = try container.decodeIfPresent(Int.self, forKey: .adrNbTrans) ?? 0
        rx1Delay = try container.decodeIfPresent(Int.self, forKey: .rx1Delay) ?? 0
        rx2DataRateIndex = try container.decodeIfPresent(Int.self, forKey: .rx2DataRateIndex) ?? 0
        rx2Frequency = try container.decodeDecimal(forKey: .rx2Frequency) ?? 0
        channels = try container.decodeIfPresent([V3MACChannel].self, forKey: .channels) ?? []
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(maxEIRP, forKey: .maxEIRP)
        try container.encode(adrNbTrans, forKey: .adrNbTrans)
        try container.encode(rx1Delay, forKey: .rx1Delay)
        try container.encode(rx2DataRateIndex, forKey: .rx2DataRateIndex)
        try container.encodeDecimal(rx2Frequency, forKey: .rx2Frequency)
        try container.encode(channels, forKey: .channels)
    }

    /// The uplink frequencies the device may use.
    public var enabledUplinkFrequencies: [UInt64] { channels.filter(\.enableUplink).map(\.uplinkFrequency) }
}

/// The MAC state of a carried OTAA session: what the device was told on v2 (`MACState`).
public struct V3MACState: Codable, Hashable, Sendable {
    public var currentParameters: V3MACParameters
    public var desiredParameters: V3MACParameters
    /// `CLASS_A`.
    public var deviceClass: String
    public var lorawanVersion: V3MACVersion

    public init(currentParameters: V3MACParameters, desiredParameters: V3MACParameters, deviceClass: String, lorawanVersion: V3MACVersion) {
        self.currentParameters = currentParameters
        self.desiredParameters = desiredParameters
        self.deviceClass = deviceClass
        self.lorawanVersion = lorawanVersion
    }

    enum CodingKeys: String, CodingKey {
        case currentParameters = "current_parameters"
        case desiredParameters = "desired_parameters"
        case deviceClass = "device_class"
        case lorawanVersion = "lorawan_version"
    }

    /// The `NsEndDeviceRegistry/Set` paths this state fills.
    public static let fieldMaskPaths = [
        "mac_state.current_parameters", "mac_state.desired_parameters", "mac_state.device_class", "mac_state.lorawan_version",
    ]
}

/// The MAC parameters the Network Server derives from a band and a frequency plan.
///
/// The same rules as lorawan-stack `pkg/networkserver/mac/utils.go` `DeviceDesiredChannels` and
/// `DeviceDesiredRX2…`: the band's channels, disabled, then the plan's enabled (frequency bands take the
/// plan's data rates and add its extra channels; channel-mask bands only enable the band's, and the plan's
/// standard channel); RX2 from the plan over the band.
public enum V3MACParametersBuilder {
    /// The parameters a device on `plan` ends up with once the NS has configured it (`desired_parameters`).
    public static func desired(band: V3Band.Parameters, plan: V3PlanChannels, rx1Delay: Int) -> V3MACParameters {
        var channels = band.uplinkChannels.enumerated().map { index, channel in
            V3MACChannel(
                uplinkFrequency: channel.frequency,
                downlinkFrequency: band.downlinkChannels[index % max(1, band.downlinkChannels.count)].frequency,
                minDataRateIndex: channel.minDataRate, maxDataRateIndex: channel.maxDataRate, enableUplink: false)
        }
        var enabled = plan.uplinkChannels
        if band.cfListType == .channelMasks, let standard = plan.loraStandardChannel {
            enabled.append(V3BandChannel(frequency: standard, minDataRate: 0, maxDataRate: 0))
        }
        for (position, planChannel) in enabled.enumerated() {
            if let index = channels.firstIndex(where: { $0.uplinkFrequency == planChannel.frequency }) {
                channels[index].enableUplink = true
                if band.cfListType == .frequencies {
                    channels[index].minDataRateIndex = planChannel.minDataRate
                    channels[index].maxDataRateIndex = planChannel.maxDataRate
                }
            } else if band.cfListType == .frequencies {
                let downlink = position < plan.downlinkChannels.count ? plan.downlinkChannels[position].frequency : planChannel.frequency
                channels.append(V3MACChannel(
                    uplinkFrequency: planChannel.frequency, downlinkFrequency: downlink,
                    minDataRateIndex: planChannel.minDataRate, maxDataRateIndex: planChannel.maxDataRate, enableUplink: true))
            }
        }
        return V3MACParameters(
            maxEIRP: band.defaultMaxEIRP, adrNbTrans: 1, rx1Delay: rx1Delay,
            rx2DataRateIndex: plan.rx2DefaultDataRate ?? band.rx2DataRateIndex,
            rx2Frequency: plan.rx2Frequency ?? band.rx2Frequency, channels: channels)
    }
}

/// 64-bit integers in v3 JSON: written as decimal strings (proto3 JSON, as the seed's
/// `factory_preset_frequencies` are), read from strings or numbers.
extension KeyedEncodingContainer {
    mutating func encodeDecimal(_ value: UInt64?, forKey key: Key) throws {
        if let value { try encode(String(value), forKey: key) }
    }

    mutating func encodeDecimals(_ values: [UInt64]?, forKey key: Key) throws {
        if let values { try encode(values.map { String($0) }, forKey: key) }
    }
}

extension KeyedDecodingContainer {
    func decodeDecimal(forKey key: Key) throws -> UInt64? {
        if let number = try? decodeIfPresent(UInt64.self, forKey: key) { return number }
        return try decodeIfPresent(String.self, forKey: key).map { try decimal($0, forKey: key) }
    }

    func decodeDecimals(forKey key: Key) throws -> [UInt64]? {
        if let numbers = try? decodeIfPresent([UInt64].self, forKey: key) { return numbers }
        return try decodeIfPresent([String].self, forKey: key)?.map { try decimal($0, forKey: key) }
    }

    private func decimal(_ text: String, forKey key: Key) throws -> UInt64 {
        guard let number = UInt64(text) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "not an unsigned integer: \"\(text)\"")
        }
        return number
    }
}
