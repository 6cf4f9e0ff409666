import Foundation
import V3Client

/// Compares intended and actual v3 JSON field by field, as v3 returns it.
///
/// The rules (`reference/v3-api.md` §1): v3 omits zero values, so `false`, `0`, `""`, `[]`, `{}` and an
/// absent field are the same; EUIs, DevAddrs and keys are hex in any case; lists of scalars (rights,
/// frequency plans) compare as sets; lists of objects (antennas) item by item. Unlike the read-back of
/// `run`, both directions count: a field v3 holds that the migration does not set is a difference too
/// (within the compared paths). Key material is compared but never shown (`FieldValue.hidden`).
public enum FieldComparison {
    /// The differences of `expected` and `actual` at each of `paths` (dotted; each compared with
    /// everything below it), in the order of `paths`, each tagged with `component`.
    public static func differences(
        expected: V3JSONValue?, actual: V3JSONValue?, paths: [String], component: V3Server? = nil
    ) -> [FieldDifference] {
        var result: [FieldDifference] = []
        for path in paths {
            compare(path: path, lookup(path, in: expected), lookup(path, in: actual), component: component, into: &result)
        }
        return result
    }

    /// The value at a dotted path; nil where any step is missing or not an object.
    public static func lookup(_ path: String, in value: V3JSONValue?) -> V3JSONValue? {
        var current = value
        let found = walk(path) { part in
            guard case .object(let fields)? = current else { return false }
            current = fields[String(part)]
            return true
        }
        return found ? current : nil
    }

    /// Paths of key material: a part named `key`, `keys` or `root_keys`, or ending in `_key`
    /// (`root_keys.app_key.key`, `session.keys.app_s_key.key`, …). Never shown in any rendering.
    public static func isSecret(_ path: String) -> Bool {
        !walk(path) { part in
            let name = fieldName(part)
            return !(name == "key" || name == "keys" || name == "root_keys" || name.hasSuffix("_key"))
        }
    }

    /// Calls `step` with each dotted part of `path` in order while it returns true; whether every one did.
    /// Dots are ASCII, so the UTF-8 bytes are searched: no grapheme clusters are walked.
    static func walk(_ path: String, _ step: (Substring) -> Bool) -> Bool {
        var rest = Substring(path)
        while !rest.isEmpty {
            let dot = rest.utf8.firstIndex(of: UInt8(ascii: "."))
            guard step(dot.map { rest[..<$0] } ?? rest) else { return false }
            rest = dot.map { rest[rest.utf8.index(after: $0)...] } ?? ""
        }
        return true
    }

    /// The last dotted part of a path.
    static func lastPart(_ path: String) -> Substring {
        guard let dot = path.utf8.lastIndex(of: UInt8(ascii: ".")) else { return Substring(path) }
        return path[path.utf8.index(after: dot)...]
    }

    /// A part's field name without its list index (`antennas[0]` → `antennas`).
    static func fieldName(_ part: Substring) -> Substring {
        guard let bracket = part.utf8.firstIndex(of: UInt8(ascii: "[")) else { return part }
        return part[..<bracket]
    }

    /// Whether the value is what v3 omits: null, false, 0, "", [] or an object of such values.
    public static func isZero(_ value: V3JSONValue?) -> Bool {
        value?.isZero ?? true
    }

