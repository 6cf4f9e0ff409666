import Foundation
import ReferenceData

/// The v3 ID rules: patterns, lengths and the reserved-ID blocklist.
///
/// Patterns from `api/ttn/lorawan/v3/identifiers.proto` (`reference/v3-api.md` §8.1): application,
/// gateway, device, organization IDs and attribute keys match `^[a-z0-9](?:[-]?[a-z0-9]){2,}$`
/// (at least three letters or digits, single inner dashes), user IDs `^[a-z0-9](?:[-]?[a-z0-9]){1,}$`
/// (at least two); all at most 36 characters. The blocklist (`reference/v3-api.md` §8.3) applies to
/// applications, gateways, devices, users and organizations, not to attribute keys.
public enum V3IDRules {
    /// Longest ID of any kind.
    public static let maxLength = 36
    /// Fewest letters or digits in an application, gateway, device or organization ID.
    public static let minEntityAlphanumerics = 3
    /// Fewest letters or digits in a user ID.
    public static let minUserAlphanumerics = 2

    /// The IDs the Identity Server refuses to register (`v3-id-blocklist.json`, parsed once).
    public static let blocklist: Set<String> = {
        struct File: Decodable { var ids: [String] }
        do {
            return Set(try JSONDecoder().decode(File.self, from: Data(ReferenceData.idBlocklist.utf8)).ids)
        } catch {
            preconditionFailure("embedded v3-id-blocklist.json does not parse: \(error)")
        }
    }()

    /// What is wrong with an ID.
    public enum Problem: String, Sendable, Hashable, CustomStringConvertible {
        case empty
        case tooLong = "too-long"
        case tooShort = "too-short"
        case invalidCharacters = "invalid-characters"
        case blocklisted

        public var description: String {
            switch self {
            case .empty: return "is empty"
            case .tooLong: return "is longer than \(V3IDRules.maxLength) characters"
            case .tooShort: return "has too few letters or digits"
            case .invalidCharacters:
                return "may contain only lower-case letters, digits and single dashes between them"
            case .blocklisted: return "is reserved by The Things Stack (ID blocklist)"
            }
        }
    }

    /// Checks an application, gateway, device or organization ID; nil when valid.
    public static func entityIDProblem(_ id: String) -> Problem? {
        problem(id, minAlphanumerics: minEntityAlphanumerics, checkBlocklist: true)
    }

    /// Checks a user ID; nil when valid.
    public static func userIDProblem(_ id: String) -> Problem? {
        problem(id, minAlphanumerics: minUserAlphanumerics, checkBlocklist: true)
    }

    /// Checks an attribute key (same pattern as application IDs, no blocklist); nil when valid.
    public static func attributeKeyProblem(_ key: String) -> Problem? {
        problem(key, minAlphanumerics: minEntityAlphanumerics, checkBlocklist: false)
    }

    /// Whether the ID is a valid application, gateway, device or organization ID, blocklist included.
    public static func isValidEntityID(_ id: String) -> Bool { entityIDProblem(id) == nil }

    /// Whether the ID is a valid user ID, blocklist included.
    public static func isValidUserID(_ id: String) -> Bool { userIDProblem(id) == nil }

    /// Whether the Identity Server refuses to register the ID.
    public static func isBlocklisted(_ id: String) -> Bool { blocklist.contains(id) }

    /// Number of ASCII letters and digits in the text.
    public static func alphanumericCount(_ text: String) -> Int {
        text.utf8.reduce(0) { count, byte in isLowerAlphanumeric(byte) || isUpperLetter(byte) ? count + 1 : count }
    }

    static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
    }

    static func isUpperLetter(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")
    }

    private static func problem(_ id: String, minAlphanumerics: Int, checkBlocklist: Bool) -> Problem? {
        let bytes = Array(id.utf8)
        guard !bytes.isEmpty else { return .empty }
        var alphanumerics = 0
        var previousWasDash = true  // a leading dash is as bad as a double one
        for byte in bytes {
            if isLowerAlphanumeric(byte) {
                alphanumerics += 1
                previousWasDash = false
            } else if byte == UInt8(ascii: "-") {
                if previousWasDash { return .invalidCharacters }
                previousWasDash = true
            } else {
                return .invalidCharacters
            }
        }
        if previousWasDash { return .invalidCharacters }
        if bytes.count > maxLength { return .tooLong }
        if alphanumerics < minAlphanumerics { return .tooShort }
        if checkBlocklist && blocklist.contains(id) { return .blocklisted }
        return nil
    }
}

/// `ApplicationIdentifiers`: `{"application_id": …}`.
public struct V3ApplicationIdentifiers: Codable, Hashable, Sendable {
    public var applicationID: String
    public init(applicationID: String) { self.applicationID = applicationID }
    enum CodingKeys: String, CodingKey { case applicationID = "application_id" }
}

/// `GatewayIdentifiers`: `{"gateway_id": …, "eui": …}`.
public struct V3GatewayIdentifiers: Codable, Hashable, Sendable {
    public var gatewayID: String
    public var eui: V3EUI?
    public init(gatewayID: String, eui: V3EUI? = nil) {
        self.gatewayID = gatewayID
        self.eui = eui
    }
    enum CodingKeys: String, CodingKey {
        case gatewayID = "gateway_id"
        case eui
    }
}

