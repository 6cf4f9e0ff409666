import Foundation
import Journal
import Mapping
import Plan

/// What a migration did per kind of entity, from its journal (the record of truth, DESIGN.md §6).
///
/// An entity is counted once: a device with its IS, JS, NS and AS steps is one device. Its state is the
/// worst of its steps: `failed` if any failed, else `skipped` if any was skipped, else `done` when all
/// are done, else `notRun` (pending, or waiting on a failed or skipped step).
struct MigratedCounts: Equatable {
    struct Row: Equatable {
        var label: String
        var done = 0
        var skipped = 0
        var failed = 0
        var notRun = 0
    }

    /// In the order of the mission table (DESIGN.md §2).
    var rows: [Row]

    /// Labels by journal entity type (`EntityKind` raw values).
    static let labels: [(entityType: String, label: String)] = [
        (EntityKind.application.rawValue, "applications"),
        (EntityKind.applicationCollaborator.rawValue, "application collaborators"),
        (EntityKind.applicationAPIKey.rawValue, "application API keys"),
        (EntityKind.applicationLink.rawValue, "payload formatters (links)"),
        (EntityKind.gateway.rawValue, "gateways"),
        (EntityKind.gatewayCollaborator.rawValue, "gateway collaborators"),
        (EntityKind.gatewayAPIKey.rawValue, "gateway link keys"),
        (EntityKind.device.rawValue, "devices"),
    ]

    init(steps: [StepRecord]) {
        var states: [String: [String: [StepState]]] = [:]
        for step in steps { states[step.entityType, default: [:]][step.entityKey, default: []].append(step.state) }
        rows = Self.labels.map { entityType, label in
            var row = Row(label: label)
            for stepStates in (states[entityType] ?? [:]).values {
                if stepStates.contains(.failed) {
                    row.failed += 1
                } else if stepStates.contains(.skipped) {
                    row.skipped += 1
                } else if stepStates.allSatisfy({ $0 == .done }) {
                    row.done += 1
                } else {
                    row.notRun += 1
                }
            }
            return row
        }
    }

    /// The table, one line per kind, e.g. `  applications                    7        0       0        0`.
    var lines: [String] {
        let width = max(rows.map(\.label.count).max() ?? 0, 24)
        func pad(_ text: String, _ count: Int) -> String { text + String(repeating: " ", count: max(0, count - text.count)) }
        func right(_ number: Int) -> String { let text = String(number); return String(repeating: " ", count: max(0, 8 - text.count)) + text }
        var lines = ["  " + pad("migrated to v3", width) + "    done skipped  failed not run"]
        for row in rows {
            lines.append("  " + pad(row.label, width) + right(row.done) + right(row.skipped) + right(row.failed) + right(row.notRun))
        }
        return lines
    }
}

/// The entities the plan leaves out, grouped by kind and reason so twenty identical reasons read as one line.
enum PlanSkipSummary {
    /// E.g. `15 gateway collaborators: alice is the owner and already holds all rights (RIGHT_GATEWAY_ALL)` or
    /// `device parking_sensors/p-003: has neither an AppKey nor a session (DevAddr, NwkSKey, AppSKey)`.
    static func lines(_ skipped: [SkippedEntity]) -> [String] {
        var groups: [(kind: EntityKind, reason: String, entities: [EntityRef])] = []
        for entity in skipped {
            if let index = groups.firstIndex(where: { $0.kind == entity.entity.kind && $0.reason == entity.reason }) {
                groups[index].entities.append(entity.entity)
            } else {
                groups.append((entity.entity.kind, entity.reason, [entity.entity]))
            }
        }
        // Largest groups first; then by kind and entity, so the order never depends on chance.
        groups.sort { left, right in
            if left.entities.count != right.entities.count { return left.entities.count > right.entities.count }
            if left.kind != right.kind { return left.kind < right.kind }
            return left.entities[0] < right.entities[0]
        }
        return groups.map { group in
            if group.entities.count == 1 { return "\(group.entities[0]): \(group.reason)" }
            let plural = MigratedCounts.labels.first { $0.entityType == group.kind.rawValue }?.label ?? group.kind.rawValue
            return "\(group.entities.count) \(plural): \(group.reason)"
        }
    }
}

/// Seconds of a duration, for display.
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
