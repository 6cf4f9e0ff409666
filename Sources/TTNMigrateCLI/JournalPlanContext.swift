import Foundation
import Journal
import Plan
import V2Model

/// The journal a command after `run` works on (`rollback`, `cutover`, `export-map`), checked against
/// the configuration, and the plan its runs executed, rebuilt as `run` builds it: from the v2 estate
/// frozen beside the journal and the journal's run tag (DESIGN.md §6).
struct JournalPlanContext {
    let configuration: MigrationConfiguration
    let journalPath: String
    /// The command, for messages: `rollback`, `cutover`.
    let command: String

    /// The target the configuration names (the journal must be bound to it).
    func target() throws -> JournalTarget {
        let endpoints = try configuration.endpoints()
        guard let owner = configuration.target.owner else {
            throw ConfigurationError.missing(key: "target.owner", hint: "`{ user: ID }` or `{ organization: ID }`")
        }
        return JournalTarget(identityServerURL: endpoints.identityServer, ownerKind: owner.kind == "user" ? .user : .organization, ownerID: owner.id)
    }

    /// Opens the journal read-only; a missing or never-bound journal is refused, and one of another target.
    func openForReading(options: JournalOptions) throws -> JournalStore {
        let target = try target()
        let store = try JournalStore.openForReading(at: journalPath, options: options)
        guard store.target == target else {
            let bound = store.target
            Task { try? await store.close() }
            throw JournalError.targetMismatch(path: journalPath, journal: bound, requested: target)
        }
        return store
    }

    /// Opens the journal for writing after checking, read-only, that it exists and belongs to the
    /// target (so opening cannot bind a new file).
    func openForWriting(options: JournalOptions) async throws -> JournalStore {
        let reader = try openForReading(options: options)
        try await reader.close()
        return try JournalStore.open(at: journalPath, target: try target(), options: options)
    }

    /// Runs `body` on the journal opened read-only (`openForReading`), closing it whatever happens.
    func reading<T>(options: JournalOptions, _ body: (JournalStore) async throws -> T) async throws -> T {
        try await Self.closing(try openForReading(options: options), body)
    }

    /// Runs `body` on the journal opened for writing (`openForWriting`), closing it whatever happens.
    func writing<T>(options: JournalOptions, _ body: (JournalStore) async throws -> T) async throws -> T {
        try await Self.closing(try await openForWriting(options: options), body)
    }

    private static func closing<T>(_ store: JournalStore, _ body: (JournalStore) async throws -> T) async throws -> T {
        do {
            let value = try await body(store)
            try await store.close()
            return value
        } catch {
            try? await store.close()
            throw error
        }
    }

    /// The frozen v2 estate kept beside the journal by `run`.
    var frozenSnapshotPath: String { MigrationRunner.frozenSnapshotPath(journal: journalPath) }

    /// The frozen estate and the plan rebuilt from it with the journal's run tag.
    func rebuildPlan(_ store: JournalStore) throws -> (estate: V2Snapshot, plan: MigrationPlan) {
        guard FileManager.default.fileExists(atPath: frozenSnapshotPath) else {
            throw JournalPlanError.frozenEstateMissing(path: frozenSnapshotPath, journal: journalPath, command: command)
        }
        let estate = try SnapshotFile.read(path: frozenSnapshotPath)
        return (estate, try Planner.plan(snapshot: estate, options: try configuration.mappingOptions(runTag: store.migrationTag)))
    }
}

/// Why a command after `run` did not start. Exit code 2; nothing was changed.
enum JournalPlanError: Error, CustomStringConvertible {
    case frozenEstateMissing(path: String, journal: String, command: String)

    var description: String {
        switch self {
        case .frozenEstateMissing(let path, let journal, let command):
            return "the v2 estate frozen beside journal \(journal) is missing (\(path)); \(command) rebuilds the migration's plan from it: "
                + "restore the file from a backup (it is written by the journal's first `ttn-migrate run`); nothing was changed"
        }
    }
}
