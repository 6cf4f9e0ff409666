import Foundation

/// An enum as the LS JSON codec reads and writes it: names, aliases and numbers in, a name (or a number) out.
struct V3EnumType: Sendable {
    let typeName: String
    private let numberByName: [String: Int]
    private let nameByNumber: [Int: String]
    /// `DataRateIndex`, `DataRateOffset`, `RxDelay` are written as numbers (reference/v3-api.md §1).
    let writesNumbers: Bool

    init(_ typeName: String, names: [(String, Int)], aliases: [(String, Int)] = [], prefix: String? = nil, writesNumbers: Bool = false) {
        self.typeName = typeName
        var byName: [String: Int] = [:]
        var byNumber: [Int: String] = [:]
        for (name, number) in names {
            byName[name] = number
            if byNumber[number] == nil { byNumber[number] = name }
            // The JSON enum option `prefix` lets the name be written without it (`V1_0_2` for `MAC_V1_0_2`).
            if let prefix, name.hasPrefix(prefix + "_") { byName[String(name.dropFirst(prefix.count + 1))] = number }
        }
        for (alias, number) in aliases { byName[alias] = number }
        numberByName = byName
        nameByNumber = byNumber
        self.writesNumbers = writesNumbers
    }

    func number(of value: V3JSON) -> Int? {
        switch value {
        case .string(let text):
            if let number = numberByName[text] { return number }
            if let number = Int(text), nameByNumber[number] != nil { return number }
            return nil
        case .number(let number):
            let integer = Int(number)
            guard Double(integer) == number, nameByNumber[integer] != nil else { return nil }
            return integer
        default:
            return nil
        }
    }

    func json(_ number: Int) -> V3JSON {
        writesNumbers ? .number(Double(number)) : .string(nameByNumber[number] ?? String(number))
    }

    // Enums of api/ttn/lorawan/v3/lorawan.proto, metadata.proto, gateway.proto, messages.proto, end_device.proto.
    static let macVersion = V3EnumType("MACVersion", names: [
        ("MAC_UNKNOWN", 0), ("MAC_V1_0", 1), ("MAC_V1_0_1", 2), ("MAC_V1_0_2", 3), ("MAC_V1_1", 4), ("MAC_V1_0_3", 5), ("MAC_V1_0_4", 6),
    ], aliases: [("1.0", 1), ("1.0.0", 1), ("1.0.1", 2), ("1.0.2", 3), ("1.1", 4), ("1.0.3", 5), ("1.0.4", 6)], prefix: "MAC")

    /// `"1.0.2"` is revision A, `"1.0.2-b"` revision B (reference/v3-api.md §15).
    static let phyVersion = V3EnumType("PHYVersion", names: [
        ("PHY_UNKNOWN", 0), ("PHY_V1_0", 1), ("TS001_V1_0", 1), ("PHY_V1_0_1", 2), ("TS001_V1_0_1", 2),
        ("PHY_V1_0_2_REV_A", 3), ("RP001_V1_0_2", 3), ("PHY_V1_0_2_REV_B", 4), ("RP001_V1_0_2_REV_B", 4),
        ("PHY_V1_1_REV_A", 5), ("RP001_V1_1_REV_A", 5), ("PHY_V1_1_REV_B", 6), ("RP001_V1_1_REV_B", 6),
        ("PHY_V1_0_3_REV_A", 7), ("RP001_V1_0_3_REV_A", 7),
        ("RP002_V1_0_0", 8), ("RP002_V1_0_1", 9), ("RP002_V1_0_2", 10), ("RP002_V1_0_3", 11), ("RP002_V1_0_4", 12),
    ], aliases: [
        ("1.0", 1), ("1.0.0", 1), ("1.0.1", 2), ("1.0.2", 3), ("1.0.2-a", 3), ("1.0.2-b", 4), ("1.1-a", 5), ("1.1-b", 6),
        ("1.0.3-a", 7), ("RP002-1.0.0", 8), ("RP002-1.0.1", 9), ("RP002-1.0.2", 10), ("RP002-1.0.3", 11), ("RP002-1.0.4", 12),
    ], prefix: "PHY")

