import Foundation

/// Fixed-length hexadecimal values of the v2 APIs: EUIs, DevAddrs and AES keys.
///
/// v2 writes them as upper-case hex without separators and writes a zero value as `""`
/// (`reference/v2-and-peers.md` §A.5), so an empty string decodes to `nil` in the enclosing type.
public protocol V2HexValue: Codable, Hashable, Sendable, CustomStringConvertible {
    /// Number of bytes of the value.
    static var byteCount: Int { get }
    /// What the value is called in error messages.
    static var kindName: String { get }
    /// Whether the value is key material: never shown in messages.
    static var isSecret: Bool { get }
    /// Upper-case hex of exactly `2 × byteCount` characters.
    var hex: String { get }
    init(validatedHex: String)
}

/// Why a hexadecimal string is not a valid value.
public struct V2HexError: Error, CustomStringConvertible, Sendable {
    public let kind: String
    public let expectedLength: Int
    public let actualLength: Int
    public let hasNonHex: Bool
    /// Whether the offending text may be printed (never for keys).
    let shown: String?

    public var description: String {
        var text = "invalid \(kind)"
        if let shown { text += " \"\(shown)\"" }
        if hasNonHex {
            text += ": not hexadecimal"
        } else {
            text += ": \(actualLength) hex digits, expected \(expectedLength)"
        }
        return text
    }
}

extension V2HexValue {
    /// Parses hex of the exact length (any case); the result is upper-case.
    public init(hex text: String) throws {
        let expected = Self.byteCount * 2
        let isHex = text.allSatisfy { $0.isHexDigit && $0.isASCII }
        guard isHex, text.count == expected else {
            throw V2HexError(
                kind: Self.kindName, expectedLength: expected, actualLength: text.count, hasNonHex: !isHex,
                shown: Self.isSecret ? nil : String(text.prefix(40)))
        }
        self.init(validatedHex: text.uppercased())
    }

    /// Whether every byte is zero.
    public var isZero: Bool { hex.allSatisfy { $0 == "0" } }

    public static var isSecret: Bool { false }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(hex: text)
        } catch let error as V2HexError {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}

/// A 64-bit extended unique identifier (DevEUI, AppEUI/JoinEUI, gateway EUI).
public struct V2EUI: V2HexValue {
    public static let byteCount = 8
    public static let kindName = "EUI"
    public let hex: String
    public init(validatedHex: String) { hex = validatedHex }
    public var description: String { hex }
}

/// A 32-bit LoRaWAN device address.
public struct V2DevAddr: V2HexValue {
    public static let byteCount = 4
    public static let kindName = "DevAddr"
    public let hex: String
    public init(validatedHex: String) { hex = validatedHex }
    public var description: String { hex }
}

/// A 128-bit AES key (AppKey, NwkSKey, AppSKey). Never printed: its description is redacted.
public struct V2AESKey: V2HexValue, CustomDebugStringConvertible {
    public static let byteCount = 16
    public static let kindName = "AES key"
    public static var isSecret: Bool { true }
    public let hex: String
    public init(validatedHex: String) { hex = validatedHex }
    public var description: String { "<redacted key>" }
    public var debugDescription: String { description }
}

/// A secret string (v2 access keys, tokens). Encodes its value but never prints it.
public struct V2Secret: Codable, Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "<redacted>" }
    public var debugDescription: String { description }
    public init(from decoder: any Decoder) throws {
        value = try decoder.singleValueContainer().decode(String.self)
    }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

extension KeyedDecodingContainer {
    /// Decodes an optional hex value where v2 writes the zero value as `""` (absent → nil, `""` → nil).
    func decodeHexIfPresent<T: V2HexValue>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let text = try decodeIfPresent(String.self, forKey: key), !text.isEmpty else { return nil }
        do {
            return try T(hex: text)
        } catch let error as V2HexError {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: error.description)
        }
    }
}

extension KeyedDecodingContainer {
    /// Decodes an optional 32-bit frame counter. A negative or too large number is an error naming the key
    /// and the value: Foundation's own error for an out-of-range number names neither ("not valid JSON").
    func decodeFrameCounterIfPresent(forKey key: Key) throws -> UInt32? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        if let counter = try? decode(UInt32.self, forKey: key) { return counter }
        if let number = try? decode(Double.self, forKey: key) {
            let shown = number.rounded() == number && abs(number) < 1e18 ? String(Int64(number)) : String(number)
            throw DecodingError.dataCorruptedError(
                forKey: key, in: self, debugDescription: "\(shown) is not a frame counter (a whole number from 0 to 4294967295)")
        }
        return try decode(UInt32.self, forKey: key)
    }
}