/// `EndDeviceIdentifiers`: device ID, application, DevEUI and JoinEUI.
public struct V3EndDeviceIdentifiers: Codable, Hashable, Sendable {
    public var deviceID: String
    public var applicationIDs: V3ApplicationIdentifiers
    public var devEUI: V3EUI?
    public var joinEUI: V3EUI?

    public init(deviceID: String, applicationID: String, devEUI: V3EUI? = nil, joinEUI: V3EUI? = nil) {
        self.deviceID = deviceID
        self.applicationIDs = V3ApplicationIdentifiers(applicationID: applicationID)
        self.devEUI = devEUI
        self.joinEUI = joinEUI
    }

    enum CodingKeys: String, CodingKey {
        case deviceID = "device_id"
        case applicationIDs = "application_ids"
        case devEUI = "dev_eui"
        case joinEUI = "join_eui"
    }

    /// The mask paths of the identifiers that are set, in the seed's order (`seeds/000_…`).
    var fieldMaskPaths: [String] {
        var paths = ["ids.device_id"]
        if devEUI != nil { paths.append("ids.dev_eui") }
        if joinEUI != nil { paths.append("ids.join_eui") }
        return paths
    }
}

/// A user or an organization: the owner of entities and the subject of collaborations.
///
/// JSON: `{"user_ids": {"user_id": …}}` or `{"organization_ids": {"organization_id": …}}`
/// (`OrganizationOrUserIdentifiers`, `reference/v3-api.md` §3–§4).
public enum V3AccountIdentifiers: Codable, Hashable, Sendable, Comparable, CustomStringConvertible {
    case user(String)
    case organization(String)

    /// The account's ID.
    public var id: String {
        switch self {
        case .user(let id), .organization(let id): return id
        }
    }

    /// `user` or `organization`.
    public var kindName: String {
        switch self {
        case .user: return "user"
        case .organization: return "organization"
        }
    }

    /// For example `user alice`.
    public var description: String { "\(kindName) \(id)" }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.kindName, lhs.id) < (rhs.kindName, rhs.id)
    }

    enum CodingKeys: String, CodingKey {
        case userIDs = "user_ids"
        case organizationIDs = "organization_ids"
    }

    private struct UserIDs: Codable {
        var userID: String
        enum CodingKeys: String, CodingKey { case userID = "user_id" }
    }

    private struct OrganizationIDs: Codable {
        var organizationID: String
        enum CodingKeys: String, CodingKey { case organizationID = "organization_id" }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let user = try container.decodeIfPresent(UserIDs.self, forKey: .userIDs) {
            self = .user(user.userID)
        } else if let organization = try container.decodeIfPresent(OrganizationIDs.self, forKey: .organizationIDs) {
            self = .organization(organization.organizationID)
        } else {
            throw DecodingError.dataCorruptedError(
                forKey: .userIDs, in: container, debugDescription: "neither user_ids nor organization_ids")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .user(let id): try container.encode(UserIDs(userID: id), forKey: .userIDs)
        case .organization(let id): try container.encode(OrganizationIDs(organizationID: id), forKey: .organizationIDs)
        }
    }
}

/// The four v3 components a device lives in, and the one that owns each step.
public enum V3Component: String, Codable, Hashable, Sendable, CaseIterable, Comparable {
    case identityServer = "is"
    case joinServer = "js"
    case networkServer = "ns"
    case applicationServer = "as"

    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Server addresses as v3 stores them on entities: `host[:port]`, no scheme
/// (`*_server_address` pattern, `reference/v3-api.md` §3).
public enum V3ServerAddress {
    /// `host[:port]` of a component URL (`https://nam1.cloud.thethings.network` →
    /// `nam1.cloud.thethings.network`, `http://127.0.0.1:1885/` → `127.0.0.1:1885`): scheme and path
    /// dropped, host lower-cased, an explicit port kept. Nil when the URL has no valid host.
    public static func fromURL(_ url: String) -> String? {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else { return nil }
        let address = host.lowercased() + (components.port.map { ":\($0)" } ?? "")
        return isValid(address) ? address : nil
    }

    /// Whether the text is a valid `host[:port]` (lower-case DNS labels or IPv4, port 1–65535).
    public static func isValid(_ address: String) -> Bool {
        let parts = address.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2, let host = parts.first, !host.isEmpty, host.utf8.count <= 253 else {
            return false
        }
        if parts.count == 2 {
            let port = parts[1]
            guard !port.isEmpty, port.utf8.count <= 5, port.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                  let number = Int(port), number >= 1, number <= 65535
            else { return false }
        }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            let bytes = Array(label.utf8)
            guard let first = bytes.first, let last = bytes.last, bytes.count <= 63 else { return false }
            guard V3IDRules.isLowerAlphanumeric(first), V3IDRules.isLowerAlphanumeric(last) else { return false }
            guard bytes.allSatisfy({ V3IDRules.isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }) else { return false }
        }
        return true
    }
}
