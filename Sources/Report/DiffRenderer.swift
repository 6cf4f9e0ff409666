import Foundation
import Mapping
import V3Client
import V3Model

/// The renderings of a diff: table (terminals), Markdown, JSON (documented, versioned), CSV (RFC 4180)
/// and HTML (one self-contained file). Same diff, same bytes. No rendering ever holds key material: a
/// differing key is shown as `(value hidden)`.
public enum DiffRenderer {
    /// The formats `diff --format` offers.
    public enum Format: String, CaseIterable, Sendable {
        case table, md, json, csv, html
    }

    /// The diff in `format`.
    public static func render(_ diff: MigrationDiff, format: Format) -> String {
        switch format {
        case .table: return table(diff)
        case .md: return markdown(diff)
        case .json: return json(diff)
        case .csv: return csv(diff)
        case .html: return html(diff)
        }
    }

    /// Longest value text the table and Markdown show; longer ones are cut with `…` (JSON, CSV and HTML
    /// carry them whole).
    public static let shortValueLength = 200

    // MARK: Shared wording

    /// `user alice; API keys of run tag abc123` or `…; API keys of any run (no journal)`.
    static func scope(_ diff: MigrationDiff) -> String {
        let keys = diff.runTag.map { "API keys of run tag \($0)" } ?? "API keys of any run, no journal given"
        return "owner \(diff.owner); \(keys)"
    }

    /// `sensors/dev-2 (v2 sensors/dev_2)`, or the v3 ID alone when both are the same.
    static func entityText(_ entry: DiffEntry) -> String {
        guard let v2ID = entry.v2ID, v2ID != entry.entity else { return entry.entity }
        return "\(entry.entity) (v2 \(v2ID))"
    }

    /// `name: expected "A", found "B"`, with long values cut.
    static func shortSummary(_ field: FieldDifference) -> String {
        switch (field.expected, field.actual) {
        case (.hidden, _), (_, .hidden): return "\(field.label): \(field.summary)"
        default: return "\(field.label): expected \(cut(field.expected.text)), found \(cut(field.actual.text))"
        }
    }

    static func cut(_ text: String) -> String {
        guard text.count > shortValueLength else { return text }
        return String(text.prefix(shortValueLength)) + "… (\(text.count) characters)"
    }

    static func skipLine(_ skip: DiffSkip) -> String {
        let id = skip.v3ID.map { $0 == skip.v2ID ? skip.v2ID : "\(skip.v2ID) (v3 \($0))" } ?? skip.v2ID
        return "\(skip.kind.rawValue) \(id): \(skip.reason)"
    }

    // MARK: Table

    /// Aligned columns STATUS, KIND, ENTITY; differing fields indented below their entity; the skipped
    /// entities apart; a summary line last.
    public static func table(_ diff: MigrationDiff) -> String {
        var lines = ["ttn-migrate diff: what v3 holds compared with what the migration intends (\(scope(diff)))", ""]
        if diff.entries.isEmpty {
            lines.append("Nothing to compare: the plan intends no entity and v3 holds none under the owner.")
        } else {
            let statusWidth = max("STATUS".count, diff.entries.map { $0.status.label.count }.max() ?? 0)
            let kindWidth = max("KIND".count, diff.entries.map { $0.kind.rawValue.count }.max() ?? 0)
            func pad(_ text: String, _ width: Int) -> String { text + String(repeating: " ", count: max(0, width - text.count)) }
            lines.append(pad("STATUS", statusWidth) + "  " + pad("KIND", kindWidth) + "  ENTITY")
            for entry in diff.entries {
                lines.append(pad(entry.status.label, statusWidth) + "  " + pad(entry.kind.rawValue, kindWidth) + "  " + oneLine(entityText(entry)))
                for field in entry.fields {
                    lines.append(String(repeating: " ", count: statusWidth + 4) + oneLine(shortSummary(field)))
                }
            }
        }
        if !diff.skipped.isEmpty {
            lines.append("")
            lines.append("Skipped (not migrated, so not compared):")
            for skip in diff.skipped { lines.append("  " + oneLine(skipLine(skip))) }
        }
        lines.append("")
        lines.append("Summary: " + diff.summary.line)
        return lines.joined(separator: "\n") + "\n"
    }

