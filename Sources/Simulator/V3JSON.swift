import Foundation

/// A JSON value as the v3 simulator stores and answers it: Sendable, comparable, written with sorted keys.
///
/// The simulator keeps every registry entry as a `V3JSON` object so that field masks, read from the reference
/// tables, can be applied path by path without a hand-written model per message.
public enum V3JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([V3JSON])
    case object([String: V3JSON])

    /// The dictionary of an object value, else nil.
    public var objectValue: [String: V3JSON]? {
        if case .object(let fields) = self { return fields }
        return nil
    }

    /// The string of a string value, else nil.
    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The array of an array value, else nil.
    public var arrayValue: [V3JSON]? {
        if case .array(let items) = self { return items }
        return nil
    }

    /// The bool of a bool value, else nil.
    public var boolValue: Bool? {
        if case .bool(let flag) = self { return flag }
        return nil
    }

    /// The number of a number value, else nil.
    public var numberValue: Double? {
        if case .number(let number) = self { return number }
        return nil
    }

    /// True for the proto3 zero values the real marshalers omit: null, false, 0, "", [] and {}.
    public var isZero: Bool {
        switch self {
        case .null: return true
        case .bool(let flag): return !flag
        case .number(let number): return number == 0
        case .string(let text): return text.isEmpty
        case .array(let items): return items.isEmpty
        case .object(let fields): return fields.isEmpty
        }
    }

    /// The value at a dotted path (`"session.keys.app_s_key.key"`), or nil when any step is missing.
    public subscript(path path: String) -> V3JSON? {
        var current = self
        let found = V3JSON.walk(path) { key in
            guard case .object(let fields) = current, let next = fields[String(key)] else { return false }
            current = next
            return true
        }
        return found ? current : nil
    }

    /// Calls `step` with each dotted component of `path` in order while it returns true; whether every one did.
    ///
    /// Dots are ASCII, so searching the UTF-8 bytes finds them without walking grapheme clusters.
    static func walk(_ path: String, _ step: (Substring) -> Bool) -> Bool {
        var rest = Substring(path)
        while !rest.isEmpty {
            let dot = rest.utf8.firstIndex(of: UInt8(ascii: "."))
            guard step(dot.map { rest[..<$0] } ?? rest) else { return false }
            rest = dot.map { rest[rest.utf8.index(after: $0)...] } ?? ""
        }
        return true
    }

    /// Whether `path` is `ancestor` or lies under it (`"a.b"` is within `"a"`; `"ab"` is not).
    static func isPath(_ path: some StringProtocol, within ancestor: some StringProtocol) -> Bool {
        let inner = path.utf8, outer = ancestor.utf8
        guard inner.count >= outer.count, inner.starts(with: outer) else { return false }
        guard inner.count > outer.count else { return true }
        return inner[inner.index(inner.startIndex, offsetBy: outer.count)] == UInt8(ascii: ".")
    }

    /// The path without its last component (`"a.b.c"` → `"a.b"`), or nil for a single component.
    static func parentPath(_ path: Substring) -> Substring? {
        guard let dot = path.utf8.lastIndex(of: UInt8(ascii: ".")) else { return nil }
        return path[..<dot]
    }

    /// The last component of a path (`"a.b.c"` → `"c"`).
    static func lastComponent(_ path: Substring) -> Substring {
        guard let dot = path.utf8.lastIndex(of: UInt8(ascii: ".")) else { return path }
        return path[path.utf8.index(after: dot)...]
    }

    /// Sets `value` at a dotted path, creating intermediate objects; a nil value removes the path and any
    /// parent object it leaves empty.
    public mutating func set(path: String, to value: V3JSON?) {
        let rest = Self.droppingLeadingDots(Substring(path))
        guard !rest.isEmpty else {
            self = value ?? .object([:])
            return
        }
        V3JSON.set(&self, rest, value)
    }

    /// Sets `value` at `path` (no leading dot, not empty) under `node`; empty components are skipped, as
    /// `split` omits them. Dots are ASCII, so the path is cut on its bytes.
    private static func set(_ node: inout V3JSON, _ path: Substring, _ value: V3JSON?) {
        var fields: [String: V3JSON]
        if case .object(let existing) = node { fields = existing } else { fields = [:] }
        // Release the enum's reference first so the dictionary is mutated in place, not copied.
        node = .null
        let dot = path.utf8.firstIndex(of: UInt8(ascii: "."))
        let key = String(dot.map { path[..<$0] } ?? path)
        let rest = droppingLeadingDots(dot.map { path[path.utf8.index(after: $0)...] } ?? "")
        if rest.isEmpty {
            fields[key] = value
        } else {
            // Mutated in place through the dictionary's accessor: one lookup, no removal and reinsertion.
            set(&fields[key, default: .object([:])], rest, value)
            // Only a removal can leave the child empty.
            if value == nil, case .object(let childFields)? = fields[key], childFields.isEmpty { fields[key] = nil }
        }
        node = .object(fields)
    }

    /// `path` without the dots it starts with: the empty components `set` skips.
    private static func droppingLeadingDots(_ path: Substring) -> Substring {
        var rest = path
        while rest.utf8.first == UInt8(ascii: ".") { rest = rest.dropFirst() }
        return rest
    }
}