    static let locationSource = V3EnumType("LocationSource", names: [
        ("SOURCE_UNKNOWN", 0), ("SOURCE_GPS", 1), ("SOURCE_REGISTRY", 3), ("SOURCE_IP_GEOLOCATION", 4),
        ("SOURCE_WIFI_RSSI_GEOLOCATION", 5), ("SOURCE_BT_RSSI_GEOLOCATION", 6), ("SOURCE_LORA_RSSI_GEOLOCATION", 7),
        ("SOURCE_LORA_TDOA_GEOLOCATION", 8), ("SOURCE_COMBINED_GEOLOCATION", 9),
    ])

    static let antennaPlacement = V3EnumType("GatewayAntennaPlacement", names: [("PLACEMENT_UNKNOWN", 0), ("INDOOR", 1), ("OUTDOOR", 2)])

    static let downlinkPathConstraint = V3EnumType("DownlinkPathConstraint", names: [
        ("DOWNLINK_PATH_CONSTRAINT_NONE", 0), ("DOWNLINK_PATH_CONSTRAINT_PREFER_OTHER", 1), ("DOWNLINK_PATH_CONSTRAINT_NEVER", 2),
    ])

    static let payloadFormatter = V3EnumType("PayloadFormatter", names: [
        ("FORMATTER_NONE", 0), ("FORMATTER_REPOSITORY", 1), ("FORMATTER_GRPC_SERVICE", 2), ("FORMATTER_JAVASCRIPT", 3), ("FORMATTER_CAYENNELPP", 4),
    ])

    static let powerState = V3EnumType("PowerState", names: [("POWER_UNKNOWN", 0), ("POWER_BATTERY", 1), ("POWER_EXTERNAL", 2)])

    static let deviceClass = V3EnumType("Class", names: [("CLASS_A", 0), ("CLASS_B", 1), ("CLASS_C", 2)])

    static let rxDelay = V3EnumType("RxDelay", names: (0...15).map { ("RX_DELAY_\($0)", $0) }, writesNumbers: true)
    static let dataRateIndex = V3EnumType("DataRateIndex", names: (0...15).map { ("DATA_RATE_\($0)", $0) }, writesNumbers: true)
    static let dataRateOffset = V3EnumType("DataRateOffset", names: (0...7).map { ("DATA_RATE_OFFSET_\($0)", $0) }, writesNumbers: true)
}

/// How the simulator reads one field of a request body.
enum V3FieldType: Sendable {
    /// EUI (8), DevAddr (4), NetID (3), AES key (16): hex of 2N digits in any case or base64; written upper-case hex.
    case bytes(Int)
    case enumeration(V3EnumType)
    case bool
    case string
    /// uint32/uint64 as a JSON number or a decimal string.
    case unsigned
    case stringList
    /// A `Location` map value or gateway antenna list: nested enums and coordinates checked.
    case locations
    case antennas
    /// `map<string,string>`.
    case stringMap
    /// uint64 (frequencies): a JSON number or decimal string, written as a decimal string (proto3 JSON).
    case unsigned64
    /// `repeated uint64`.
    case unsignedList
    /// `google.protobuf.Duration` as JSON: a decimal number of seconds with an `s` suffix (`"0s"`, `"1.5s"`).
    case duration
    /// `repeated MACParameters.Channel`: frequencies unsigned, data-rate indexes `DataRateIndex`.
    case macChannels
}

/// One field of a message schema: its path, what kind of field it is, and its sub-fields by name.
final class V3SchemaNode: Sendable {
    let path: String
    let isWrapper: Bool
    /// A message with known sub-fields (walked field by field) rather than a leaf; the root is one.
    let isMessage: Bool
    let children: [String: V3SchemaNode]
    /// How a leaf's value is checked and normalized, if at all.
    let type: V3FieldType?

    init(path: String, isWrapper: Bool, isMessage: Bool, children: [String: V3SchemaNode], type: V3FieldType?) {
        self.path = path
        self.isWrapper = isWrapper
        self.isMessage = isMessage
        self.children = children
        self.type = type
    }
}

