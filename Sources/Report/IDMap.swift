import Foundation
import Journal
import Mapping
import Plan

/// The old→new map of a migration: one row per v2 entity with its v3 ID and where it stands, and
/// what the tool does not migrate, per application (`export-map`, issue 14 item 3).
public struct IDMap: Sendable, Equatable {
    /// One entity: IDs on both sides, state, and why when it is not migrated.
    public struct Row: Sendable, Equatable, Encodable {
        /// `EntityKind` name (`application`, `device`, …) or, for what is not migrated, `integration`,
        /// `webhook`, `mqtt`.
        public var kind: String
        public var v2ID: String
        public var v3ID: String?
        /// API keys: the v2 access key's name and the v3 key's ID (once created).
        public var v2KeyName: String?
        public var v3KeyID: String?
        /// `migrated`, `failed`, `pending` (not finished yet), `rolled_back`, `skipped`, `not_migrated`.
        public var state: String
        public var reason: String?
        /// Devices: the cut-over's state (`done`, `failed`, …), nil when not cut over.
        public var cutover: String?

        enum CodingKeys: String, CodingKey {
            case kind, state, reason, cutover
            case v2ID = "v2_id"
            case v3ID = "v3_id"
            case v2KeyName = "v2_key_name"
            case v3KeyID = "v3_key_id"
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(kind, forKey: .kind)
            try container.encode(v2ID, forKey: .v2ID)
            try container.encode(v3ID, forKey: .v3ID)
            try container.encode(v2KeyName, forKey: .v2KeyName)
            try container.encode(v3KeyID, forKey: .v3KeyID)
            try container.encode(state, forKey: .state)
            try container.encode(reason, forKey: .reason)
            try container.encode(cutover, forKey: .cutover)
        }
    }

    public var rows: [Row]

    /// The CSV columns, in order.
    public static let columns = ["kind", "v2_id", "v3_id", "v2_key_name", "v3_key_id", "state", "reason", "cutover"]

    /// Builds the map from the plan the journal's runs executed and what the journal recorded.
    public static func build(plan: MigrationPlan, steps: [StepRecord], apiKeys: [APIKeyRecord], cutover: [String: CutoverRecord]) -> IDMap {
        let records = Dictionary(steps.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let keyIDs = Dictionary(apiKeys.map { ($0.stepID, $0.key.keyID) }, uniquingKeysWith: { first, _ in first })
        var order: [EntityRef] = []
        var stepsOf: [EntityRef: [String]] = [:]
        for step in plan.steps {
            if stepsOf[step.entity] == nil { order.append(step.entity) }
            stepsOf[step.entity, default: []].append(step.id)
        }
        var rows: [Row] = []
        for entity in order {
            let ids = stepsOf[entity] ?? []
            var row = Row(kind: entity.kind.rawValue, v2ID: entity.v2ID, v3ID: entity.v3ID, state: "migrated")
            (row.state, row.reason) = state(of: ids.map { (id: $0, record: records[$0]) })
            if entity.kind == .applicationAPIKey || entity.kind == .gatewayAPIKey {
                row.v2KeyName = entity.v2ID.split(separator: "/", maxSplits: 1).last.map(String.init)
                row.v3KeyID = ids.lazy.compactMap { keyIDs[$0] }.first
            }
            if entity.kind == .device, let path = entity.v3ID { row.cutover = cutover[path]?.state.rawValue }
            rows.append(row)
        }
        for skipped in plan.skipped where skipped.entity.kind != .configuration {
            rows.append(Row(kind: skipped.entity.kind.rawValue, v2ID: skipped.entity.v2ID, v3ID: skipped.entity.v3ID, state: "not_migrated",
                            reason: skipped.reason))
        }
        for application in order where application.kind == .application {
            rows += notMigrated(v2ID: application.v2ID, v3ID: application.v3ID ?? application.v2ID)
        }
        return IDMap(rows: rows)
    }

    /// An entity's state from its steps: the worst one wins (failed, rolled back, skipped, unfinished).
    static func state(of steps: [(id: String, record: StepRecord?)]) -> (String, String?) {
        if let failed = steps.first(where: { $0.record?.state == .failed }) {
            return ("failed", "\(failed.id): \(failed.record?.lastError ?? "failed")")
        }
        if let rolledBack = steps.first(where: { $0.record?.state == .rolledBack }) {
            return ("rolled_back", "\(rolledBack.id) was rolled back")
        }
        if let skipped = steps.first(where: { $0.record?.state == .skipped }) {
            return ("skipped", "\(skipped.id): \(skipped.record?.skipReason ?? "skipped")")
        }
        if let unfinished = steps.first(where: { $0.record?.state != .done }) {
            return ("pending", "\(unfinished.id) is \(unfinished.record?.state.rawValue ?? "not in the journal"): resume `ttn-migrate run`")
        }
        return ("migrated", nil)
    }

    /// What v2 offered for an application that ttn-migrate does not carry over, with what to do.
    static func notMigrated(v2ID: String, v3ID: String) -> [Row] {
        [
            Row(kind: "integration", v2ID: v2ID, v3ID: v3ID, state: "not_migrated",
                reason: "v2 integrations (HTTP Integration, Data Storage, Cayenne, AllThingsTalk, …) are not readable through the v2 APIs: "
                    + "recreate each in the v3 Console under Integrations (most have a v3 equivalent)"),
            Row(kind: "webhook", v2ID: v2ID, v3ID: v3ID, state: "not_migrated",
                reason: "v2 HTTP Integration endpoints become v3 webhooks: create one per endpoint (Console: Integrations > Webhooks, "
                    + "or `ttn-lw-cli applications webhooks set`); v3 messages have a different JSON shape"),
            Row(kind: "mqtt", v2ID: v2ID, v3ID: v3ID, state: "not_migrated",
                reason: "MQTT clients must move to the v3 Application Server's MQTT server (port 1883, TLS 8883) with username "
                    + "\(v3ID)@<tenant> and a v3 API key with traffic rights (`keys --out` lists the migrated keys); topics are v3/\(v3ID)@<tenant>/devices/…"),
        ]
    }

    /// RFC 4180 CSV with a header line, CRLF line ends.
    public func csv() -> String {
        var lines = [Self.columns.joined(separator: ",")]
        for row in rows {
            lines.append([row.kind, row.v2ID, row.v3ID, row.v2KeyName, row.v3KeyID, row.state, row.reason, row.cutover]
                .map { Self.csvField($0 ?? "") }.joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `{"format": "ttn-migrate/id-map", "version": 1, "entities": [...]}`, pretty-printed.
    public func json() throws -> Data {
        struct Document: Encodable {
            var format = "ttn-migrate/id-map"
            var version = 1
            var entities: [Row]
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(Document(entities: rows)) + Data("\n".utf8)
    }
}
