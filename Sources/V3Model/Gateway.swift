import Foundation

/// Where a location came from (`metadata.proto` `LocationSource`), written by name.
public struct V3LocationSource: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// Entered by a person: what v2 locations are.
    public static let registry = V3LocationSource(rawValue: "SOURCE_REGISTRY")
    public static let unknown = V3LocationSource(rawValue: "SOURCE_UNKNOWN")
    public static let gps = V3LocationSource(rawValue: "SOURCE_GPS")

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A point on earth (`metadata.proto` `Location`): degrees, altitude in whole metres.
public struct V3Location: Codable, Hashable, Sendable {
    public var latitude: Double
    public var longitude: Double
    public var altitude: Int?
    public var accuracy: Int?
    public var source: V3LocationSource?

    public init(latitude: Double, longitude: Double, altitude: Int? = nil, accuracy: Int? = nil, source: V3LocationSource? = nil) {
        self.latitude = latitude
        self.longitude = longitude
        self.altitude = altitude
        self.accuracy = accuracy
        self.source = source
    }

    enum CodingKeys: String, CodingKey { case latitude, longitude, altitude, accuracy, source }

    /// v3 omits zero values (`reference/v3-api.md` §1): an absent latitude or longitude is 0.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        latitude = try container.decodeIfPresent(Double.self, forKey: .latitude) ?? 0
        longitude = try container.decodeIfPresent(Double.self, forKey: .longitude) ?? 0
        altitude = try container.decodeIfPresent(Int.self, forKey: .altitude)
        accuracy = try container.decodeIfPresent(Int.self, forKey: .accuracy)
        source = try container.decodeIfPresent(V3LocationSource.self, forKey: .source)
    }
}

/// Where a gateway antenna is (`GatewayAntennaPlacement`), written by name.
public struct V3AntennaPlacement: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let unknown = V3AntennaPlacement(rawValue: "PLACEMENT_UNKNOWN")
    public static let indoor = V3AntennaPlacement(rawValue: "INDOOR")
    public static let outdoor = V3AntennaPlacement(rawValue: "OUTDOOR")

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A gateway antenna: gain (dBi), location and placement.
public struct V3GatewayAntenna: Codable, Hashable, Sendable {
    public var gain: Double?
    public var location: V3Location?
    public var placement: V3AntennaPlacement?

    public init(gain: Double? = nil, location: V3Location? = nil, placement: V3AntennaPlacement? = nil) {
        self.gain = gain
        self.location = location
        self.placement = placement
    }
}

/// An Identity Server gateway (`gateway.proto`, `reference/v3-api.md` §5).
///
/// The mapping sets `frequency_plan_ids` (the list; v3 fills the legacy `frequency_plan_id` from it),
/// explicit booleans for the public flags, `auto_update` and `enforce_duty_cycle`, and at most one antenna.
public struct V3Gateway: Codable, Hashable, Sendable {
    public var ids: V3GatewayIdentifiers
    public var name: String?
    public var description: String?
    public var attributes: [String: String]?
    public var frequencyPlanIDs: [String]?
    public var gatewayServerAddress: String?
    public var antennas: [V3GatewayAntenna]?
    public var locationPublic: Bool?
    public var statusPublic: Bool?
    public var autoUpdate: Bool?
    public var enforceDutyCycle: Bool?

    public init(
        gatewayID: String, eui: V3EUI? = nil, name: String? = nil, description: String? = nil,
        attributes: [String: String]? = nil, frequencyPlanIDs: [String]? = nil, gatewayServerAddress: String? = nil,
        antennas: [V3GatewayAntenna]? = nil, locationPublic: Bool? = nil, statusPublic: Bool? = nil,
        autoUpdate: Bool? = nil, enforceDutyCycle: Bool? = nil
    ) {
        self.ids = V3GatewayIdentifiers(gatewayID: gatewayID, eui: eui)
        self.name = name
        self.description = description
        self.attributes = attributes
        self.frequencyPlanIDs = frequencyPlanIDs
        self.gatewayServerAddress = gatewayServerAddress
        self.antennas = antennas
        self.locationPublic = locationPublic
        self.statusPublic = statusPublic
        self.autoUpdate = autoUpdate
        self.enforceDutyCycle = enforceDutyCycle
    }

    enum CodingKeys: String, CodingKey {
        case ids, name, description, attributes, antennas
        case frequencyPlanIDs = "frequency_plan_ids"
        case gatewayServerAddress = "gateway_server_address"
        case locationPublic = "location_public"
        case statusPublic = "status_public"
        case autoUpdate = "auto_update"
        case enforceDutyCycle = "enforce_duty_cycle"
    }

    /// The paths of the fields that are set, valid for `GatewayRegistry/Update` and `/Get`
    /// (`antennas` whole: v3 has no sub-paths for it, `reference/v3-api.md` §17).
    public var fieldMask: [String] {
        var paths: [String] = []
        if ids.eui != nil { paths.append("ids.eui") }
        if name != nil { paths.append("name") }
        if description != nil { paths.append("description") }
        if attributes != nil { paths.append("attributes") }
        if frequencyPlanIDs != nil { paths.append("frequency_plan_ids") }
        if gatewayServerAddress != nil { paths.append("gateway_server_address") }
        if antennas != nil { paths.append("antennas") }
        if locationPublic != nil { paths.append("location_public") }
        if statusPublic != nil { paths.append("status_public") }
        if autoUpdate != nil { paths.append("auto_update") }
        if enforceDutyCycle != nil { paths.append("enforce_duty_cycle") }
        return paths
    }
}
