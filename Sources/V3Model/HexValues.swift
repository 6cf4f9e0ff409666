import Foundation

/// Fixed-length byte values of the v3 API written as hex: EUIs, DevAddrs and AES keys.
///
/// v3 writes them as upper-case hex (`reference/v3-api.md` §1, §8.2) and reads hex of exactly twice
/// the byte count in any case. Values of this module are always upper-case.
public protocol V3HexValue: Codable, Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Number of bytes of the value.
    static var byteCount: Int { get }
    /// What the value is called in error messages.
    static var kindName: String { get }
    /// Whether the value is a secret: never printed, hidden when encoding with `CodingUserInfoKey.redactSecrets`.
    static var isSecret: Bool { get }
    /// Upper-case hex of exactly `2 × byteCount` characters.
    var hex: String { get }
    /// Wraps hex already checked to be `2 × byteCount` upper-case hex digits.
    init(validatedHex: String)
}

/// Why a text is not a valid hex value. Never shows the text of a secret.
public struct V3HexError: Error, CustomStringConvertible, Sendable {
    /// What was parsed (`EUI`, `DevAddr`, `AES key`).
    public let kind: String
    public let expectedLength: Int
    public let actualLength: Int
    public let hasNonHex: Bool
    /// The offending text, only for values that are not secret.
    public let shown: String?

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

extension CodingUserInfoKey {
    /// Set to `true` in an encoder's `userInfo` to write secrets (device keys, API key secrets) as
    /// `V3Redaction.placeholder` instead of their value: used by every rendering meant for people or files.
    public static let redactSecrets = CodingUserInfoKey(rawValue: "ttn-migrate.redact-secrets")!
}

/// How secrets appear in redacted encodings and descriptions.
public enum V3Redaction {
    /// The text written in place of a secret.
    public static let placeholder = "<hidden>"

    /// Whether the encoder was asked to hide secrets.
    public static func isRequested(by encoder: any Encoder) -> Bool {
        (encoder.userInfo[.redactSecrets] as? Bool) == true
    }
}

extension V3HexValue {
    /// Parses hex of the exact length in any case; the value keeps it upper-case.
    public init(hex text: String) throws(V3HexError) {
        let expected = Self.byteCount * 2
        let isHex = text.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "0"..."9", "a"..."f", "A"..."F": return true
            default: return false
            }
        }
        guard isHex, text.utf8.count == expected else {
            throw V3HexError(
                kind: Self.kindName, expectedLength: expected, actualLength: text.count, hasNonHex: !isHex,
                shown: Self.isSecret ? nil : String(text.prefix(40)))
        }
        self.init(validatedHex: text.uppercased())
    }

    /// Whether every byte is zero.
    public var isZero: Bool { hex.utf8.allSatisfy { $0 == UInt8(ascii: "0") } }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.hex < rhs.hex }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(hex: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if Self.isSecret && V3Redaction.isRequested(by: encoder) {
            try container.encode(V3Redaction.placeholder)
        } else {
            try container.encode(hex)
        }
    }
}

/// A 64-bit EUI: DevEUI, JoinEUI or gateway EUI (`reference/v3-api.md` §8.2).
public struct V3EUI: V3HexValue {
    public static let byteCount = 8
    public static let kindName = "EUI"
    public static let isSecret = false
    public let hex: String
    public init(validatedHex: String) { hex = validatedHex }
    public var description: String { hex }
    /// The all-zero EUI, which v3 treats as unset.
    public static let zero = V3EUI(validatedHex: "0000000000000000")
}

/// A 32-bit LoRaWAN device address.
public struct V3DevAddr: V3HexValue {
    public static let byteCount = 4
    public static let kindName = "DevAddr"
    public static let isSecret = false
    public let hex: String
    public init(validatedHex: String) { hex = validatedHex }
    public var description: String { hex }
}

/// A 128-bit AES key (AppKey, FNwkSIntKey, AppSKey). Its description is redacted; see `V3Redaction`.
public struct V3AESKey: V3HexValue, CustomDebugStringConvertible {
    public static let byteCount = 16
    public static let kindName = "AES key"
    public static let isSecret = true
    public let hex: String
    public init(validatedHex: String) { hex = validatedHex }
    public var description: String { "<redacted key>" }
    public var debugDescription: String { description }
}

/// A secret string (a v3 API key as returned once by CreateAPIKey). Never printed; hidden in redacted encodings.
public struct V3Secret: Codable, Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The secret itself; only the journal and the `keys` export may store it.
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "<redacted>" }
    public var debugDescription: String { description }

    public init(from decoder: any Decoder) throws {
        value = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(V3Redaction.isRequested(by: encoder) ? V3Redaction.placeholder : value)
    }
}
