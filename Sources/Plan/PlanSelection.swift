import Foundation
import Mapping

/// A `--devices` or `--gateways` entry that names nothing in the plan. Exit code 2; nothing was sent.
public struct PlanSelectionError: Error, CustomStringConvertible, Equatable {
    public var kind: String
    public var unknown: [String]

    public init(kind: String, unknown: [String]) {
        self.kind = kind
        self.unknown = unknown
    }

    public var description: String {
        "--\(kind)s names \(unknown.count == 1 ? "a \(kind)" : "\(kind)s") this migration's plan does not hold: "
            + unknown.prefix(10).joined(separator: ", ") + (unknown.count > 10 ? " and \(unknown.count - 10) more" : "")
            + "; give v2 IDs (\(kind == "device" ? "application/device" : "gateway")) or v3 IDs as `ttn-migrate plan` lists them"
    }
}


extension MigrationPlan {
    /// The plan cut down to the devices `selection` names (v2 `application/device` or v3 IDs) and
    /// what their steps need first (their application's creation): `run --devices`. Everything else
    /// stays out of this run; a later run without the selection adds it.
    public func restricted(toDevices selection: [String]) throws(PlanSelectionError) -> MigrationPlan {
        var names: Set<String> = []
        for step in steps where step.entity.kind == .device {
            names.insert(step.entity.v2ID)
            if let v3ID = step.entity.v3ID { names.insert(v3ID) }
        }
        let unknown = selection.filter { !names.contains($0) }
        if !unknown.isEmpty { throw PlanSelectionError(kind: "device", unknown: unknown) }
        let chosen = Set(selection)
        var keep = Set(steps.filter { $0.entity.kind == .device && (chosen.contains($0.entity.v2ID) || $0.entity.v3ID.map(chosen.contains) == true) }.map(\.id))
        let byID = Dictionary(steps.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var queue = Array(keep)
        while let id = queue.popLast() {
            for dependency in byID[id]?.dependsOn ?? [] where keep.insert(dependency).inserted { queue.append(dependency) }
        }
        var copy = self
        copy.steps = steps.filter { keep.contains($0.id) }
        return copy
    }
}
