import Foundation
import V3Client

/// Compares what this migration would write with what v3 returns, as JSON.
///
/// v3 omits zero values in responses and writes hex upper-case (`reference/v3-api.md` §1), so an
/// expected `false`, `0`, `""`, `[]` or `{}` matches an absent field, and hex strings compare without case.
public enum JSONMatch {
    /// The differences between `expected` (a subset) and `actual`, as `path: expected ≠ actual` lines.
    /// Empty when every leaf of `expected` is present and equal in `actual`.
    public static func differences(expected: V3JSONValue, actual: V3JSONValue?, path: String = "") -> [String] {
        switch expected {
        case .object(let fields):
            guard case .object(let actualFields)? = actual else {
                if expected.isZero { return [] }
                return fields.isEmpty ? [] : fields.keys.sorted().flatMap { key in
                    differences(expected: fields[key]!, actual: nil, path: join(path, key))
                }
            }
            return fields.keys.sorted().flatMap { key in
                differences(expected: fields[key]!, actual: actualFields[key], path: join(path, key))
            }
        case .array(let items):
            guard case .array(let actualItems)? = actual else {
                return expected.isZero && (actual == nil || actual?.isZero == true) ? [] : ["\(path): expected \(items.count) items, found \(actual.map(describe) ?? "none")"]
            }
            guard items.count == actualItems.count else {
                return ["\(path): expected \(items.count) items, found \(actualItems.count)"]
            }
            // Lists of scalars (rights, frequency plans) compare as sets; lists of objects in order.
            if items.allSatisfy(isScalar) {
                let lhs = Set(items.map(normalized))
                let rhs = Set(actualItems.map(normalized))
                return lhs == rhs ? [] : ["\(path): expected \(items.map(describe).sorted()), found \(actualItems.map(describe).sorted())"]
            }
            return zip(items, actualItems).enumerated().flatMap { index, pair in
                differences(expected: pair.0, actual: pair.1, path: "\(path)[\(index)]")
            }
        default:
            guard let actual, actual != .null else {
                guard !expected.isZero else { return [] }
                return isSecret(path) ? ["\(path): missing (value hidden)"] : ["\(path): expected \(describe(expected)), found none"]
            }
            guard normalized(expected) != normalized(actual) else { return [] }
            return isSecret(path) ? ["\(path): differs (value hidden)"] : ["\(path): expected \(describe(expected)), found \(describe(actual))"]
        }
    }

    /// Paths of key material (device root and session keys, API key secrets): never printed.
    static func isSecret(_ path: String) -> Bool {
        path.split(separator: ".").contains { $0 == "key" || $0.hasSuffix("_key") || $0 == "app_s_key" || $0 == "root_keys" }
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

    static func isScalar(_ value: V3JSONValue) -> Bool {
        switch value {
        case .object, .array: return false
        default: return true
        }
    }

    /// Hex compares case-insensitively; numbers as numbers; enum numbers stay as given.
    static func normalized(_ value: V3JSONValue) -> String {
        switch value {
        case .string(let text):
            let isHex = !text.isEmpty && text.count % 2 == 0 && text.allSatisfy { $0.isHexDigit }
            return "s:" + (isHex ? text.uppercased() : text)
        case .number(let number): return "n:\(number)"
        case .bool(let flag): return "b:\(flag)"
        default: return describe(value)
        }
    }

    static func describe(_ value: V3JSONValue) -> String {
        if case .string(let text) = value { return "\"\(text)\"" }
        return value.description
    }
}
