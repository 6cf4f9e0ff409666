import Foundation

/// A device as the v2 handler returns it (`GET /applications/{app}/devices[/{dev}]`).
///
/// Shape: `reference/v2-and-peers.md` §B. Frame counters are only present on the per-device GET.
public struct V2Device: Codable, Hashable, Sendable {
    public var appId: String
    public var devId: String
    public var description: String?
    public var latitude: Double?
    public var longitude: Double?
    public var altitude: Int?
    public var attributes: [String: String]?
    public var lorawanDevice: V2LoRaWANDevice?

    public init(
        appId: String, devId: String, description: String? = nil, latitude: Double? = nil,
        longitude: Double? = nil, altitude: Int? = nil, attributes: [String: String]? = nil,
        lorawanDevice: V2LoRaWANDevice? = nil
    ) {
        self.appId = appId
        self.devId = devId
        self.description = description
        self.latitude = latitude
        self.longitude = longitude
        self.altitude = altitude
        self.attributes = attributes
        self.lorawanDevice = lorawanDevice
    }

    enum CodingKeys: String, CodingKey {
        case description, latitude, longitude, altitude, attributes
        case appId = "app_id"
        case devId = "dev_id"
        case lorawanDevice = "lorawan_device"
    }
}

/// The LoRaWAN part of a v2 device: EUIs, activation keys, session and counters.
public struct V2LoRaWANDevice: Codable, Hashable, Sendable {
    public var appEui: V2EUI?
    public var devEui: V2EUI?
    public var devAddr: V2DevAddr?
    public var nwkSKey: V2AESKey?
    public var appSKey: V2AESKey?
    public var appKey: V2AESKey?
    public var fCntUp: UInt32?
    public var fCntDown: UInt32?
    public var disableFCntCheck: Bool?
    public var uses32BitFCnt: Bool?
    public var activationConstraints: String?
    /// Unix nanoseconds of the last uplink, or nil.
    public var lastSeen: Int64?

    public init(
        appEui: V2EUI? = nil, devEui: V2EUI? = nil, devAddr: V2DevAddr? = nil, nwkSKey: V2AESKey? = nil,
        appSKey: V2AESKey? = nil, appKey: V2AESKey? = nil, fCntUp: UInt32? = nil, fCntDown: UInt32? = nil,
        disableFCntCheck: Bool? = nil, uses32BitFCnt: Bool? = nil, activationConstraints: String? = nil,
        lastSeen: Int64? = nil
    ) {
        self.appEui = appEui
        self.devEui = devEui
        self.devAddr = devAddr
        self.nwkSKey = nwkSKey
        self.appSKey = appSKey
        self.appKey = appKey
        self.fCntUp = fCntUp
        self.fCntDown = fCntDown
        self.disableFCntCheck = disableFCntCheck
        self.uses32BitFCnt = uses32BitFCnt
        self.activationConstraints = activationConstraints
        self.lastSeen = lastSeen
    }

    /// OTAA ⇔ an AppKey is set (`reference/v2-and-peers.md` §B).
    public var isOTAA: Bool { appKey.map { !$0.isZero } ?? false }
    /// A session ⇔ DevAddr and NwkSKey are set.
    public var hasSession: Bool { devAddr != nil && nwkSKey != nil }

    enum CodingKeys: String, CodingKey {
        case appEui = "app_eui"
        case devEui = "dev_eui"
        case devAddr = "dev_addr"
        case nwkSKey = "nwk_s_key"
        case appSKey = "app_s_key"
        case appKey = "app_key"
        case fCntUp = "f_cnt_up"
        case fCntDown = "f_cnt_down"
        case disableFCntCheck = "disable_f_cnt_check"
        case uses32BitFCnt = "uses32_bit_f_cnt"
        case activationConstraints = "activation_constraints"
        case lastSeen = "last_seen"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        appEui = try c.decodeHexIfPresent(V2EUI.self, forKey: .appEui)
        devEui = try c.decodeHexIfPresent(V2EUI.self, forKey: .devEui)
        devAddr = try c.decodeHexIfPresent(V2DevAddr.self, forKey: .devAddr)
        nwkSKey = try c.decodeHexIfPresent(V2AESKey.self, forKey: .nwkSKey)
        appSKey = try c.decodeHexIfPresent(V2AESKey.self, forKey: .appSKey)
        appKey = try c.decodeHexIfPresent(V2AESKey.self, forKey: .appKey)
        fCntUp = try c.decodeFrameCounterIfPresent(forKey: .fCntUp)
        fCntDown = try c.decodeFrameCounterIfPresent(forKey: .fCntDown)
        disableFCntCheck = try c.decodeIfPresent(Bool.self, forKey: .disableFCntCheck)
        uses32BitFCnt = try c.decodeIfPresent(Bool.self, forKey: .uses32BitFCnt)
        activationConstraints = try c.decodeIfPresent(String.self, forKey: .activationConstraints)
        lastSeen = try Self.decodeInt64(c, .lastSeen)
    }

    /// grpc-gateway writes 64-bit integers as JSON strings; accept both forms.
    private static func decodeInt64(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> Int64? {
        if let text = try? c.decodeIfPresent(String.self, forKey: key) {
            guard let value = Int64(text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "not an integer")
            }
            return value
        }
        return try c.decodeIfPresent(Int64.self, forKey: key)
    }
}

/// The list answer of the handler: `{"devices": [...]}`.
public struct V2DeviceList: Codable, Sendable {
    public var devices: [V2Device]
    public init(devices: [V2Device]) { self.devices = devices }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        devices = try c.decodeIfPresent([V2Device].self, forKey: .devices) ?? []
    }
}

/// An application as the v2 handler knows it: its payload format and functions.
public struct V2HandlerApplication: Codable, Hashable, Sendable {
    public var appId: String
    /// `"custom"` or `"cayennelpp"`; absent means custom.
    public var payloadFormat: String?
    public var decoder: String?
    public var converter: String?
    public var validator: String?
    public var encoder: String?

    public init(
        appId: String, payloadFormat: String? = nil, decoder: String? = nil, converter: String? = nil,
        validator: String? = nil, encoder: String? = nil
    ) {
        self.appId = appId
        self.payloadFormat = payloadFormat
        self.decoder = decoder
        self.converter = converter
        self.validator = validator
        self.encoder = encoder
    }

    enum CodingKeys: String, CodingKey {
        case decoder, converter, validator, encoder
        case appId = "app_id"
        case payloadFormat = "payload_format"
    }
}