/// The fields of one message (end device, application, gateway, link, API key), derived from the field-mask
/// tables: the union of every RPC's allowed paths for that message plus the zero-rule sub-paths (§2).
struct V3MessageSchema: Sendable {
    let name: String
    let paths: Set<String>
    /// Parent path (`""` for the root) → child field names.
    let children: [String: Set<String>]
    /// Wrapper messages (`google.protobuf.*Value`), written as bare values in JSON (§15): paths whose only
    /// sub-path is `value`, plus the ones the tables list without it.
    let wrappers: Set<String>
    let types: [String: V3FieldType]
    /// The same fields as a tree, so that walking a request looks up each field by its name alone, not
    /// its whole path.
    let root: V3SchemaNode

    init(name: String, paths: Set<String>, extraWrappers: Set<String> = [], types: [String: V3FieldType]) {
        self.name = name
        var all = paths
        for path in paths {
            var prefix = Substring(path)
            while let dot = prefix.lastIndex(of: ".") {
                prefix = prefix[..<dot]
                all.insert(String(prefix))
            }
        }
        var children: [String: Set<String>] = [:]
        for path in all {
            if let dot = path.lastIndex(of: ".") {
                children[String(path[..<dot]), default: []].insert(String(path[path.index(after: dot)...]))
            } else {
                children["", default: []].insert(path)
            }
        }
        var wrappers = extraWrappers
        for (parent, names) in children where names == ["value"] && !parent.isEmpty {
            wrappers.insert(parent)
        }
        self.paths = all
        self.children = children
        self.wrappers = wrappers
        self.types = types
        func node(_ path: String) -> V3SchemaNode {
            let names = children[path] ?? []
            var nodes: [String: V3SchemaNode] = [:]
            for name in names { nodes[name] = node(path.isEmpty ? name : path + "." + name) }
            let isWrapper = !path.isEmpty && wrappers.contains(path)
            return V3SchemaNode(
                path: path, isWrapper: isWrapper, isMessage: path.isEmpty || (!isWrapper && !names.isEmpty), children: nodes,
                type: path.isEmpty ? nil : types[path] ?? V3MessageSchema.ruleType(path))
        }
        root = node("")
    }

    /// The path where a mask path's value lives in JSON: `mac_settings.rx1_delay.value` → `mac_settings.rx1_delay`.
    func storagePath(_ maskPath: String) -> String {
        if maskPath.hasSuffix(".value") {
            let parent = String(maskPath.dropLast(6))
            if wrappers.contains(parent) { return parent }
        }
        return maskPath
    }

    /// Whether a path is a message with known sub-fields (walked field by field) rather than a leaf.
    func isMessage(_ path: String) -> Bool {
        !wrappers.contains(path) && !(children[path]?.isEmpty ?? true)
    }

    /// Reads a request's message as the LS decoder does: snake_case or lowerCamel names, unknown fields dropped,
    /// bytes and enums normalized, wrapper values bare. Type errors are decoding errors (400, code 3, no details).
    func normalize(_ value: V3JSON) throws(V3Failure) -> V3JSON {
        try normalize(value, at: root)
    }

    private func normalize(_ value: V3JSON, at node: V3SchemaNode) throws(V3Failure) -> V3JSON {
        if value == .null { return .null }
        if node.isWrapper {
            if case .object = value {
                throw V3Failure.malformedBody("invalid value for wrapper field `\(node.path)` of \(name): give the bare value, not an object with \"value\"")
            }
            return try normalizeLeaf(value, at: node)
        }
        if node.isMessage {
            guard case .object(let fields) = value else {
                throw V3Failure.malformedBody("invalid value for field `\(node.path.isEmpty ? name : node.path)`: expected a JSON object")
            }
            var result: [String: V3JSON] = [:]
            for (key, child) in fields {
                let field = node.children[key] != nil ? key : V3MessageSchema.snakeCase(key)
                guard let childNode = node.children[field] else { continue }
                let normalized = try normalize(child, at: childNode)
                if normalized != .null { result[field] = normalized }
            }
            return .object(result)
        }
        return try normalizeLeaf(value, at: node)
    }

    private func normalizeLeaf(_ value: V3JSON, at node: V3SchemaNode) throws(V3Failure) -> V3JSON {
        guard let type = node.type else { return value }
        return try V3MessageSchema.normalize(value, as: type, at: node.path)
    }

    /// AES-128 keys are the `key` of a `KeyEnvelope` (`keys.proto`).
    private static let keyEnvelopes: Set<String> = ["app_key", "nwk_key", "f_nwk_s_int_key", "s_nwk_s_int_key", "nwk_s_enc_key", "app_s_key"]

