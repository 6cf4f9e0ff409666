import Foundation

/// Encodes a value straight to a `V3JSONValue`: the value `JSONBodyEncoder`'s text parses to, without the
/// text in between.
///
/// `diff` turns every step of a plan into the JSON v3 speaks to compare it with what v3 holds; writing
/// 400,000 payloads as text and parsing them again was a tenth of its CPU on a large estate. Like
/// `JSONBodyEncoder`, `Date`, `Data` and `URL` get no special forms, and a value that encodes nothing is
/// `{}` inside another and an error at the top, as with `JSONEncoder`. Numbers are what parsing the written text gives: a `Float` through its
/// shortest decimal form; NaN and infinities are refused.
public struct JSONValueEncoder: Sendable {
    public init() {}

    /// The JSON value of `value`.
    public func encode<T: Encodable>(_ value: T) throws -> V3JSONValue {
        let root = JSONValueSlot()
        try value.encode(to: JSONTreeEncoder(slot: root))
        if case .empty = root.content {
            throw EncodingError.invalidValue(
                "", EncodingError.Context(codingPath: [], debugDescription: "the top-level value encoded nothing"))
        }
        return root.value()
    }
}

/// One value being built: nothing yet, a scalar, or an object or array of further slots.
final class JSONValueSlot {
    enum Content {
        case empty
        case scalar(V3JSONValue)
        case object([(key: String, slot: JSONValueSlot)])
        case array([JSONValueSlot])
    }

    var content: Content = .empty

    /// The finished value; a later member with the same key wins, as when parsing.
    func value() -> V3JSONValue {
        switch content {
        case .empty: return .object([:])
        case .scalar(let value): return value
        case .object(let members):
            var fields: [String: V3JSONValue] = [:]
            fields.reserveCapacity(members.count)
            for member in members { fields[member.key] = member.slot.value() }
            return .object(fields)
        case .array(let items): return .array(items.map { $0.value() })
        }
    }

    /// A new slot for the member `key`, this slot becoming an object if it was not one.
    func member(_ key: String) -> JSONValueSlot {
        let slot = JSONValueSlot()
        if case .object(var members) = content {
            content = .empty
            members.append((key, slot))
            content = .object(members)
        } else {
            content = .object([(key, slot)])
        }
        return slot
    }

    /// A new slot for the next element, this slot becoming an array if it was not one.
    func element() -> JSONValueSlot {
        let slot = JSONValueSlot()
        if case .array(var items) = content {
            content = .empty
            items.append(slot)
            content = .array(items)
        } else {
            content = .array([slot])
        }
        return slot
    }

    /// Makes this slot an (empty) object or array unless it already is one.
    func open(asObject: Bool) {
        switch (content, asObject) {
        case (.object, true), (.array, false): return
        default: content = asObject ? .object([]) : .array([])
        }
    }

    var count: Int {
        switch content {
        case .array(let items): return items.count
        case .object(let members): return members.count
        default: return 0
        }
    }

    /// Encodes `value` into this slot with its own encoder.
    func fill(with value: some Encodable) throws {
        try value.encode(to: JSONTreeEncoder(slot: self))
    }

    static func number<T: BinaryFloatingPoint & LosslessStringConvertible>(_ value: T) throws -> V3JSONValue {
        guard value.isFinite, let number = Double(value.description) else {
            throw EncodingError.invalidValue(value, EncodingError.Context(codingPath: [], debugDescription: "\(value) is not a JSON number"))
        }
        return .number(number)
    }
}

/// The `Encoder` of one slot.
struct JSONTreeEncoder: Encoder {
    let slot: JSONValueSlot

    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        slot.open(asObject: true)
        return KeyedEncodingContainer(JSONTreeKeyedContainer<Key>(slot: slot))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        slot.open(asObject: false)
        return JSONTreeUnkeyedContainer(slot: slot)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { JSONTreeSingleValueContainer(slot: slot) }
}

