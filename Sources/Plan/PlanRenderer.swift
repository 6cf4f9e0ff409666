import Foundation
import Mapping
import V3Model

/// The two renderings of a plan: a table for people and a versioned JSON document for programs.
///
/// Both are deterministic (same plan, same bytes) and never contain a secret: device keys are written
/// as `<hidden>` (`V3Redaction`), and a plan holds no API key secret.
///
/// JSON schema `ttn-migrate/plan` version 1 (UTF-8, one object; fixed key order at the top, each array
/// element on its own line as compact JSON with sorted keys):
///
/// ```
/// {
///   "format": "ttn-migrate/plan",
///   "version": 1,
///   "owner": {"user_ids":{"user_id":"alice"}} | {"organization_ids":{"organization_id":"acme"}},
///   "summary": {"components":{is,js,ns,as → n}, "devices":{otaa,otaa-with-session,abp → n},
///               "entities":{kind → {"planned":n,"skipped":n}}, "renames":n,
///               "steps":{step kind → n}, "total_steps":n, "warnings":{code → n}},
///   "renames": [{"kind","v2_id","v3_id","reasons":[rename|invalid-characters|too-long|too-short|blocklisted|collision]}],
///   "warnings": [{"code","entity":{"kind","v2_id","v3_id"?},"message"}],
///   "skipped": [{"entity":{…},"reason","warning"?}],
///   "steps": [{"id","kind","component":"is|js|ns|as","entity":{…},"depends_on":[step id],
///              "field_mask":[path],"payload":{the v3 request entity, snake_case, secrets hidden}}]
/// }
/// ```
/// A reader should check `format` and refuse a `version` newer than it knows; later versions of the
/// same major shape only add keys.
public enum PlanRenderer {
    /// The JSON document described above, ending with a newline.
    public static func json(_ plan: MigrationPlan) throws -> Data {
        var output = Data()
        output.reserveCapacity(plan.steps.count * 700 + 4096)
        try writeJSON(plan) { output.append($0) }
        return output
    }

    /// Steps handed to the sink at once.
    static let stepsPerChunk = 2048

    /// The same document as `json(_:)`, handed to `sink` piece by piece in order, so a large plan can go
    /// to a file without being held whole in memory. (Encoding chunks on several threads was measured
    /// 2.3 × slower on the 2-core build machine, so it is sequential.)
    public static func writeJSON(_ plan: MigrationPlan, to sink: (Data) throws -> Void) throws {
        let encoder = makeEncoder()
        var buffer = Data()
        func write(_ text: String) { buffer.append(contentsOf: text.utf8) }
        func flush() throws {
            if !buffer.isEmpty { try sink(buffer) }
            buffer = Data()
        }
        func writeSmallArray<T: Encodable>(_ name: String, _ elements: [T]) throws {
            if elements.isEmpty {
                write("  \"\(name)\": [],\n")
                return
            }
            write("  \"\(name)\": [\n")
            for (index, element) in elements.enumerated() {
                write("    ")
                buffer.append(try encoder.encode(element))
                write(index == elements.count - 1 ? "\n" : ",\n")
            }
            write("  ],\n")
        }

        write("{\n")
        write("  \"format\": \"\(MigrationPlan.formatName)\",\n")
        write("  \"version\": \(MigrationPlan.formatVersion),\n")
        write("  \"owner\": ")
        buffer.append(try encoder.encode(plan.owner))
        write(",\n  \"summary\": ")
        buffer.append(try encoder.encode(plan.summary))
        write(",\n")
        try writeSmallArray("renames", plan.renames)
        try writeSmallArray("warnings", plan.warnings)
        try writeSmallArray("skipped", plan.skipped)
        if plan.steps.isEmpty {
            write("  \"steps\": []\n}\n")
            try flush()
            return
        }
        write("  \"steps\": [\n")
        try flush()

        let steps = plan.steps
        var chunkStart = 0
        while chunkStart < steps.count {
            let range = chunkStart..<min(chunkStart + stepsPerChunk, steps.count)
            try sink(try encodeSteps(steps[range], last: range.upperBound == steps.count, encoder: encoder))
            chunkStart = range.upperBound
        }
        try sink(Data("  ]\n}\n".utf8))
    }

