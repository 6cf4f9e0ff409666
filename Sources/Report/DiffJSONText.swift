import Foundation
import V3Client

/// JSON text of values, written the same way every time (keys sorted, no spaces, `/` not escaped).
public enum DiffJSONText {
    /// Compact JSON: `"Sensors"`, `70000`, `true`, `["A","B"]`, `{"latitude":52.1}`.
    public static func compact(_ value: V3JSONValue) -> String {
        var output = ""
        write(value, into: &output)
        return output
    }

    static func write(_ value: V3JSONValue, into output: inout String) {
        switch value {
        case .null: output += "null"
        case .bool(let flag): output += flag ? "true" : "false"
        case .number(let number): output += numberText(number)
        case .string(let text): output += quoted(text)
        case .array(let items):
            output += "["
            for (index, item) in items.enumerated() {
                if index > 0 { output += "," }
                write(item, into: &output)
            }
            output += "]"
        case .object(let fields):
            output += "{"
            for (index, key) in fields.keys.sorted().enumerated() {
                if index > 0 { output += "," }
                output += quoted(key) + ":"
                write(fields[key]!, into: &output)
            }
            output += "}"
        }
    }

    /// Integers without a fraction (`70000`), others in the shortest form that reads back the same.
    static func numberText(_ number: Double) -> String {
        if number.isFinite, number == number.rounded(), abs(number) < 1e15 { return String(Int64(number)) }
        if !number.isFinite { return "null" }
        return "\(number)"
    }

    /// A JSON string literal: `"`, `\` and control characters escaped.
    public static func quoted(_ text: String) -> String {
        var output = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            default:
                if scalar.value < 0x20 {
                    output += String(format: "\\u%04x", scalar.value)
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        return output + "\""
    }
}