// MARK: - Parsing

/// A body that is not valid JSON; the simulator answers it like grpc-gateway's decoder (HTTP 400, code 3).
struct V3JSONSyntaxError: Error, Sendable {
    let offset: Int
    let reason: String
    var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

extension V3JSON {
    /// Parses JSON text (RFC 8259; duplicate keys: the last one wins).
    static func parse(_ data: Data) throws(V3JSONSyntaxError) -> V3JSON {
        let bytes = [UInt8](data)
        var parser = V3JSONParser(bytes: bytes)
        return try parser.parseDocument()
    }

    /// Parses JSON text given as a string.
    static func parse(_ text: String) throws(V3JSONSyntaxError) -> V3JSON {
        try parse(Data(text.utf8))
    }
}

private struct V3JSONParser {
    let bytes: [UInt8]
    var index = 0
    var depth = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func parseDocument() throws(V3JSONSyntaxError) -> V3JSON {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        guard index == bytes.count else { throw fail("unexpected data after the JSON value") }
        return value
    }

    func fail(_ reason: String) -> V3JSONSyntaxError {
        V3JSONSyntaxError(offset: index, reason: reason)
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    mutating func parseValue() throws(V3JSONSyntaxError) -> V3JSON {
        guard index < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw fail("unexpected character")
        }
    }

    mutating func expectLiteral(_ literal: String) throws(V3JSONSyntaxError) {
        let expected = Array(literal.utf8)
        guard index + expected.count <= bytes.count else { throw fail("unexpected end of input") }
        for offset in 0..<expected.count where bytes[index + offset] != expected[offset] {
            throw fail("invalid literal")
        }
        index += expected.count
    }

    mutating func enter() throws(V3JSONSyntaxError) {
        depth += 1
        if depth > 128 { throw fail("nesting deeper than 128 levels") }
    }

    mutating func parseObject() throws(V3JSONSyntaxError) -> V3JSON {
        try enter()
        defer { depth -= 1 }
        index += 1
        var fields: [String: V3JSON] = [:]
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return .object(fields)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            index += 1
            skipWhitespace()
            fields[key] = try parseValue()
            skipWhitespace()
            guard index < bytes.count else { throw fail("unexpected end of input in object") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(fields)
            }
            throw fail("expected ',' or '}'")
        }
    }