    private static func ruleType(_ path: String) -> V3FieldType? {
        let whole = Substring(path)
        switch V3JSON.lastComponent(whole) {
        case "key":
            guard let parent = V3JSON.parentPath(whole) else { return nil }
            return keyEnvelopes.contains(String(V3JSON.lastComponent(parent))) ? .bytes(16) : nil
        case "dev_addr": return .bytes(4)
        case "dev_eui", "join_eui": return .bytes(8)
        default: return nil
        }
    }

    static func normalize(_ value: V3JSON, as type: V3FieldType, at path: String) throws(V3Failure) -> V3JSON {
        func bad(_ expected: String) -> V3Failure {
            .malformedBody("invalid value for field `\(path)`: expected \(expected)")
        }
        switch type {
        case .bytes(let count):
            guard case .string(let text) = value else { throw bad("a string of \(count * 2) hex digits") }
            if text.isEmpty { return .string("") }
            guard let bytes = V3Hex.decode(text, count: count) else {
                throw bad("\(count * 2) hex digits or base64 of \(count) bytes, got \(text.count) characters")
            }
            return .string(V3Hex.encode(bytes))
        case .enumeration(let enumType):
            guard let number = enumType.number(of: value) else { throw bad("a \(enumType.typeName) name or number") }
            return enumType.json(number)
        case .bool:
            guard case .bool = value else { throw bad("true or false") }
            return value
        case .string:
            guard case .string = value else { throw bad("a string") }
            return value
        case .unsigned:
            switch value {
            case .number(let number) where number >= 0 && number == number.rounded():
                return value
            case .string(let text):
                guard let number = UInt64(text) else { throw bad("an unsigned integer") }
                return .number(Double(number))
            default:
                throw bad("an unsigned integer")
            }
        case .stringList:
            guard case .array(let items) = value, items.allSatisfy({ $0.stringValue != nil }) else { throw bad("a list of strings") }
            return value
        case .unsigned64:
            switch value {
            case .number(let number) where number >= 0 && number == number.rounded() && number < 1.8e19:
                return .string(String(UInt64(number)))
            case .string(let text):
                guard let number = UInt64(text) else { throw bad("an unsigned integer") }
                return .string(String(number))
            default:
                throw bad("an unsigned integer")
            }
        case .unsignedList:
            guard case .array(let items) = value else { throw bad("a list of unsigned integers") }
            return .array(try items.map { item throws(V3Failure) in try normalize(item, as: .unsigned64, at: path) })
        case .duration:
            guard case .string(let text) = value, text.hasSuffix("s"), Double(text.dropLast()) != nil else {
                throw bad("a duration such as \"0s\"")
            }
            return value
        case .macChannels:
            guard case .array(let items) = value else { throw bad("a list of channels") }
            let fields: [String: V3FieldType] = [
                "uplink_frequency": .unsigned64, "downlink_frequency": .unsigned64, "enable_uplink": .bool,
                "min_data_rate_index": .enumeration(.dataRateIndex), "max_data_rate_index": .enumeration(.dataRateIndex),
            ]
            return .array(try items.map { item throws(V3Failure) in
                guard case .object(let channel) = item else { throw bad("a list of channel objects") }
                var result: [String: V3JSON] = [:]
                for (key, field) in channel {
                    let name = fields[key] != nil ? key : snakeCase(key)
                    guard let type = fields[name] else { continue }
                    result[name] = try normalize(field, as: type, at: "\(path).\(name)")
                }
                return .object(result)
            })
        case .stringMap:
            guard case .object(let fields) = value, fields.values.allSatisfy({ $0.stringValue != nil }) else {
                throw bad("an object of string values")
            }
            return value
        case .locations:
            guard case .object(let fields) = value else { throw bad("an object of locations") }
            var result: [String: V3JSON] = [:]
            for (key, location) in fields {
                result[key] = try normalizeLocation(location, at: "\(path).\(key)")
            }
            return .object(result)
        case .antennas:
            guard case .array(let items) = value else { throw bad("a list of antennas") }
            var result: [V3JSON] = []
            for (position, item) in items.enumerated() {
                guard case .object(var antenna) = item else { throw bad("a list of antenna objects") }
                antenna = antenna.filter { ["gain", "location", "attributes", "placement"].contains($0.key) }
                if let location = antenna["location"] {
                    antenna["location"] = try normalizeLocation(location, at: "\(path)[\(position)].location")
                }
                if let placement = antenna["placement"] {
                    guard let number = V3EnumType.antennaPlacement.number(of: placement) else {
                        throw V3Failure.malformedBody("invalid value for field `\(path)[\(position)].placement`: expected a GatewayAntennaPlacement name or number")
                    }
                    antenna["placement"] = V3EnumType.antennaPlacement.json(number)
                }
                if let gain = antenna["gain"], gain.numberValue == nil {
                    throw V3Failure.malformedBody("invalid value for field `\(path)[\(position)].gain`: expected a number")
                }
                result.append(.object(antenna))
            }
            return .array(result)
        }
    }

