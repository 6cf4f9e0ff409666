import Foundation

/// An Identity Server application (`application.proto`, `reference/v3-api.md` §3).
///
/// Limits the mapping keeps: `name` ≤ 50 code points, `description` ≤ 2000, at most 10 attributes with
/// keys like IDs and values ≤ 200.
public struct V3Application: Codable, Hashable, Sendable {
    public var ids: V3ApplicationIdentifiers
    public var name: String?
    public var description: String?
    public var attributes: [String: String]?

    public init(applicationID: String, name: String? = nil, description: String? = nil, attributes: [String: String]? = nil) {
        self.ids = V3ApplicationIdentifiers(applicationID: applicationID)
        self.name = name
        self.description = description
        self.attributes = attributes
    }

    /// The paths of the fields that are set, valid for `ApplicationRegistry/Update` and `/Get`
    /// (Create takes no mask): a subset of `name, description, attributes`.
    public var fieldMask: [String] {
        var paths: [String] = []
        if name != nil { paths.append("name") }
        if description != nil { paths.append("description") }
        if attributes != nil { paths.append("attributes") }
        return paths
    }
}

/// A collaborator of an application or gateway: an account and its rights (`reference/v3-api.md` §4).
///
/// Sent by SetCollaborator as `{"collaborator": {"ids": …, "rights": […]}}`; empty rights would delete
/// the collaborator, so the mapping never plans one without rights.
public struct V3Collaborator: Codable, Hashable, Sendable {
    public var ids: V3AccountIdentifiers
    /// In proto order, without duplicates.
    public var rights: [V3Right]

    public init(ids: V3AccountIdentifiers, rights: [V3Right]) {
        self.ids = ids
        self.rights = rights
    }

    enum CodingKeys: String, CodingKey { case ids, rights }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        ids = try container.decode(V3AccountIdentifiers.self, forKey: .ids)
        rights = try container.decodeIfPresent([V3Right].self, forKey: .rights) ?? []
    }
}

/// An application or gateway API key (`reference/v3-api.md` §4, §11).
///
/// The server makes `id` and the secret `key`; the secret comes back only from CreateAPIKey and is
/// never printed (`V3Secret`). A planned key has only `name` and `rights`.
public struct V3APIKey: Codable, Hashable, Sendable {
    public var id: String?
    public var key: V3Secret?
    /// At most 50 characters.
    public var name: String
    public var rights: [V3Right]
    public var expiresAt: String?

    public init(id: String? = nil, key: V3Secret? = nil, name: String, rights: [V3Right], expiresAt: String? = nil) {
        self.id = id
        self.key = key
        self.name = name
        self.rights = rights
        self.expiresAt = expiresAt
    }

    enum CodingKeys: String, CodingKey {
        case id, key, name, rights
        case expiresAt = "expires_at"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decodeIfPresent(String.self, forKey: .id)
        key = try container.decodeIfPresent(V3Secret.self, forKey: .key).flatMap { $0.value.isEmpty ? nil : $0 }
        name = try container.decodeIfPresent(String.self, forKey: .name) ?? ""
        rights = try container.decodeIfPresent([V3Right].self, forKey: .rights) ?? []
        expiresAt = try container.decodeIfPresent(String.self, forKey: .expiresAt)
    }

    /// The mask of `UpdateAPIKey`: `name`, `rights`.
    public var fieldMask: [String] { ["name", "rights"] }
}

/// A payload formatter kind (`MessagePayloadFormatters`, `reference/v3-api.md` §16), written by name.
public struct V3PayloadFormatter: RawRepresentable, Codable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let none = V3PayloadFormatter(rawValue: "FORMATTER_NONE")
    public static let repository = V3PayloadFormatter(rawValue: "FORMATTER_REPOSITORY")
    public static let grpcService = V3PayloadFormatter(rawValue: "FORMATTER_GRPC_SERVICE")
    public static let javascript = V3PayloadFormatter(rawValue: "FORMATTER_JAVASCRIPT")
    public static let cayenneLPP = V3PayloadFormatter(rawValue: "FORMATTER_CAYENNELPP")

    /// Largest formatter parameter (the JavaScript source) v3 accepts: 40,960 characters
    /// (`messages.proto` `MessagePayloadFormatters`, `max_len = 40960`; the comment's "16KB" is out of date).
    public static let maxParameterLength = 40_960

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// Up- and downlink payload formatters; a parameter is set together with its formatter.
public struct V3MessagePayloadFormatters: Codable, Hashable, Sendable {
    public var upFormatter: V3PayloadFormatter?
    public var upFormatterParameter: String?
    public var downFormatter: V3PayloadFormatter?
    public var downFormatterParameter: String?

    public init(
        upFormatter: V3PayloadFormatter? = nil, upFormatterParameter: String? = nil,
        downFormatter: V3PayloadFormatter? = nil, downFormatterParameter: String? = nil
    ) {
        self.upFormatter = upFormatter
        self.upFormatterParameter = upFormatterParameter
        self.downFormatter = downFormatter
        self.downFormatterParameter = downFormatterParameter
    }

    enum CodingKeys: String, CodingKey {
        case upFormatter = "up_formatter"
        case upFormatterParameter = "up_formatter_parameter"
        case downFormatter = "down_formatter"
        case downFormatterParameter = "down_formatter_parameter"
    }
}

/// The Application Server link of an application: its default payload formatters (`reference/v3-api.md` §16).
///
/// Sent by `As/SetLink` as `{"link": …, "field_mask": {"paths": fieldMask}}`.
public struct V3ApplicationLink: Codable, Hashable, Sendable {
    public var defaultFormatters: V3MessagePayloadFormatters?

    public init(defaultFormatters: V3MessagePayloadFormatters? = nil) {
        self.defaultFormatters = defaultFormatters
    }

    enum CodingKeys: String, CodingKey { case defaultFormatters = "default_formatters" }

    /// The paths of the formatter fields that are set, among
    /// `default_formatters.{up_formatter,up_formatter_parameter,down_formatter,down_formatter_parameter}`.
    public var fieldMask: [String] {
        guard let formatters = defaultFormatters else { return [] }
        var paths: [String] = []
        if formatters.upFormatter != nil { paths.append("default_formatters.up_formatter") }
        if formatters.upFormatterParameter != nil { paths.append("default_formatters.up_formatter_parameter") }
        if formatters.downFormatter != nil { paths.append("default_formatters.down_formatter") }
        if formatters.downFormatterParameter != nil { paths.append("default_formatters.down_formatter_parameter") }
        return paths
    }
}