    mutating func parseArray() throws(V3JSONSyntaxError) -> V3JSON {
        try enter()
        defer { depth -= 1 }
        index += 1
        var items: [V3JSON] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            items.append(try parseValue())
            skipWhitespace()
            guard index < bytes.count else { throw fail("unexpected end of input in array") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(items)
            }
            throw fail("expected ',' or ']'")
        }
    }

    mutating func parseHex4() throws(V3JSONSyntaxError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw fail("invalid \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    mutating func parseString() throws(V3JSONSyntaxError) -> String {
        index += 1
        let start = index
        // Fast path: no escapes.
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let text = String(decoding: bytes[start..<index], as: UTF8.self)
                index += 1
                return text
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw fail("control character in string") }
            index += 1
        }
        var scalars = [UInt8](bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                guard let text = String(validating: scalars, as: UTF8.self) else { throw fail("invalid UTF-8 in string") }
                return text
            case UInt8(ascii: "\\"):
                index += 1
                guard index < bytes.count else { throw fail("unterminated escape") }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "\""): scalars.append(0x22)
                case UInt8(ascii: "\\"): scalars.append(0x5C)
                case UInt8(ascii: "/"): scalars.append(0x2F)
                case UInt8(ascii: "b"): scalars.append(0x08)
                case UInt8(ascii: "f"): scalars.append(0x0C)
                case UInt8(ascii: "n"): scalars.append(0x0A)
                case UInt8(ascii: "r"): scalars.append(0x0D)
                case UInt8(ascii: "t"): scalars.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try parseHex4()
                    if (0xD800...0xDBFF).contains(code) {
                        guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                            throw fail("unpaired surrogate")
                        }
                        index += 2
                        let low = try parseHex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(code) {
                        throw fail("unpaired surrogate")
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw fail("invalid \\u escape") }
                    scalars.append(contentsOf: Array(String(Character(scalar)).utf8))
                default:
                    throw fail("invalid escape")
                }
            default:
                if byte < 0x20 { throw fail("control character in string") }
                scalars.append(byte)
                index += 1
            }
        }
        throw fail("unterminated string")
    }

    mutating func parseNumber() throws(V3JSONSyntaxError) -> V3JSON {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { throw fail("invalid number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else if (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(bytes[index]) {
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        } else {
            throw fail("invalid number")
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let digits = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            if digits == index { throw fail("invalid number fraction") }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            let digits = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            if digits == index { throw fail("invalid number exponent") }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard let number = Double(text) else { throw fail("invalid number") }
        return .number(number)
    }
}

// MARK: - Writing

extension V3JSON {
    /// Compact JSON with keys sorted, as the simulator answers requests.
    func serialized() -> Data {
        var output: [UInt8] = []
        output.reserveCapacity(256)
        write(into: &output, indent: nil, level: 0)
        return Data(output)
    }

    /// Indented JSON (two spaces) with keys sorted and a final newline: the stable state-dump format.
    func prettySerialized() -> Data {
        var output: [UInt8] = []
        write(into: &output, indent: 2, level: 0)
        output.append(0x0A)
        return Data(output)
    }

    private func write(into output: inout [UInt8], indent: Int?, level: Int) {
        switch self {
        case .null:
            output.append(contentsOf: Array("null".utf8))
        case .bool(let flag):
            output.append(contentsOf: Array((flag ? "true" : "false").utf8))
        case .number(let number):
            output.append(contentsOf: Array(V3JSON.format(number).utf8))
        case .string(let text):
            V3JSON.writeString(text, into: &output)
        case .array(let items):
            output.append(UInt8(ascii: "["))
            for (position, item) in items.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                V3JSON.newline(&output, indent: indent, level: level + 1)
                item.write(into: &output, indent: indent, level: level + 1)
            }
            if !items.isEmpty { V3JSON.newline(&output, indent: indent, level: level) }
            output.append(UInt8(ascii: "]"))
        case .object(let fields):
            output.append(UInt8(ascii: "{"))
            let keys = fields.keys.sorted()
            for (position, key) in keys.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                V3JSON.newline(&output, indent: indent, level: level + 1)
                V3JSON.writeString(key, into: &output)
                output.append(UInt8(ascii: ":"))
                if indent != nil { output.append(UInt8(ascii: " ")) }
                fields[key]!.write(into: &output, indent: indent, level: level + 1)
            }
            if !keys.isEmpty { V3JSON.newline(&output, indent: indent, level: level) }
            output.append(UInt8(ascii: "}"))
        }
    }

    private static func newline(_ output: inout [UInt8], indent: Int?, level: Int) {
        guard let indent else { return }
        output.append(0x0A)
        output.append(contentsOf: repeatElement(UInt8(ascii: " "), count: indent * level))
    }

    /// Integers are written without a fraction (`868100000`, not `8.681e8`); others in Swift's shortest form.
    static func format(_ number: Double) -> String {
        if number.isFinite, number == number.rounded(), abs(number) < 9.007_199_254_740_992e15 {
            return String(Int64(number))
        }
        if !number.isFinite { return "0" }
        return "\(number)"
    }

    private static func writeString(_ text: String, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case 0x22: output.append(contentsOf: [0x5C, 0x22])
            case 0x5C: output.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: output.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: output.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: output.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                output.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default:
                output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }
}