    private static func normalizeLocation(_ value: V3JSON, at path: String) throws(V3Failure) -> V3JSON {
        guard case .object(var location) = value else {
            throw V3Failure.malformedBody("invalid value for field `\(path)`: expected a location object")
        }
        location = location.filter { ["latitude", "longitude", "altitude", "accuracy", "source"].contains($0.key) }
        for key in ["latitude", "longitude", "altitude", "accuracy"] {
            if let number = location[key], number.numberValue == nil {
                throw V3Failure.malformedBody("invalid value for field `\(path).\(key)`: expected a number")
            }
        }
        if let source = location["source"] {
            guard let number = V3EnumType.locationSource.number(of: source) else {
                throw V3Failure.malformedBody("invalid value for field `\(path).source`: expected a LocationSource name or number")
            }
            location["source"] = V3EnumType.locationSource.json(number)
        }
        return .object(location)
    }

    /// `lowerCamel` → `snake_case`; digits follow the preceding letter (`supports32BitFCnt` → `supports_32_bit_f_cnt`).
    static func snakeCase(_ key: String) -> String {
        var result = ""
        var previous: Character?
        for character in key {
            if character.isUppercase {
                if !result.isEmpty { result.append("_") }
                result.append(Character(character.lowercased()))
            } else if character.isNumber, let previous, !previous.isNumber, !result.isEmpty {
                result.append("_")
                result.append(character)
            } else {
                result.append(character)
            }
            previous = character
        }
        return result
    }

    /// The paths of non-zero values in a normalized message: message fields are walked, everything else
    /// (scalars, lists, maps, wrappers) is one leaf. A wrapper holding `false`/`0` is not zero (it is set).
    func nonZeroLeaves(_ value: V3JSON) -> [String] {
        var leaves: [String] = []
        nonZeroLeaves(value, at: root, path: "", into: &leaves)
        return leaves
    }

    /// `node` is nil below the known fields: such a value is one leaf.
    private func nonZeroLeaves(_ value: V3JSON, at node: V3SchemaNode?, path: String, into leaves: inout [String]) {
        if let node, node.isWrapper {
            if value != .null { leaves.append(path) }
            return
        }
        if let node, node.isMessage, case .object(let fields) = value {
            for key in fields.keys.sorted() {
                let child = node.children[key]
                nonZeroLeaves(fields[key]!, at: child, path: child?.path ?? (path.isEmpty ? key : path + "." + key), into: &leaves)
            }
            return
        }
        if !value.isZero { leaves.append(path) }
    }

    /// A copy of `value` without zero values (what the real marshalers omit), keeping set wrappers.
    func droppingZeros(_ value: V3JSON, at path: String = "") -> V3JSON? {
        droppingZeros(value, at: node(at: path))
    }

    /// The node of a known path; nil when a part of it is not a field of the message.
    func node(at path: String) -> V3SchemaNode? {
        var current = root
        let found = V3JSON.walk(path) { name in
            guard let next = current.children[String(name)] else { return false }
            current = next
            return true
        }
        return found ? current : nil
    }

    /// `node` is nil below the known fields: such a value is kept unless it is zero.
    private func droppingZeros(_ value: V3JSON, at node: V3SchemaNode?) -> V3JSON? {
        if let node, node.isWrapper {
            return value == .null ? nil : value
        }
        if case .object(let fields) = value, let node, node.isMessage {
            var result: [String: V3JSON] = [:]
            for (key, child) in fields {
                if let kept = droppingZeros(child, at: node.children[key]) { result[key] = kept }
            }
            return result.isEmpty && !node.path.isEmpty ? nil : .object(result)
        }
        return value.isZero ? nil : value
    }
}

