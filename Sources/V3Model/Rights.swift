import Foundation
import ReferenceData

/// A v3 right (`api/ttn/lorawan/v3/rights.proto` enum `Right`), written in JSON by name.
///
/// Only the 63 rights of `v3-rights.json` exist (its 64 enum values minus `right_invalid`); `init?(rawValue:)` refuses
/// any other text. Rights order by their place in the proto (`V3Rights.all`), the order v3 lists them.
/// Reading also accepts a name without the `RIGHT_` prefix and the enum number (`reference/v3-api.md` §12).
public struct V3Right: RawRepresentable, Codable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: String

    /// A right from its full name (`RIGHT_APPLICATION_INFO`); nil for names v3 does not define.
    public init?(rawValue: String) {
        guard V3Rights.table.byName[rawValue] != nil else { return nil }
        self.rawValue = rawValue
    }

    private init(known name: String) { rawValue = name }

    /// The enum number.
    public var number: Int { V3Rights.table.byName[rawValue]!.number }

    /// The right itself and what it implies, one level deep (`Right.Implied` in `pkg/ttnpb/rights.go`).
    public var implied: Set<V3Right> { V3Rights.implied(by: self) }

    /// Whether this is a pseudo-right standing for a whole family (`RIGHT_APPLICATION_ALL`, …).
    public var isPseudoRight: Bool { V3Rights.table.implied[rawValue] != nil && rawValue.hasSuffix("_ALL") }

    public var description: String { rawValue }

    public static func < (lhs: V3Right, rhs: V3Right) -> Bool {
        V3Rights.table.byName[lhs.rawValue]!.position < V3Rights.table.byName[rhs.rawValue]!.position
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int.self) {
            guard let name = V3Rights.table.byNumber[number] else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown right number \(number)")
            }
            self.init(known: name)
            return
        }
        let text = try container.decode(String.self)
        if V3Rights.table.byName[text] != nil {
            self.init(known: text)
        } else if V3Rights.table.byName["RIGHT_" + text] != nil {
            self.init(known: "RIGHT_" + text)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "unknown right \"\(text)\"")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    // The rights the mapping grants (DESIGN.md §4). `V3ModelTests` checks each exists in the table.
    public static let applicationInfo = V3Right(known: "RIGHT_APPLICATION_INFO")
    public static let applicationSettingsBasic = V3Right(known: "RIGHT_APPLICATION_SETTINGS_BASIC")
    public static let applicationSettingsAPIKeys = V3Right(known: "RIGHT_APPLICATION_SETTINGS_API_KEYS")
    public static let applicationSettingsCollaborators = V3Right(known: "RIGHT_APPLICATION_SETTINGS_COLLABORATORS")
    public static let applicationDelete = V3Right(known: "RIGHT_APPLICATION_DELETE")
    public static let applicationDevicesRead = V3Right(known: "RIGHT_APPLICATION_DEVICES_READ")
    public static let applicationDevicesWrite = V3Right(known: "RIGHT_APPLICATION_DEVICES_WRITE")
    public static let applicationDevicesReadKeys = V3Right(known: "RIGHT_APPLICATION_DEVICES_READ_KEYS")
    public static let applicationDevicesWriteKeys = V3Right(known: "RIGHT_APPLICATION_DEVICES_WRITE_KEYS")
    public static let applicationTrafficRead = V3Right(known: "RIGHT_APPLICATION_TRAFFIC_READ")
    public static let applicationTrafficUpWrite = V3Right(known: "RIGHT_APPLICATION_TRAFFIC_UP_WRITE")
    public static let applicationTrafficDownWrite = V3Right(known: "RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE")
    public static let applicationLink = V3Right(known: "RIGHT_APPLICATION_LINK")
    public static let applicationAll = V3Right(known: "RIGHT_APPLICATION_ALL")
    public static let gatewayInfo = V3Right(known: "RIGHT_GATEWAY_INFO")
    public static let gatewaySettingsBasic = V3Right(known: "RIGHT_GATEWAY_SETTINGS_BASIC")
    public static let gatewaySettingsCollaborators = V3Right(known: "RIGHT_GATEWAY_SETTINGS_COLLABORATORS")
    public static let gatewayDelete = V3Right(known: "RIGHT_GATEWAY_DELETE")
    public static let gatewayLink = V3Right(known: "RIGHT_GATEWAY_LINK")
    public static let gatewayTrafficRead = V3Right(known: "RIGHT_GATEWAY_TRAFFIC_READ")
    public static let gatewayStatusRead = V3Right(known: "RIGHT_GATEWAY_STATUS_READ")
    public static let gatewayLocationRead = V3Right(known: "RIGHT_GATEWAY_LOCATION_READ")
    public static let gatewayAll = V3Right(known: "RIGHT_GATEWAY_ALL")
    public static let userApplicationsCreate = V3Right(known: "RIGHT_USER_APPLICATIONS_CREATE")
    public static let userGatewaysCreate = V3Right(known: "RIGHT_USER_GATEWAYS_CREATE")
    public static let organizationApplicationsCreate = V3Right(known: "RIGHT_ORGANIZATION_APPLICATIONS_CREATE")
    public static let organizationGatewaysCreate = V3Right(known: "RIGHT_ORGANIZATION_GATEWAYS_CREATE")
    public static let all = V3Right(known: "RIGHT_ALL")
}

/// The rights table of `v3-rights.json`, parsed once.
public enum V3Rights {
    struct Entry {
        var name: String
        var number: Int
        var position: Int
    }

    struct Table {
        var ordered: [String]
        var byName: [String: Entry]
        var byNumber: [Int: String]
        var implied: [String: [String]]
    }

    static let table: Table = {
        struct File: Decodable {
            struct Right: Decodable {
                var name: String
                var number: Int
            }
            var rights: [Right]
            var implied: [String: [String]]
        }
        let file: File
        do {
            file = try JSONDecoder().decode(File.self, from: Data(ReferenceData.rights.utf8))
        } catch {
            preconditionFailure("embedded v3-rights.json does not parse: \(error)")
        }
        let defined = file.rights.filter { $0.number != 0 }
        var byName: [String: Entry] = [:]
        var byNumber: [Int: String] = [:]
        for (position, right) in defined.enumerated() {
            byName[right.name] = Entry(name: right.name, number: right.number, position: position)
            byNumber[right.number] = right.name
        }
        return Table(ordered: defined.map(\.name), byName: byName, byNumber: byNumber, implied: file.implied)
    }()

    /// Every defined right, in proto order.
    public static var all: [V3Right] { table.ordered.map { V3Right(rawValue: $0)! } }

    /// The right and the rights it implies, one level deep (`Rights.Implied` is not recursive).
    public static func implied(by right: V3Right) -> Set<V3Right> {
        var result: Set<V3Right> = [right]
        for name in table.implied[right.rawValue] ?? [] {
            result.insert(V3Right(rawValue: name)!)
        }
        return result
    }

    /// The union of what each right implies: what a holder of `rights` may do.
    public static func expand(_ rights: some Sequence<V3Right>) -> Set<V3Right> {
        rights.reduce(into: Set<V3Right>()) { $0.formUnion(implied(by: $1)) }
    }

    /// The rights of `required` that a holder of `held` lacks, in proto order (empty: holds them all).
    public static func missing(_ required: some Sequence<V3Right>, from held: some Sequence<V3Right>) -> [V3Right] {
        let expanded = expand(held)
        return required.filter { !expanded.contains($0) }.sorted()
    }
}
