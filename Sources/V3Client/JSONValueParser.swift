import Foundation

/// Why a v3 answer is not JSON: the byte offset and what was expected there.
public struct JSONValueParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var expected: String

    public init(offset: Int, expected: String) {
        self.offset = offset
        self.expected = expected
    }

    public var description: String { "invalid JSON at byte \(offset): expected \(expected)" }
}

/// Parses JSON (RFC 8259) straight into `V3JSONValue`.
///
/// A diff reads thousands of records; decoding them through `Decodable` tries each JSON type in turn and
/// costs about 20 times as much, so the reader parses with this instead.
public enum JSONValueParser {
    /// The value of a whole document; white space around it is allowed, anything else after it is not.
    public static func parse(_ data: Data) throws(JSONValueParseError) -> V3JSONValue {
        var parser = Parser(bytes: [UInt8](data))
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == parser.bytes.count else { throw JSONValueParseError(offset: parser.index, expected: "the end of the document") }
        return value
    }

    /// Whether the whole document is a JSON object, checked as `parse` would without building its value:
    /// the executor checks every v3 answer this way (issue 12's profile: 3 % of the client's CPU when built).
    public static func isObject(_ data: Data) -> Bool {
        var parser = Parser(bytes: [UInt8](data))
        parser.skipWhitespace()
        guard parser.index < parser.bytes.count, parser.bytes[parser.index] == UInt8(ascii: "{") else { return false }
        do {
            try parser.skipValue(depth: 0)
        } catch {
            return false
        }
        parser.skipWhitespace()
        return parser.index == parser.bytes.count
    }

    /// Deepest nesting accepted (v3 records nest a handful of levels).
    static let maxDepth = 512

    struct Parser {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        func fail(_ expected: String) -> JSONValueParseError { JSONValueParseError(offset: index, expected: expected) }

        mutating func value(depth: Int) throws(JSONValueParseError) -> V3JSONValue {
            guard depth < JSONValueParser.maxDepth else { throw fail("less nesting") }
            guard index < bytes.count else { throw fail("a value") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw fail("a value")
            }
        }

        mutating func literal(_ word: String) throws(JSONValueParseError) {
            for byte in word.utf8 {
                guard index < bytes.count, bytes[index] == byte else { throw fail("`\(word)`") }
                index += 1
            }
        }

        mutating func object(depth: Int) throws(JSONValueParseError) -> V3JSONValue {
            index += 1
            var fields: [String: V3JSONValue] = [:]
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(fields)
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("a member name") }
                let key = try string()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("`:`") }
                index += 1
                skipWhitespace()
                fields[key] = try value(depth: depth + 1)
                skipWhitespace()
                guard index < bytes.count else { throw fail("`,` or `}`") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(fields) }
                throw fail("`,` or `}`")
            }
        }

        mutating func array(depth: Int) throws(JSONValueParseError) -> V3JSONValue {
            index += 1
            var items: [V3JSONValue] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(items)
            }
            while true {
                skipWhitespace()
                items.append(try value(depth: depth + 1))
                skipWhitespace()
                guard index < bytes.count else { throw fail("`,` or `]`") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(items) }
                throw fail("`,` or `]`")
            }
        }

        mutating func number() throws(JSONValueParseError) -> Double {
            let start = index
            try scanNumber()
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            guard let number = Double(text) else { throw JSONValueParseError(offset: start, expected: "a number") }
            return number
        }

        /// Moves past a number (RFC 8259 §6).
        mutating func scanNumber() throws(JSONValueParseError) {
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("a digit") }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else {
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard index < bytes.count, isDigit(bytes[index]) else { throw fail("a digit after `.`") }
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard index < bytes.count, isDigit(bytes[index]) else { throw fail("a digit in the exponent") }
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
        }

        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

        mutating func string() throws(JSONValueParseError) -> String {
            index += 1
            // Most strings have no escape: they are one run of bytes, decoded once.
            var text = ""
            var runStart = index
            func flush(_ end: Int) {
                guard end > runStart else { return }
                let run = String(decoding: bytes[runStart..<end], as: UTF8.self)
                if text.isEmpty { text = run } else { text += run }
            }
            while true {
                guard index < bytes.count else { throw fail("the end of a string") }
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    flush(index)
                    index += 1
                    return text
                }
                if byte < 0x20 { throw fail("no control character in a string") }
                if byte != UInt8(ascii: "\\") {
                    index += 1
                    continue
                }
                flush(index)
                index += 1
                guard index < bytes.count else { throw fail("an escape") }
                let escape = bytes[index]
                index += 1
                var scalars = String.UnicodeScalarView()
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"): scalars.append(try unicodeEscape())
                default:
                    throw fail("a valid escape")
                }
                text += String(scalars)
                runStart = index
            }
        }

        /// The scalar of a `\uXXXX` escape (a surrogate pair takes two), after its `u`.
        mutating func unicodeEscape() throws(JSONValueParseError) -> Unicode.Scalar {
            var code = try hex4()
            if (0xD800...0xDBFF).contains(code) {
                // A high surrogate must be followed by `\u` and a low one.
                guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw fail("a low surrogate")
                }
                index += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw fail("a low surrogate") }
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let scalar = Unicode.Scalar(code) else { throw fail("a Unicode scalar") }
            return scalar
        }

        /// Moves past any value, checking it as `value(depth:)` does, without building it.
        mutating func skipValue(depth: Int) throws(JSONValueParseError) {
            guard depth < JSONValueParser.maxDepth else { throw fail("less nesting") }
            guard index < bytes.count else { throw fail("a value") }
            switch bytes[index] {
            case UInt8(ascii: "{"): try skipMembers(depth: depth, close: UInt8(ascii: "}"))
            case UInt8(ascii: "["): try skipMembers(depth: depth, close: UInt8(ascii: "]"))
            case UInt8(ascii: "\""): try skipString()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try scanNumber()
            default: throw fail("a value")
            }
        }

        /// Moves past an object (`close` is `}`: named members) or an array (`]`).
        mutating func skipMembers(depth: Int, close: UInt8) throws(JSONValueParseError) {
            let named = close == UInt8(ascii: "}")
            index += 1
            skipWhitespace()
            if index < bytes.count, bytes[index] == close {
                index += 1
                return
            }
            while true {
                skipWhitespace()
                if named {
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("a member name") }
                    try skipString()
                    skipWhitespace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("`:`") }
                    index += 1
                    skipWhitespace()
                }
                try skipValue(depth: depth + 1)
                skipWhitespace()
                guard index < bytes.count else { throw fail(named ? "`,` or `}`" : "`,` or `]`") }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                if bytes[index] == close { index += 1; return }
                throw fail(named ? "`,` or `}`" : "`,` or `]`")
            }
        }

        /// Moves past a string, checking its escapes as `string()` does.
        mutating func skipString() throws(JSONValueParseError) {
            index += 1
            while true {
                guard index < bytes.count else { throw fail("the end of a string") }
                let byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\"") { return }
                if byte < 0x20 { throw fail("no control character in a string") }
                guard byte == UInt8(ascii: "\\") else { continue }
                guard index < bytes.count else { throw fail("an escape") }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
                     UInt8(ascii: "r"), UInt8(ascii: "t"):
                    continue
                case UInt8(ascii: "u"): _ = try unicodeEscape()
                default: throw fail("a valid escape")
                }
            }
        }

        mutating func hex4() throws(JSONValueParseError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw fail("four hex digits") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: throw fail("four hex digits")
                }
                value = value << 4 | digit
                index += 1
            }
            return value
        }
    }
}
