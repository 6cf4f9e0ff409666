import Foundation
import HTTP
import V3Client

/// What undoes one done step: the deletion and how to name it.
public struct UndoAction: Sendable, Equatable {
    /// What to delete in v3.
    public enum Deletion: Sendable, Equatable {
        /// `DELETE` this path (relative to `/api/v3`) on the step's server.
        case path(String)
        /// An API key whose v3 ID the journal does not hold: list the keys at `listPath` and delete each one
        /// named exactly `name`. The name carries this migration's tag, so such a key is this migration's
        /// own (DESIGN.md §6); keys with other names are never touched.
        case apiKeyNamed(listPath: String, name: String)
    }

    public var deletion: Deletion
    /// What is deleted, as an imperative, e.g. "delete application sensors".
    public var summary: String

    public init(deletion: Deletion, summary: String) {
        self.deletion = deletion
        self.summary = summary
    }
}

/// One deletion that undoes a done step, with the undos that must finish before it.
public struct UndoStep: Sendable, Equatable {
    /// The step undone.
    public var stepID: String
    /// The component the deletion goes to.
    public var server: V3Server
    public var action: UndoAction
    /// IDs of the undo steps that must finish first.
    public var after: [String]

    public init(stepID: String, server: V3Server, action: UndoAction, after: [String]) {
        self.stepID = stepID
        self.server = server
        self.action = action
        self.after = after
    }

    /// The request as a user reads it, e.g. `DELETE /api/v3/applications/sensors`.
    public var request: String {
        switch action.deletion {
        case .path(let path): return "DELETE /api/v3\(path)"
        case .apiKeyNamed(let listPath, let name): return "GET /api/v3\(listPath), then DELETE each key named \"\(name)\""
        }
    }
}

/// Reverse dependency order for undoing done steps; shared by `rollback` and `run --on-device-failure
/// rollback`.
public enum UndoOrder {
    /// A device's registries are undone AS, NS, JS, then IS: the official CLI's rollback order
    /// (`reference/v3-api.md` §6). Lower rank first.
    static func deviceRank(_ server: V3Server) -> Int {
        switch server {
        case .applicationServer: return 0
        case .networkServer: return 1
        case .joinServer: return 2
        case .identityServer: return 3
        }
    }

    /// Arranges the undo of the steps in `undo` (keyed by step ID) using the dependencies of `steps` (the
    /// plan's executable steps, in plan order):
    /// - a step is undone after every step to undo that depends on it, directly or through steps that are
    ///   not undone (an application after its devices, keys, collaborators and link);
    /// - within a device group, AS, then NS, then JS, then IS;
    /// - among steps free at the same time, the earliest in plan order comes first, so the list is the
    ///   order a one-at-a-time undo follows, and every run gives the same list.
    ///
    /// Keys of `undo` that `steps` does not hold are left out (the caller reports them).
    public static func arrange(_ undo: [String: UndoAction], in steps: [ExecutionStep]) -> [UndoStep] {
        var position: [String: Int] = [:]
        for (index, step) in steps.enumerated() where position[step.id] == nil { position[step.id] = index }
        var dependents: [String: [String]] = [:]
        for step in steps {
            for dependency in step.dependsOn { dependents[dependency, default: []].append(step.id) }
        }
        let selected = steps.filter { undo[$0.id] != nil && position[$0.id] != nil }
        let selectedIDs = Set(selected.map(\.id))

        var after: [String: Set<String>] = [:]
        for step in selected {
            // Steps to undo that depend on this one, walking through steps that are not undone.
            var found = Set<String>()
            var visited = Set<String>()
            var queue = dependents[step.id] ?? []
            while let next = queue.popLast() {
                guard visited.insert(next).inserted else { continue }
                if selectedIDs.contains(next) {
                    found.insert(next)
                } else {
                    queue.append(contentsOf: dependents[next] ?? [])
                }
            }
            after[step.id] = found
        }
        var groups: [String: [ExecutionStep]] = [:]
        for step in selected { if let group = step.group { groups[group, default: []].append(step) } }
        for members in groups.values {
            for member in members {
                let rank = deviceRank(member.operation.server)
                for other in members where deviceRank(other.operation.server) < rank {
                    after[member.id, default: []].insert(other.id)
                }
            }
        }

        // Kahn's algorithm over "undo after", the earliest plan position first among the free ones.
        var waiting: [String: Int] = [:]
        var unlocks: [String: [String]] = [:]
        for step in selected {
            let prerequisites = after[step.id] ?? []
            waiting[step.id] = prerequisites.count
            for prerequisite in prerequisites { unlocks[prerequisite, default: []].append(step.id) }
        }
        var ready = MinHeap()
        for step in selected where waiting[step.id] == 0 { ready.insert(position[step.id]!) }
        var ordered: [UndoStep] = []
        var emitted = Set<String>()
        while let index = ready.popMin() {
            let step = steps[index]
            emitted.insert(step.id)
            ordered.append(UndoStep(
                stepID: step.id, server: step.operation.server, action: undo[step.id]!,
                after: (after[step.id] ?? []).sorted { position[$0]! < position[$1]! }))
            for next in unlocks[step.id] ?? [] {
                waiting[next]! -= 1
                if waiting[next] == 0 { ready.insert(position[next]!) }
            }
        }
        // A cycle cannot come from a plan (its steps are in dependency order); should one appear, its
        // steps still come last, each after the ones it names, which then never finish: they are reported
        // as waiting instead of being deleted out of order.
        for step in selected.reversed() where !emitted.contains(step.id) {
            ordered.append(UndoStep(
                stepID: step.id, server: step.operation.server, action: undo[step.id]!,
                after: (after[step.id] ?? []).sorted { position[$0]! < position[$1]! }))
        }
        return ordered
    }
}

/// A binary min-heap of plan positions.
struct MinHeap {
    private var items: [Int] = []

    var isEmpty: Bool { items.isEmpty }

    mutating func insert(_ value: Int) {
        items.append(value)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popMin() -> Int? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < items.count, items[left] < items[smallest] { smallest = left }
                if right < items.count, items[right] < items[smallest] { smallest = right }
                if smallest == parent { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return first
    }
}