/// Hex and base64 for the fixed-size byte fields (pkg/types/types.go `unmarshalNBytes`, `MarshalHEXBytes`).
enum V3Hex {
    static func decode(_ text: String, count: Int) -> [UInt8]? {
        if text.utf8.count == count * 2, let bytes = hexBytes(text) { return bytes }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), data.count == count else { return nil }
        return [UInt8](data)
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            output.append(digits[Int(byte >> 4)])
            output.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// True for an all-zero hex value (`0000000000000000`) or an empty one.
    static func isZero(_ text: String?) -> Bool {
        guard let text, !text.isEmpty else { return true }
        return text.utf8.allSatisfy { $0 == UInt8(ascii: "0") }
    }
}

/// The message schemas of the simulator, built once from the tables.
struct V3Schemas: Sendable {
    let endDevice: V3MessageSchema
    let application: V3MessageSchema
    let gateway: V3MessageSchema
    let link: V3MessageSchema
    let apiKey: V3MessageSchema

    init(tables: V3Tables) {
        func union(_ services: [String], plusZero: Bool) -> Set<String> {
            var paths: Set<String> = []
            for (rpc, allowed) in tables.allowedFieldMaskPaths {
                guard let service = rpc.split(separator: "/").first.map({ String($0.split(separator: ".").last ?? "") }),
                      services.contains(service) else { continue }
                paths.formUnion(allowed)
                if plusZero, let zero = tables.zeroSubPaths[rpc] {
                    for (path, subPaths) in zero {
                        paths.insert(path)
                        paths.formUnion(subPaths)
                    }
                }
            }
            return paths
        }

        var deviceTypes: [String: V3FieldType] = [
            "ids.device_id": .string, "ids.application_ids.application_id": .string,
            "net_id": .bytes(3),
            "lorawan_version": .enumeration(.macVersion), "mac_state.lorawan_version": .enumeration(.macVersion),
            "pending_mac_state.lorawan_version": .enumeration(.macVersion),
            "lorawan_phy_version": .enumeration(.phyVersion),
            "supports_join": .bool, "supports_class_b": .bool, "supports_class_c": .bool, "multicast": .bool,
            "skip_payload_crypto": .bool, "skip_payload_crypto_override": .bool, "resets_join_nonces": .bool,
            "session.last_f_cnt_up": .unsigned, "session.last_n_f_cnt_down": .unsigned, "session.last_a_f_cnt_down": .unsigned,
            "session.last_conf_f_cnt_down": .unsigned, "last_dev_nonce": .unsigned, "last_join_nonce": .unsigned,
            "last_rj_count_0": .unsigned, "last_rj_count_1": .unsigned,
            "frequency_plan_id": .string, "name": .string, "description": .string, "serial_number": .string,
            "join_server_address": .string, "network_server_address": .string, "application_server_address": .string,
            "service_profile_id": .string, "attributes": .stringMap, "locations": .locations,
            "formatters.up_formatter": .enumeration(.payloadFormatter), "formatters.down_formatter": .enumeration(.payloadFormatter),
            "formatters.up_formatter_parameter": .string, "formatters.down_formatter_parameter": .string,
            "version_ids.brand_id": .string, "version_ids.model_id": .string, "version_ids.hardware_version": .string,
            "version_ids.firmware_version": .string, "version_ids.band_id": .string,
            "power_state": .enumeration(.powerState),
            "mac_settings.rx1_delay": .enumeration(.rxDelay), "mac_settings.desired_rx1_delay": .enumeration(.rxDelay),
            "mac_settings.resets_f_cnt": .bool, "mac_settings.supports_32_bit_f_cnt": .bool, "mac_settings.use_adr": .bool,
            "mac_settings.schedule_downlinks": .bool,
            "mac_settings.rx2_data_rate_index": .enumeration(.dataRateIndex),
            "mac_settings.desired_rx2_data_rate_index": .enumeration(.dataRateIndex),
            "mac_settings.ping_slot_data_rate_index": .enumeration(.dataRateIndex),
            "mac_settings.desired_ping_slot_data_rate_index": .enumeration(.dataRateIndex),
            "mac_settings.rx1_data_rate_offset": .enumeration(.dataRateOffset),
            "mac_settings.desired_rx1_data_rate_offset": .enumeration(.dataRateOffset),
            "mac_settings.rx2_frequency": .unsigned64, "mac_settings.desired_rx2_frequency": .unsigned64,
        ]
        for parameters in ["mac_state.current_parameters", "mac_state.desired_parameters"] {
            deviceTypes[parameters + ".rx1_delay"] = .enumeration(.rxDelay)
            deviceTypes[parameters + ".rx2_data_rate_index"] = .enumeration(.dataRateIndex)
            deviceTypes[parameters + ".rx2_frequency"] = .unsigned64
            deviceTypes[parameters + ".adr_nb_trans"] = .unsigned
            deviceTypes[parameters + ".channels"] = .macChannels
        }
        deviceTypes["mac_state.device_class"] = .enumeration(.deviceClass)
        deviceTypes["mac_settings.factory_preset_frequencies"] = .unsignedList
        deviceTypes["mac_settings.status_count_periodicity"] = .unsigned
        deviceTypes["mac_settings.status_time_periodicity"] = .duration
        deviceTypes["mac_settings.adr.mode.dynamic.min_data_rate_index"] = .enumeration(.dataRateIndex)
        deviceTypes["mac_settings.adr.mode.dynamic.max_data_rate_index"] = .enumeration(.dataRateIndex)
        endDevice = V3MessageSchema(
            name: "end_device",
            paths: union(["EndDeviceRegistry", "JsEndDeviceRegistry", "NsEndDeviceRegistry", "AsEndDeviceRegistry"], plusZero: true),
            // Wrappers the tables list without `.value`: kept when zero (`UInt32Value{0}` is written as 0).
            extraWrappers: ["skip_payload_crypto_override", "mac_settings.status_count_periodicity"],
            types: deviceTypes
        )

        let entityTypes: [String: V3FieldType] = [
            "name": .string, "description": .string, "attributes": .stringMap,
            "join_server_address": .string, "network_server_address": .string, "application_server_address": .string,
        ]
        var applicationTypes = entityTypes
        applicationTypes["ids.application_id"] = .string
        application = V3MessageSchema(name: "application", paths: union(["ApplicationRegistry"], plusZero: false), types: applicationTypes)

        var gatewayTypes = entityTypes
        gatewayTypes.merge([
            "ids.gateway_id": .string, "ids.eui": .bytes(8),
            "gateway_server_address": .string, "auto_update": .bool, "update_channel": .string,
            "frequency_plan_id": .string, "frequency_plan_ids": .stringList, "antennas": .antennas,
            "status_public": .bool, "location_public": .bool, "schedule_downlink_late": .bool, "enforce_duty_cycle": .bool,
            "update_location_from_status": .bool, "require_authenticated_connection": .bool,
            "disable_packet_broker_forwarding": .bool, "lrfhss.supported": .bool,
            "downlink_path_constraint": .enumeration(.downlinkPathConstraint), "schedule_anytime_delay": .string,
            "version_ids.brand_id": .string, "version_ids.model_id": .string, "version_ids.hardware_version": .string,
            "version_ids.firmware_version": .string, "version_ids.runtime_version": .string,
        ]) { $1 }
        gateway = V3MessageSchema(name: "gateway", paths: union(["GatewayRegistry"], plusZero: false), types: gatewayTypes)

        link = V3MessageSchema(
            name: "link",
            paths: union(["As"], plusZero: false),
            extraWrappers: ["skip_payload_crypto"],
            types: [
                "default_formatters.up_formatter": .enumeration(.payloadFormatter),
                "default_formatters.down_formatter": .enumeration(.payloadFormatter),
                "default_formatters.up_formatter_parameter": .string, "default_formatters.down_formatter_parameter": .string,
                "skip_payload_crypto": .bool, "network_server_address": .string, "api_key": .string,
            ]
        )

        apiKey = V3MessageSchema(name: "api_key", paths: union(["ApplicationAccess", "GatewayAccess"], plusZero: false),
                                 types: ["name": .string, "id": .string, "expires_at": .string])
    }
}