    private static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.userInfo[.redactSecrets] = true
        return encoder
    }

    /// Step lines `    {…},\n`; the plan's very last step without the comma.
    private static func encodeSteps(_ steps: ArraySlice<PlanStep>, last: Bool, encoder: JSONEncoder) throws -> Data {
        var data = Data()
        data.reserveCapacity(steps.count * 700)
        for index in steps.indices {
            data.append(contentsOf: "    ".utf8)
            data.append(try encoder.encode(steps[index]))
            data.append(contentsOf: (last && index == steps.endIndex - 1 ? "\n" : ",\n").utf8)
        }
        return data
    }

    /// The human rendering: owner, summary, steps, renames, warnings and skipped entities as aligned
    /// columns. Shows no payloads.
    public static func table(_ plan: MigrationPlan) -> String {
        var out = ""
        writeTable(plan) { out += $0 }
        return out
    }

    /// Lines handed to the sink at once by `writeTable`.
    static let linesPerChunk = 4096

    /// The same text as `table(_:)`, handed to `sink` in pieces that each end with a newline, so a plan of
    /// 400,000 steps is printed without its table being held whole in memory.
    public static func writeTable(_ plan: MigrationPlan, to sink: (String) throws -> Void) rethrows {
        var out = ""
        out += "Migration plan (\(MigrationPlan.formatName) v\(MigrationPlan.formatVersion))\n"
        out += "Owner: \(plan.owner)\n"

        let summary = plan.summary
        out += "\nSummary\n"
        let entityRows = EntityKind.allCases.filter { $0 != .configuration }.map { kind -> [String] in
            let counts = summary.entities[kind.rawValue] ?? PlanSummary.EntityCounts(planned: 0, skipped: 0)
            return [kind.rawValue, String(counts.planned), String(counts.skipped)]
        }
        writeColumns(header: ["ENTITY", "PLANNED", "SKIPPED"], count: entityRows.count, rightAligned: [1, 2], row: { entityRows[$0] }) { out += $0 }
        let devices = DeviceActivation.allCases.map { "\(summary.devices[$0.rawValue] ?? 0) \($0.rawValue)" }
        out += "  devices: \(devices.joined(separator: ", "))\n"
        let components = V3Component.allCases.map { "\($0.rawValue) \(summary.components[$0.rawValue] ?? 0)" }
        out += "  steps: \(summary.totalSteps) (\(components.joined(separator: ", ")))\n"
        out += "  renames: \(summary.renames), warnings: \(plan.warnings.count), skipped: \(plan.skipped.count)\n"

        out += "\nSteps (\(plan.steps.count))\n"
        if plan.steps.isEmpty {
            out += "  none\n"
        } else {
            try sink(out)
            out = ""
            let steps = plan.steps
            try writeColumns(header: ["#", "STEP", "SERVER", "AFTER"], count: steps.count, rightAligned: [0], row: { index in
                let step = steps[index]
                return [String(index + 1), step.id, step.component.rawValue, step.dependsOn.isEmpty ? "-" : step.dependsOn.joined(separator: ", ")]
            }, to: sink)
        }

        func section<T>(_ title: String, _ items: [T], header: [String], row: (T) -> [String]) {
            out += "\n\(title) (\(items.count))\n"
            if items.isEmpty {
                out += "  none\n"
            } else {
                writeColumns(header: header, count: items.count, row: { row(items[$0]) }) { out += $0 }
            }
        }
        section("Renames", plan.renames, header: ["KIND", "V2 ID", "V3 ID", "WHY"]) {
            [$0.kind.rawValue, $0.v2ID, $0.v3ID, $0.reasons.map(\.rawValue).joined(separator: ", ")]
        }
        section("Warnings", plan.warnings, header: ["CODE", "ENTITY", "MESSAGE"]) {
            [$0.code.rawValue, "\($0.entity.kind.rawValue) \($0.entity.v2ID)", $0.message]
        }
        section("Skipped", plan.skipped, header: ["KIND", "V2 ID", "REASON"]) { [$0.entity.kind.rawValue, $0.entity.v2ID, $0.reason] }
        try sink(out)
    }

    /// Rows indented by two spaces, columns separated by two spaces and padded to the widest cell
    /// (in characters); the last column is not padded. `row` is called twice per row (widths, then
    /// text), and the text goes to `sink` in pieces of `linesPerChunk` lines.
    static func writeColumns(
        header: [String], count: Int, rightAligned: Set<Int> = [], row: (Int) -> [String], to sink: (String) throws -> Void
    ) rethrows {
        var widths = header.map(\.count)
        for index in 0..<count {
            for (column, cell) in row(index).enumerated() { widths[column] = max(widths[column], cell.count) }
        }
        var out = ""
        func line(_ cells: [String]) {
            out += "  "
            for (index, cell) in cells.enumerated() {
                let padding = String(repeating: " ", count: widths[index] - cell.count)
                let isLast = index == cells.count - 1
                if rightAligned.contains(index) {
                    out += padding + cell
                } else {
                    out += isLast ? cell : cell + padding
                }
                if !isLast { out += "  " }
            }
            out += "\n"
        }
        line(header)
        for index in 0..<count {
            line(row(index))
            if (index + 1) % linesPerChunk == 0 {
                try sink(out)
                out = ""
            }
        }
        if !out.isEmpty { try sink(out) }
    }
}
