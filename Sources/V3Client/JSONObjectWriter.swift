import Foundation

/// A value that writes itself as the members of a JSON object, without the braces.
///
/// The device registry bodies are most of a migration's requests. Through `Encodable` each of their
/// keyed containers is boxed and has its generic metadata looked up: 25 µs of a request's client CPU at
/// 64 in flight (issue 12's profile). The device types write themselves with `JSONObjectWriter`
/// instead (`DeviceBodies.swift`), to the same JSON value as their `Encodable` conformance, which
/// `DeviceBodyWritingTests` checks with every field set.
public protocol JSONMembersWritable {
    /// Writes this value's members into the object `writer` has open.
    func writeMembers(to writer: inout JSONObjectWriter)
}

/// Writes a JSON object member by member straight to bytes; absent optionals are left out.
///
/// Keys are written as given, escaped like any string. Numbers are written as `JSONBodyEncoder` writes
/// them (`JSONText`), 64-bit integers as decimal strings where proto3 JSON asks for them
/// (`reference/v3-api.md` §1).
public struct JSONObjectWriter {
    private var bytes: [UInt8] = []
    /// Whether the innermost open container has no member yet.
    private var isEmpty = true
    private var failure: String?

    private init(capacity: Int) { bytes.reserveCapacity(capacity) }

    /// The JSON text of the object whose members `write` writes; throws if a number was not finite.
    public static func object(capacity: Int = 1024, _ write: (inout JSONObjectWriter) -> Void) throws -> Data {
        var writer = JSONObjectWriter(capacity: capacity)
        writer.bytes.append(UInt8(ascii: "{"))
        write(&writer)
        writer.bytes.append(UInt8(ascii: "}"))
        if let failure = writer.failure {
            throw EncodingError.invalidValue(failure, EncodingError.Context(codingPath: [], debugDescription: failure))
        }
        return Data(writer.bytes)
    }

    /// The object of `value`'s members.
    public static func object(_ value: some JSONMembersWritable) throws -> Data {
        try object { value.writeMembers(to: &$0) }
    }

    private mutating func separate() {
        if !isEmpty { bytes.append(UInt8(ascii: ",")) }
        isEmpty = false
    }

    private mutating func key(_ key: String) {
        separate()
        JSONText.appendString(key, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    public mutating func string(_ key: String, _ value: String?) {
        guard let value else { return }
        self.key(key)
        JSONText.appendString(value, to: &bytes)
    }

    public mutating func bool(_ key: String, _ value: Bool?) {
        guard let value else { return }
        self.key(key)
        JSONText.appendLiteral(value ? "true" : "false", to: &bytes)
    }

    public mutating func integer(_ key: String, _ value: (some BinaryInteger)?) {
        guard let value else { return }
        self.key(key)
        JSONText.appendInteger(value, to: &bytes)
    }

    public mutating func number(_ key: String, _ value: Double?) {
        guard let value else { return }
        self.key(key)
        if !JSONText.appendFloatingPoint(value, to: &bytes), failure == nil { failure = "\(key): \(value) is not a JSON number" }
    }

    /// A 64-bit integer as a decimal string, as proto3 JSON writes `uint64` fields.
    public mutating func decimalString(_ key: String, _ value: UInt64?) {
        guard let value else { return }
        self.key(key)
        bytes.append(UInt8(ascii: "\""))
        JSONText.appendInteger(value, to: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// An array of 64-bit integers, each a decimal string.
    public mutating func decimalStrings(_ key: String, _ values: [UInt64]?) {
        guard let values else { return }
        array(key, values) { bytes, value in
            bytes.append(UInt8(ascii: "\""))
            JSONText.appendInteger(value, to: &bytes)
            bytes.append(UInt8(ascii: "\""))
        }
    }

    public mutating func strings(_ key: String, _ values: [String]?) {
        guard let values else { return }
        array(key, values) { JSONText.appendString($1, to: &$0) }
    }

    /// An object of strings, in the dictionary's order (JSON objects have none).
    public mutating func stringMap(_ key: String, _ values: [String: String]?) {
        guard let values else { return }
        object(key) { writer in
            for (name, value) in values { writer.string(name, value) }
        }
    }

    /// A nested object whose members `write` writes.
    public mutating func object(_ key: String, _ write: (inout JSONObjectWriter) -> Void) {
        self.key(key)
        bytes.append(UInt8(ascii: "{"))
        isEmpty = true
        write(&self)
        bytes.append(UInt8(ascii: "}"))
        isEmpty = false
    }

    /// A nested object of `value`'s members, when there is a value.
    public mutating func object(_ key: String, _ value: (some JSONMembersWritable)?) {
        guard let value else { return }
        object(key) { value.writeMembers(to: &$0) }
    }

    /// An object of objects, in the dictionary's order.
    public mutating func objectMap(_ key: String, _ values: [String: some JSONMembersWritable]?) {
        guard let values else { return }
        object(key) { writer in
            for (name, value) in values { writer.object(name, value) }
        }
    }

    /// An array of objects, each of one element's members.
    public mutating func objects<Element: JSONMembersWritable>(_ key: String, _ values: [Element]) {
        self.key(key)
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            bytes.append(UInt8(ascii: "{"))
            isEmpty = true
            value.writeMembers(to: &self)
            bytes.append(UInt8(ascii: "}"))
        }
        bytes.append(UInt8(ascii: "]"))
        isEmpty = false
    }

    private mutating func array<Element>(_ key: String, _ values: [Element], element: (inout [UInt8], Element) -> Void) {
        self.key(key)
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            element(&bytes, value)
        }
        bytes.append(UInt8(ascii: "]"))
    }
}

/// The JSON text of scalars (RFC 8259 §6, §7), shared by `JSONBodyEncoder` and `JSONObjectWriter`.
enum JSONText {
    static func appendString(_ string: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        // Most strings (keys, IDs, EUIs) need no escape: copied as one block, not byte by byte.
        let copied: Bool? = string.utf8.withContiguousStorageIfAvailable { utf8 in
            guard !utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) else { return false }
            bytes.append(contentsOf: utf8)
            return true
        }
        if copied == true {
            bytes.append(UInt8(ascii: "\""))
            return
        }
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0x0F)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// The decimal digits of `value`, with a minus sign when negative; no allocation.
    static func appendInteger<T: BinaryInteger>(_ value: T, to bytes: inout [UInt8]) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = UInt64(value.magnitude)
        guard magnitude > 0 else {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var count = 0
            while magnitude > 0 {
                digits[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            }
            for index in stride(from: count - 1, through: 0, by: -1) { bytes.append(digits[index]) }
        }
    }

    /// A finite number as `JSONEncoder` writes it: `3` for 3.0, `0.5`, `1e-07`; false (nothing written)
    /// for NaN and infinities.
    static func appendFloatingPoint<T: BinaryFloatingPoint & LosslessStringConvertible>(_ value: T, to bytes: inout [UInt8]) -> Bool {
        guard value.isFinite else { return false }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
        return true
    }

    static func appendLiteral(_ literal: StaticString, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }
}
