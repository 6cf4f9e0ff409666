import Foundation

/// A LoRaWAN MAC version (`lorawan.proto` `MACVersion`), written by enum name.
///
/// Reading also accepts the aliases v3 accepts (`"1.0.2"`, `reference/v3-api.md` §6).
public struct V3MACVersion: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// LoRaWAN 1.0.2: what v2 devices are migrated as.
    public static let v1_0_2 = V3MACVersion(rawValue: "MAC_V1_0_2")

    static let aliases: [String: String] = [
        "1.0": "MAC_V1_0", "1.0.0": "MAC_V1_0", "1.0.1": "MAC_V1_0_1", "1.0.2": "MAC_V1_0_2",
        "1.0.3": "MAC_V1_0_3", "1.0.4": "MAC_V1_0_4", "1.1": "MAC_V1_1",
    ]

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        rawValue = Self.aliases[text] ?? text
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A LoRaWAN regional-parameters version (`lorawan.proto` `PHYVersion`), written by enum name.
///
/// `"1.0.2"` is revision A and `"1.0.2-b"` revision B (`reference/v3-api.md` §15): send the names.
public struct V3PHYVersion: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// Regional parameters 1.0.2 revision B: what v2 devices are migrated as.
    public static let v1_0_2RevB = V3PHYVersion(rawValue: "PHY_V1_0_2_REV_B")

    static let aliases: [String: String] = [
        "1.0": "PHY_V1_0", "1.0.0": "PHY_V1_0", "1.0.1": "PHY_V1_0_1", "1.0.2": "PHY_V1_0_2_REV_A",
        "1.0.2-a": "PHY_V1_0_2_REV_A", "1.0.2-b": "PHY_V1_0_2_REV_B", "1.1-a": "PHY_V1_1_REV_A",
        "1.1-b": "PHY_V1_1_REV_B", "1.0.3-a": "PHY_V1_0_3_REV_A",
        // The RP001/TS001 names of lorawan.proto are aliases of the PHY_ names v3 writes back.
        "TS001_V1_0": "PHY_V1_0", "TS001_V1_0_1": "PHY_V1_0_1", "RP001_V1_0_2": "PHY_V1_0_2_REV_A",
        "RP001_V1_0_2_REV_B": "PHY_V1_0_2_REV_B", "RP001_V1_1_REV_A": "PHY_V1_1_REV_A", "RP001_V1_1_REV_B": "PHY_V1_1_REV_B",
        "RP001_V1_0_3_REV_A": "PHY_V1_0_3_REV_A",
    ]

    /// The version by any of its names, as the name v3 writes (`RP001_V1_0_3_REV_A` → `PHY_V1_0_3_REV_A`).
    public init(name: String) {
        rawValue = Self.aliases[name] ?? name
    }

    public init(from decoder: any Decoder) throws {
        self.init(name: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A key in its envelope (`keys.proto` `KeyEnvelope`); only the plain key is used.
public struct V3KeyEnvelope: Codable, Hashable, Sendable {
    public var key: V3AESKey?
    public init(key: V3AESKey?) { self.key = key }
}

/// The identity-server part of an end device: what the IS owns (`reference/v3-api.md` §6).
///
/// Created with `POST /api/v3/applications/{app}/devices` `{"end_device": …}` (no mask on Create).
/// Owns identifiers, name, description, attributes, `locations` and the JS/NS/AS addresses (host[:port]);
/// the JS address only for OTAA devices.
public struct V3ISEndDevice: Codable, Hashable, Sendable {
    public var ids: V3EndDeviceIdentifiers
    public var name: String?
    public var description: String?
    public var attributes: [String: String]?
    /// Keyed by source; the mapping sets `"user"` (`reference/v3-api.md` §17).
    public var locations: [String: V3Location]?
    public var joinServerAddress: String?
    public var networkServerAddress: String?
    public var applicationServerAddress: String?

    public init(
        ids: V3EndDeviceIdentifiers, name: String? = nil, description: String? = nil,
        attributes: [String: String]? = nil, locations: [String: V3Location]? = nil,
        joinServerAddress: String? = nil, networkServerAddress: String? = nil, applicationServerAddress: String? = nil
    ) {
        self.ids = ids
        self.name = name
        self.description = description
        self.attributes = attributes
        self.locations = locations
        self.joinServerAddress = joinServerAddress
        self.networkServerAddress = networkServerAddress
        self.applicationServerAddress = applicationServerAddress
    }

    enum CodingKeys: String, CodingKey {
        case ids, name, description, attributes, locations
        case joinServerAddress = "join_server_address"
        case networkServerAddress = "network_server_address"
        case applicationServerAddress = "application_server_address"
    }

    /// The paths of the fields that are set, valid for `EndDeviceRegistry/Update` and `/Get`: a subset of
    /// `name, description, attributes, locations, join_server_address, network_server_address,
    /// application_server_address` (identifiers are not updatable; Create takes no mask).
    public var fieldMask: [String] {
        var paths: [String] = []
        if name != nil { paths.append("name") }
        if description != nil { paths.append("description") }
        if attributes != nil { paths.append("attributes") }
        if locations != nil { paths.append("locations") }
        if joinServerAddress != nil { paths.append("join_server_address") }
        if networkServerAddress != nil { paths.append("network_server_address") }
        if applicationServerAddress != nil { paths.append("application_server_address") }
        return paths
    }
}

/// The root keys of an OTAA device: for LoRaWAN 1.0.x only the AppKey.
public struct V3RootKeys: Codable, Hashable, Sendable {
    public var appKey: V3KeyEnvelope?
    public init(appKey: V3KeyEnvelope?) { self.appKey = appKey }
    enum CodingKeys: String, CodingKey { case appKey = "app_key" }
}

/// The join-server part of an OTAA end device: EUIs, NS and AS addresses, root key.
///
/// `PUT /api/v3/js/applications/{app}/devices/{dev}` `{"end_device": …, "field_mask": …}`. ABP devices
/// have no join-server part.
public struct V3JSEndDevice: Codable, Hashable, Sendable {
    public var ids: V3EndDeviceIdentifiers
    public var networkServerAddress: String?
    public var applicationServerAddress: String?
    public var rootKeys: V3RootKeys?

    public init(ids: V3EndDeviceIdentifiers, networkServerAddress: String? = nil, applicationServerAddress: String? = nil, rootKeys: V3RootKeys? = nil) {
        self.ids = ids
        self.networkServerAddress = networkServerAddress
        self.applicationServerAddress = applicationServerAddress
        self.rootKeys = rootKeys
    }

    enum CodingKeys: String, CodingKey {
        case ids
        case networkServerAddress = "network_server_address"
        case applicationServerAddress = "application_server_address"
        case rootKeys = "root_keys"
    }

    /// The `JsEndDeviceRegistry/Set` mask, in the seed's order (`seeds/000_…` OTAA):
    /// `network_server_address, application_server_address, ids.device_id, ids.dev_eui, ids.join_eui,
    /// root_keys.app_key.key` (those set).
    public var fieldMask: [String] {
        var paths: [String] = []
        if networkServerAddress != nil { paths.append("network_server_address") }
        if applicationServerAddress != nil { paths.append("application_server_address") }
        paths += ids.fieldMaskPaths
        if rootKeys?.appKey?.key != nil { paths.append("root_keys.app_key.key") }
        return paths
    }
}

/// MAC settings the mapping carries from v2 (wrapper values written bare, `reference/v3-api.md` §15).
public struct V3MACSettings: Codable, Hashable, Sendable {
    /// v2 `disable_f_cnt_check`.
    public var resetsFCnt: Bool?
    /// v2 `uses32_bit_f_cnt`; set explicitly, false included.
    public var supports32BitFCnt: Bool?
    /// RX1 delay in seconds (`RxDelay` is written as a number, §1); ABP only: an OTAA session carries it in
    /// its MAC state, so that a later join uses the v3 default (DESIGN.md §4).
    public var rx1Delay: Int?
    /// ABP: RX2 data rate and frequency of the device's plan, which the device was configured with.
    public var rx2DataRateIndex: Int?
    public var rx2Frequency: UInt64?
    /// ABP: the uplink frequencies the device uses from boot (the plan's, as the peer's
    /// `--resets-to-frequency-plan` sets them), so the NS does not fall back to the band's defaults.
    public var factoryPresetFrequencies: [UInt64]?
    /// DevStatusReq periodicity (`"0s"` and 0 turn it off; see README "Devices").
    public var statusTimePeriodicity: String?
    public var statusCountPeriodicity: UInt32?

    public init(
        resetsFCnt: Bool? = nil, supports32BitFCnt: Bool? = nil, rx1Delay: Int? = nil, rx2DataRateIndex: Int? = nil,
        rx2Frequency: UInt64? = nil, factoryPresetFrequencies: [UInt64]? = nil, statusTimePeriodicity: String? = nil,
        statusCountPeriodicity: UInt32? = nil
    ) {
        self.resetsFCnt = resetsFCnt
        self.supports32BitFCnt = supports32BitFCnt
        self.rx1Delay = rx1Delay
        self.rx2DataRateIndex = rx2DataRateIndex
        self.rx2Frequency = rx2Frequency
        self.factoryPresetFrequencies = factoryPresetFrequencies
        self.statusTimePeriodicity = statusTimePeriodicity
        self.statusCountPeriodicity = statusCountPeriodicity
    }

    enum CodingKeys: String, CodingKey {
        case resetsFCnt = "resets_f_cnt"
        case supports32BitFCnt = "supports_32_bit_f_cnt"
        case rx1Delay = "rx1_delay"
        case rx2DataRateIndex = "rx2_data_rate_index"
        case rx2Frequency = "rx2_frequency"
        case factoryPresetFrequencies = "factory_preset_frequencies"
        case statusTimePeriodicity = "status_time_periodicity"
        case statusCountPeriodicity = "status_count_periodicity"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        resetsFCnt = try container.decodeIfPresent(Bool.self, forKey: .resetsFCnt)
        supports32BitFCnt = try container.decodeIfPresent(Bool.self, forKey: .supports32BitFCnt)
        if let number = try? container.decodeIfPresent(Int.self, forKey: .rx1Delay) {
            rx1Delay = number
        } else if let name = try container.decodeIfPresent(String.self, forKey: .rx1Delay) {
            guard name.hasPrefix("RX_DELAY_"), let seconds = Int(name.dropFirst("RX_DELAY_".count)) else {
                throw DecodingError.dataCorruptedError(forKey: .rx1Delay, in: container, debugDescription: "unknown RX delay \"\(name)\"")
            }
            rx1Delay = seconds
        } else {
            rx1Delay = nil
        }
        rx2DataRateIndex = try container.decodeIfPresent(Int.self, forKey: .rx2DataRateIndex)
        rx2Frequency = try container.decodeDecimal(forKey: .rx2Frequency)
        factoryPresetFrequencies = try container.decodeDecimals(forKey: .factoryPresetFrequencies)
        statusTimePeriodicity = try container.decodeIfPresent(String.self, forKey: .statusTimePeriodicity)
        statusCountPeriodicity = try container.decodeIfPresent(UInt32.self, forKey: .statusCountPeriodicity)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(resetsFCnt, forKey: .resetsFCnt)
        try container.encodeIfPresent(supports32BitFCnt, forKey: .supports32BitFCnt)
        try container.encodeIfPresent(rx1Delay, forKey: .rx1Delay)
        try container.encodeIfPresent(rx2DataRateIndex, forKey: .rx2DataRateIndex)
        try container.encodeDecimal(rx2Frequency, forKey: .rx2Frequency)
        try container.encodeDecimals(factoryPresetFrequencies, forKey: .factoryPresetFrequencies)
        try container.encodeIfPresent(statusTimePeriodicity, forKey: .statusTimePeriodicity)
        try container.encodeIfPresent(statusCountPeriodicity, forKey: .statusCountPeriodicity)
    }

    /// The `mac_settings.*` paths of the fields that are set, in declaration order.
    var fieldMaskPaths: [String] {
        var paths: [String] = []
        if resetsFCnt != nil { paths.append("mac_settings.resets_f_cnt") }
        if supports32BitFCnt != nil { paths.append("mac_settings.supports_32_bit_f_cnt") }
        if rx1Delay != nil { paths.append("mac_settings.rx1_delay") }
        if rx2DataRateIndex != nil { paths.append("mac_settings.rx2_data_rate_index") }
        if rx2Frequency != nil { paths.append("mac_settings.rx2_frequency") }
        if factoryPresetFrequencies != nil { paths.append("mac_settings.factory_preset_frequencies") }
        if statusTimePeriodicity != nil { paths.append("mac_settings.status_time_periodicity") }
        if statusCountPeriodicity != nil { paths.append("mac_settings.status_count_periodicity") }
        return paths
    }
}

/// The session keys the Network Server holds: for LoRaWAN 1.0.x the FNwkSIntKey (= v2 NwkSKey).
/// The NS copies it to SNwkSIntKey and NwkSEncKey; the AppSKey never goes to the NS.
public struct V3NSSessionKeys: Codable, Hashable, Sendable {
    /// OTAA sessions only (the NS requires one on a joined device's session and refuses one on ABP:
    /// `reference/v3-api.md` §15); base64 of 16 bytes, the same on NS and AS.
    public var sessionKeyID: String?
    public var fNwkSIntKey: V3KeyEnvelope?
    public init(fNwkSIntKey: V3KeyEnvelope?, sessionKeyID: String? = nil) {
        self.fNwkSIntKey = fNwkSIntKey
        self.sessionKeyID = sessionKeyID
    }
    enum CodingKeys: String, CodingKey {
        case fNwkSIntKey = "f_nwk_s_int_key"
        case sessionKeyID = "session_key_id"
    }
}

/// The Network Server's part of a session: address, network key, uplink and network downlink counters.
///
/// `session_key_id` only on carried OTAA sessions: the NS refuses one on ABP sessions
/// (`reference/v3-api.md` §15) and requires one on a joined device's session.
public struct V3NSSession: Codable, Hashable, Sendable {
    public var devAddr: V3DevAddr?
    public var keys: V3NSSessionKeys?
    public var lastFCntUp: UInt32?
    public var lastNFCntDown: UInt32?
    /// RFC 3339; set by the executor when sending (`V3NSEndDevice.stampingSessionStart(at:)`).
    public var startedAt: String?

    public init(devAddr: V3DevAddr?, keys: V3NSSessionKeys?, lastFCntUp: UInt32?, lastNFCntDown: UInt32?, startedAt: String? = nil) {
        self.devAddr = devAddr
        self.keys = keys
        self.lastFCntUp = lastFCntUp
        self.lastNFCntDown = lastNFCntDown
        self.startedAt = startedAt
    }

    enum CodingKeys: String, CodingKey {
        case keys
        case devAddr = "dev_addr"
        case lastFCntUp = "last_f_cnt_up"
        case lastNFCntDown = "last_n_f_cnt_down"
        case startedAt = "started_at"
    }
}

/// The network-server part of an end device: plan, versions, activation mode, MAC settings, session.
///
/// `PUT /api/v3/ns/applications/{app}/devices/{dev}` `{"end_device": …, "field_mask": …}`.
public struct V3NSEndDevice: Codable, Hashable, Sendable {
    public var ids: V3EndDeviceIdentifiers
    public var frequencyPlanID: String?
    public var lorawanVersion: V3MACVersion?
    public var lorawanPHYVersion: V3PHYVersion?
    /// True for OTAA, false for ABP; set explicitly either way.
    public var supportsJoin: Bool?
    public var macSettings: V3MACSettings?
    public var session: V3NSSession?
    /// Carried OTAA sessions: the MAC state the device has, current = desired (`reference/v2-and-peers.md` §C).
    public var macState: V3MACState?

    public init(
        ids: V3EndDeviceIdentifiers, frequencyPlanID: String? = nil, lorawanVersion: V3MACVersion? = nil,
        lorawanPHYVersion: V3PHYVersion? = nil, supportsJoin: Bool? = nil, macSettings: V3MACSettings? = nil,
        session: V3NSSession? = nil, macState: V3MACState? = nil
    ) {
        self.macState = macState
        self.ids = ids
        self.frequencyPlanID = frequencyPlanID
        self.lorawanVersion = lorawanVersion
        self.lorawanPHYVersion = lorawanPHYVersion
        self.supportsJoin = supportsJoin
        self.macSettings = macSettings
        self.session = session
    }

    enum CodingKeys: String, CodingKey {
        case ids, session
        case frequencyPlanID = "frequency_plan_id"
        case lorawanVersion = "lorawan_version"
        case lorawanPHYVersion = "lorawan_phy_version"
        case supportsJoin = "supports_join"
        case macSettings = "mac_settings"
        case macState = "mac_state"
    }

    /// The `NsEndDeviceRegistry/Set` mask of the fields that are set, in this order:
    /// `supports_join, lorawan_version, ids.device_id, ids.dev_eui, ids.join_eui, lorawan_phy_version,
    /// frequency_plan_id` (the seed's order), then the `mac_settings.*` set, `session.dev_addr,
    /// session.keys.f_nwk_s_int_key.key, session.last_f_cnt_up, session.last_n_f_cnt_down, session.started_at`,
    /// then `V3MACState.fieldMaskPaths` with a MAC state.
    public var fieldMask: [String] {
        var paths: [String] = []
        if supportsJoin != nil { paths.append("supports_join") }
        if lorawanVersion != nil { paths.append("lorawan_version") }
        paths += ids.fieldMaskPaths
        if lorawanPHYVersion != nil { paths.append("lorawan_phy_version") }
        if frequencyPlanID != nil { paths.append("frequency_plan_id") }
        paths += macSettings?.fieldMaskPaths ?? []
        if let session {
            if session.devAddr != nil { paths.append("session.dev_addr") }
            if session.keys?.fNwkSIntKey?.key != nil { paths.append("session.keys.f_nwk_s_int_key.key") }
            if session.keys?.sessionKeyID != nil { paths.append("session.keys.session_key_id") }
            if session.lastFCntUp != nil { paths.append("session.last_f_cnt_up") }
            if session.lastNFCntDown != nil { paths.append("session.last_n_f_cnt_down") }
            if session.startedAt != nil { paths.append("session.started_at") }
        }
        if macState != nil { paths += V3MACState.fieldMaskPaths }
        return paths
    }

    /// This device with `session.started_at` set to `date` (UTC, RFC 3339, whole seconds), when it has a
    /// session. The plan leaves the start empty so it stays the same on every run; the executor stamps
    /// it when it sends the request.
    public func stampingSessionStart(at date: Date) -> V3NSEndDevice {
        guard session != nil else { return self }
        var copy = self
        copy.session?.startedAt = V3Timestamp.rfc3339(date)
        return copy
    }
}

/// The Application Server's part of a session: address, AppSKey and application downlink counter.
public struct V3ASSession: Codable, Hashable, Sendable {
    /// The session keys the Application Server holds: the AppSKey.
    public struct Keys: Codable, Hashable, Sendable {
        public var appSKey: V3KeyEnvelope?
        /// OTAA sessions only; equal to the NS's.
        public var sessionKeyID: String?
        public init(appSKey: V3KeyEnvelope?, sessionKeyID: String? = nil) {
            self.appSKey = appSKey
            self.sessionKeyID = sessionKeyID
        }
        enum CodingKeys: String, CodingKey {
            case appSKey = "app_s_key"
            case sessionKeyID = "session_key_id"
        }
    }

    public var devAddr: V3DevAddr?
    public var keys: Keys?
    public var lastAFCntDown: UInt32?

    public init(devAddr: V3DevAddr?, keys: Keys?, lastAFCntDown: UInt32?) {
        self.devAddr = devAddr
        self.keys = keys
        self.lastAFCntDown = lastAFCntDown
    }

    enum CodingKeys: String, CodingKey {
        case keys
        case devAddr = "dev_addr"
        case lastAFCntDown = "last_a_f_cnt_down"
    }
}

/// The application-server part of an end device: EUIs and, with a carried session, the AppSKey.
///
/// `PUT /api/v3/as/applications/{app}/devices/{dev}` `{"end_device": …, "field_mask": …}`.
public struct V3ASEndDevice: Codable, Hashable, Sendable {
    public var ids: V3EndDeviceIdentifiers
    public var session: V3ASSession?
    /// Set to false explicitly with a session, as the seed's ABP example does.
    public var skipPayloadCrypto: Bool?

    public init(ids: V3EndDeviceIdentifiers, session: V3ASSession? = nil, skipPayloadCrypto: Bool? = nil) {
        self.ids = ids
        self.session = session
        self.skipPayloadCrypto = skipPayloadCrypto
    }

    enum CodingKeys: String, CodingKey {
        case ids, session
        case skipPayloadCrypto = "skip_payload_crypto"
    }

    /// The `AsEndDeviceRegistry/Set` mask of the fields that are set: `ids.device_id, ids.dev_eui,
    /// ids.join_eui, session.dev_addr, session.keys.app_s_key.key, session.last_a_f_cnt_down,
    /// skip_payload_crypto`.
    public var fieldMask: [String] {
        var paths = ids.fieldMaskPaths
        if let session {
            if session.devAddr != nil { paths.append("session.dev_addr") }
            if session.keys?.appSKey?.key != nil { paths.append("session.keys.app_s_key.key") }
            if session.keys?.sessionKeyID != nil { paths.append("session.keys.session_key_id") }
            if session.lastAFCntDown != nil { paths.append("session.last_a_f_cnt_down") }
        }
        if skipPayloadCrypto != nil { paths.append("skip_payload_crypto") }
        return paths
    }
}

/// RFC 3339 timestamps as v3 writes them (UTC, `Z`).
public enum V3Timestamp {
    /// `2024-10-24T12:00:00Z` for the date, whole seconds.
    public static func rfc3339(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let year = Int(parts.tm_year) + 1900
        let yearText = String(repeating: "0", count: max(0, 4 - String(year).count)) + String(year)
        return "\(yearText)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
