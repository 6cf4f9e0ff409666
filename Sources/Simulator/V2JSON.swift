import Foundation

/// A JSON value as the v2 simulator keeps estate data: served verbatim, integers kept exact (64-bit
/// counters and Unix-nanosecond timestamps survive), object keys written sorted.
enum V2JSON: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([V2JSON])
    case object([String: V2JSON])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([V2JSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: V2JSON].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The value as compact JSON with sorted keys.
    var data: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a tree of plain values cannot fail; NaN and infinities never come out of a parse.
        return (try? encoder.encode(self)) ?? Data("null".utf8)
    }

    subscript(key: String) -> V2JSON? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    var objectValue: [String: V2JSON]? {
        if case .object(let members) = self { return members }
        return nil
    }

    var arrayValue: [V2JSON]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The JSON type's name, for error messages.
    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .integer, .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    /// Parses JSON text; on a syntax error says where (line and column) as far as Foundation tells.
    static func parse(_ data: Data) throws(V2JSONSyntaxError) -> V2JSON {
        do {
            return try JSONDecoder().decode(V2JSON.self, from: data)
        } catch {
            throw V2JSONSyntaxError(detail: syntaxDetail(data))
        }
    }

    private static func syntaxDetail(_ data: Data) -> String {
        if data.isEmpty { return "the file is empty" }
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return "not valid JSON"
        } catch {
            let debug = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "not valid JSON"
            guard let range = debug.range(of: #"character (\d+)"#, options: .regularExpression),
                  let offset = Int(debug[range].dropFirst("character ".count)) else { return debug }
            let prefix = data.prefix(offset)
            let line = prefix.filter { $0 == UInt8(ascii: "\n") }.count + 1
            let column = offset - (prefix.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0) + 1
            return "\(debug.hasSuffix(".") ? String(debug.dropLast()) : debug) (line \(line), column \(column))"
        }
    }
}

/// JSON text that does not parse.
struct V2JSONSyntaxError: Error {
    let detail: String
}