    /// Text on one line: CR, LF and tab written as `\r`, `\n`, `\t` so every entity keeps one line.
    static func oneLine(_ text: String) -> String {
        var output = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            default: output.unicodeScalars.append(scalar)
            }
        }
        return output
    }

    // MARK: Markdown

    /// A heading, the scope, the summary, a table of every entity (differences in the last column, one
    /// per line) and a table of the skipped entities.
    public static func markdown(_ diff: MigrationDiff) -> String {
        var lines = [
            "# ttn-migrate diff", "",
            "What v3 holds compared with what the migration intends: \(markdownCell(scope(diff))).", "",
            "**Summary:** \(diff.summary.line)", "",
        ]
        if diff.entries.isEmpty {
            lines.append("Nothing to compare: the plan intends no entity and v3 holds none under the owner.")
        } else {
            lines.append("| Status | Kind | Entity | v2 ID | Differences |")
            lines.append("| --- | --- | --- | --- | --- |")
            for entry in diff.entries {
                let differences = entry.fields.map { markdownCell(shortSummary($0)) }.joined(separator: "<br>")
                lines.append("| \(entry.status.label) | \(entry.kind.rawValue) | \(markdownCell(entry.entity)) | \(markdownCell(entry.v2ID ?? "")) | \(differences) |")
            }
        }
        if !diff.skipped.isEmpty {
            lines += ["", "## Skipped (not migrated, so not compared)", "", "| Kind | v2 ID | v3 ID | Reason |", "| --- | --- | --- | --- |"]
            for skip in diff.skipped {
                lines.append("| \(skip.kind.rawValue) | \(markdownCell(skip.v2ID)) | \(markdownCell(skip.v3ID ?? "")) | \(markdownCell(skip.reason)) |")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Text safe in a GitHub-flavoured Markdown table cell: HTML and Markdown specials escaped, `|`
    /// escaped, line breaks as `<br>`.
    public static func markdownCell(_ text: String) -> String {
        var output = ""
        for character in text {
            switch character {
            case "&": output += "&amp;"
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "|": output += "\\|"
            case "\\", "`", "*", "_", "[", "]", "#", "~": output += "\\" + String(character)
            case "\r\n", "\n", "\r": output += "<br>"
            default: output.append(character)
            }
        }
        return output
    }

    // MARK: JSON

    /// The documented JSON form (`format` `ttn-migrate/diff`, `version` 1), keys in a fixed order, two-space
    /// indentation. See README.md for the schema.
    public static func json(_ diff: MigrationDiff) -> String {
        let summary = diff.summary
        let document: OrderedJSON = .object([
            ("format", .string(MigrationDiff.formatName)),
            ("version", .number(MigrationDiff.formatVersion)),
            ("owner", .object([("kind", .string(diff.owner.kindName)), ("id", .string(diff.owner.id))])),
            ("run_tag", diff.runTag.map(OrderedJSON.string) ?? .null),
            ("has_differences", .bool(diff.hasDifferences)),
            ("summary", .object([
                ("equal", .number(summary.equal)), ("differs", .number(summary.differs)), ("missing_in_v3", .number(summary.missingInV3)),
                ("only_in_v3", .number(summary.onlyInV3)), ("skipped", .number(summary.skipped)),
            ])),
            ("entries", .array(diff.entries.map { entry in
                .object([
                    ("status", .string(entry.status.rawValue)),
                    ("kind", .string(entry.kind.rawValue)),
                    ("entity", .string(entry.entity)),
                    ("v2_id", entry.v2ID.map(OrderedJSON.string) ?? .null),
                    ("fields", .array(entry.fields.map { field in
                        .object([
                            ("component", field.component.map { OrderedJSON.string($0.rawValue) } ?? .null),
                            ("path", .string(field.path)),
                            ("expected_state", .string(state(field.expected))),
                            ("expected", value(field.expected)),
                            ("actual_state", .string(state(field.actual))),
                            ("actual", value(field.actual)),
                        ])
                    })),
                ])
            })),
            ("skipped", .array(diff.skipped.map { skip in
                .object([
                    ("kind", .string(skip.kind.rawValue)),
                    ("v2_id", .string(skip.v2ID)),
                    ("v3_id", skip.v3ID.map(OrderedJSON.string) ?? .null),
                    ("reason", .string(skip.reason)),
                ])
            })),
        ])
        var output = ""
        document.write(into: &output, indent: 0)
        return output + "\n"
    }

    /// `value`, `none`, `hidden` or `present`.
    static func state(_ value: FieldValue) -> String {
        switch value {
        case .none: return "none"
        case .value: return "value"
        case .hidden: return "hidden"
        case .present: return "present"
        }
    }

    static func value(_ value: FieldValue) -> OrderedJSON {
        if case .value(let json) = value { return .raw(json) }
        return .null
    }

    // MARK: CSV

    /// RFC 4180: a header row, CRLF line ends, fields with `,`, `"`, CR or LF quoted (quotes doubled). One
    /// row per differing field (entities without one: one row with the field columns empty), then one row
    /// per skipped entity with status `skipped` and its reason.
    public static func csv(_ diff: MigrationDiff) -> String {
        var rows: [[String]] = [["status", "kind", "entity", "v2_id", "component", "field", "expected", "actual", "reason"]]
        for entry in diff.entries {
            let front = [entry.status.label, entry.kind.rawValue, entry.entity, entry.v2ID ?? ""]
            if entry.fields.isEmpty {
                rows.append(front + ["", "", "", "", ""])
            }
            for field in entry.fields {
                rows.append(front + [field.component?.rawValue ?? "", field.path.isEmpty ? "(whole record)" : field.path, field.expected.text, field.actual.text, ""])
            }
        }
        for skip in diff.skipped {
            rows.append(["skipped", skip.kind.rawValue, skip.v3ID ?? "", skip.v2ID, "", "", "", "", skip.reason])
        }
        return rows.map { $0.map(csvField).joined(separator: ",") + "\r\n" }.joined()
    }

    /// One CSV field, quoted when it holds a comma, a quote, CR or LF.
    public static func csvField(_ text: String) -> String {
        let needsQuotes = text.unicodeScalars.contains { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" }
        guard needsQuotes else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    // MARK: HTML

    /// One self-contained HTML5 page a person reads (`DiffHTMLReport`).
    public static func html(_ diff: MigrationDiff) -> String { DiffHTMLReport.render(diff) }

    /// Text safe in HTML content and attribute values: `&`, `<`, `>`, `"` and `'` as entities.
    public static func htmlEscape(_ text: String) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": output += "&amp;"
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "\"": output += "&quot;"
            case "'": output += "&#39;"
            default: output.append(character)
            }
        }
        return output
    }
}

/// JSON with keys in a chosen order, for the report's documented JSON form.
indirect enum OrderedJSON {
    case object([(String, OrderedJSON)])
    case array([OrderedJSON])
    case string(String)
    case number(Int)
    case bool(Bool)
    case null
    /// A v3 value, written compact.
    case raw(V3JSONValue)

    func write(into output: inout String, indent: Int) {
        let pad = String(repeating: "  ", count: indent + 1)
        let closing = String(repeating: "  ", count: indent)
        switch self {
        case .object(let fields):
            guard !fields.isEmpty else { output += "{}"; return }
            output += "{\n"
            for (index, (key, value)) in fields.enumerated() {
                output += pad + DiffJSONText.quoted(key) + ": "
                value.write(into: &output, indent: indent + 1)
                output += index == fields.count - 1 ? "\n" : ",\n"
            }
            output += closing + "}"
        case .array(let items):
            guard !items.isEmpty else { output += "[]"; return }
            output += "[\n"
            for (index, item) in items.enumerated() {
                output += pad
                item.write(into: &output, indent: indent + 1)
                output += index == items.count - 1 ? "\n" : ",\n"
            }
            output += closing + "]"
        case .string(let text): output += DiffJSONText.quoted(text)
        case .number(let number): output += String(number)
        case .bool(let flag): output += flag ? "true" : "false"
        case .null: output += "null"
        case .raw(let value): output += DiffJSONText.compact(value)
        }
    }
}