    static func compare(path: String, _ expected: V3JSONValue?, _ actual: V3JSONValue?, component: V3Server?, into result: inout [FieldDifference]) {
        let expectedZero = isZero(expected)
        let actualZero = isZero(actual)
        if expectedZero && actualZero { return }
        if isFrameCounter(path), case .number(let count)? = actual, count >= expectedCount(expected) { return }

        if isSecret(path), isScalar(expected) || expectedZero, isScalar(actual) || actualZero {
            if expectedZero {
                result.append(FieldDifference(component: component, path: path, expected: .none, actual: .hidden))
            } else if actualZero {
                result.append(FieldDifference(component: component, path: path, expected: .hidden, actual: .none))
            } else if normalized(expected!, path: path) != normalized(actual!, path: path) {
                result.append(FieldDifference(component: component, path: path, expected: .hidden, actual: .hidden))
            }
            return
        }

        switch (expected, actual) {
        case (.object(let lhs)?, .object(let rhs)?):
            for key in Set(lhs.keys).union(rhs.keys).sorted() {
                compare(path: join(path, key), lhs[key], rhs[key], component: component, into: &result)
            }
        case (.object(let lhs)?, _) where actualZero:
            for key in lhs.keys.sorted() { compare(path: join(path, key), lhs[key], nil, component: component, into: &result) }
        case (_, .object(let rhs)?) where expectedZero:
            for key in rhs.keys.sorted() { compare(path: join(path, key), nil, rhs[key], component: component, into: &result) }
        case (.array(let lhs)?, .array(let rhs)?):
            if (lhs + rhs).allSatisfy(isScalar) {
                let left = Set(lhs.map { normalized($0, path: path) })
                let right = Set(rhs.map { normalized($0, path: path) })
                if left != right {
                    result.append(FieldDifference(
                        component: component, path: path, expected: shown(sortedScalars(lhs, path: path), path: path),
                        actual: shown(sortedScalars(rhs, path: path), path: path)))
                }
            } else if lhs.count == rhs.count {
                for (index, pair) in zip(lhs, rhs).enumerated() {
                    compare(path: "\(path)[\(index)]", pair.0, pair.1, component: component, into: &result)
                }
            } else {
                result.append(FieldDifference(component: component, path: path, expected: shown(expected!, path: path), actual: shown(actual!, path: path)))
            }
        default:
            if !expectedZero, !actualZero, isScalar(expected), isScalar(actual),
               normalized(expected!, path: path) == normalized(actual!, path: path) {
                return
            }
            result.append(FieldDifference(
                component: component, path: path,
                expected: expectedZero ? .none : shown(expected!, path: path),
                actual: actualZero ? .none : shown(actual!, path: path)))
        }
    }

    /// Session frame counters only go up once a device runs on v3 (and `cutover` raises them to v2's
    /// final counters), so a v3 counter at or above the migrated one is as intended.
    static func isFrameCounter(_ path: String) -> Bool {
        ["session.last_f_cnt_up", "session.last_n_f_cnt_down", "session.last_a_f_cnt_down"].contains(path)
    }

    private static func expectedCount(_ value: V3JSONValue?) -> Double {
        if case .number(let count)? = value { return count }
        return 0
    }

    /// A value as shown: key material inside it replaced by `(value hidden)`.
    static func shown(_ value: V3JSONValue, path: String) -> FieldValue {
        if isSecret(path) { return .hidden }
        return .value(redacted(value, path: path))
    }

    static func redacted(_ value: V3JSONValue, path: String) -> V3JSONValue {
        if isSecret(path) { return .string(FieldValue.hiddenText) }
        switch value {
        case .object(let fields):
            var copy: [String: V3JSONValue] = [:]
            for (key, field) in fields { copy[key] = redacted(field, path: join(path, key)) }
            return .object(copy)
        case .array(let items):
            return .array(items.enumerated().map { redacted($0.element, path: "\(path)[\($0.offset)]") })
        default:
            return value
        }
    }

    static func sortedScalars(_ items: [V3JSONValue], path: String) -> V3JSONValue {
        .array(items.sorted { normalized($0, path: path) < normalized($1, path: path) })
    }

    static func isScalar(_ value: V3JSONValue?) -> Bool {
        switch value {
        case .object?, .array?: return false
        default: return value != nil
        }
    }

    /// Fields whose values are hex bytes (EUIs, DevAddr, keys): compared without case.
    static func isHexPath(_ path: String) -> Bool {
        let last = fieldName(lastPart(path))
        return last == "eui" || last.hasSuffix("_eui") || last == "dev_addr" || last == "key"
    }

    static func normalized(_ value: V3JSONValue, path: String) -> String {
        switch value {
        case .string(let text): return "s:" + (isHexPath(path) ? text.uppercased() : text)
        case .number(let number): return "n:\(number)"
        case .bool(let flag): return "b:\(flag)"
        default: return "j:" + DiffJSONText.compact(value)
        }
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }
}