struct JSONTreeKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let slot: JSONValueSlot

    var codingPath: [any CodingKey] { [] }

    private func set(_ value: V3JSONValue, _ key: Key) { slot.member(key.stringValue).content = .scalar(value) }

    mutating func encodeNil(forKey key: Key) throws { set(.null, key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { set(.bool(value), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { set(.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { set(try JSONValueSlot.number(value), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { set(try JSONValueSlot.number(value), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { set(.number(Double(value)), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { set(.number(Double(value)), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { set(.number(Double(value)), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { set(.number(Double(value)), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { set(.number(Double(value)), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { set(.number(Double(value)), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { set(.number(Double(value)), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { set(.number(Double(value)), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { set(.number(Double(value)), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { set(.number(Double(value)), key) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try slot.member(key.stringValue).fill(with: value)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        JSONTreeEncoder(slot: slot.member(key.stringValue)).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        JSONTreeEncoder(slot: slot.member(key.stringValue)).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { JSONTreeEncoder(slot: slot.member("super")) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { JSONTreeEncoder(slot: slot.member(key.stringValue)) }
}

struct JSONTreeUnkeyedContainer: UnkeyedEncodingContainer {
    let slot: JSONValueSlot

    var codingPath: [any CodingKey] { [] }
    var count: Int { slot.count }

    private func append(_ value: V3JSONValue) { slot.element().content = .scalar(value) }

    mutating func encodeNil() throws { append(.null) }
    mutating func encode(_ value: Bool) throws { append(.bool(value)) }
    mutating func encode(_ value: String) throws { append(.string(value)) }
    mutating func encode(_ value: Double) throws { append(try JSONValueSlot.number(value)) }
    mutating func encode(_ value: Float) throws { append(try JSONValueSlot.number(value)) }
    mutating func encode(_ value: Int) throws { append(.number(Double(value))) }
    mutating func encode(_ value: Int8) throws { append(.number(Double(value))) }
    mutating func encode(_ value: Int16) throws { append(.number(Double(value))) }
    mutating func encode(_ value: Int32) throws { append(.number(Double(value))) }
    mutating func encode(_ value: Int64) throws { append(.number(Double(value))) }
    mutating func encode(_ value: UInt) throws { append(.number(Double(value))) }
    mutating func encode(_ value: UInt8) throws { append(.number(Double(value))) }
    mutating func encode(_ value: UInt16) throws { append(.number(Double(value))) }
    mutating func encode(_ value: UInt32) throws { append(.number(Double(value))) }
    mutating func encode(_ value: UInt64) throws { append(.number(Double(value))) }

    mutating func encode<T: Encodable>(_ value: T) throws { try slot.element().fill(with: value) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        JSONTreeEncoder(slot: slot.element()).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        JSONTreeEncoder(slot: slot.element()).unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { JSONTreeEncoder(slot: slot.element()) }
}

struct JSONTreeSingleValueContainer: SingleValueEncodingContainer {
    let slot: JSONValueSlot

    var codingPath: [any CodingKey] { [] }

    private func set(_ value: V3JSONValue) { slot.content = .scalar(value) }

    mutating func encodeNil() throws { set(.null) }
    mutating func encode(_ value: Bool) throws { set(.bool(value)) }
    mutating func encode(_ value: String) throws { set(.string(value)) }
    mutating func encode(_ value: Double) throws { set(try JSONValueSlot.number(value)) }
    mutating func encode(_ value: Float) throws { set(try JSONValueSlot.number(value)) }
    mutating func encode(_ value: Int) throws { set(.number(Double(value))) }
    mutating func encode(_ value: Int8) throws { set(.number(Double(value))) }
    mutating func encode(_ value: Int16) throws { set(.number(Double(value))) }
    mutating func encode(_ value: Int32) throws { set(.number(Double(value))) }
    mutating func encode(_ value: Int64) throws { set(.number(Double(value))) }
    mutating func encode(_ value: UInt) throws { set(.number(Double(value))) }
    mutating func encode(_ value: UInt8) throws { set(.number(Double(value))) }
    mutating func encode(_ value: UInt16) throws { set(.number(Double(value))) }
    mutating func encode(_ value: UInt32) throws { set(.number(Double(value))) }
    mutating func encode(_ value: UInt64) throws { set(.number(Double(value))) }

    mutating func encode<T: Encodable>(_ value: T) throws { try slot.fill(with: value) }
}
