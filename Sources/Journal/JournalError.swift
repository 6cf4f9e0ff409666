import Foundation

/// Why the journal refused an operation. Each case names the file or step, what is wrong and what to
/// do next; none ever carries a secret.
public enum JournalError: Error, Sendable, Hashable, CustomStringConvertible, LocalizedError {
    /// `openForReading` of a path where no file exists.
    case notFound(path: String)
    /// The file could not be created, opened or given mode 0600 (missing directory, permissions, …).
    case openFailed(path: String, reason: String)
    /// The file is not a SQLite database at all.
    case notADatabase(path: String, reason: String)
    /// The file is a SQLite database of another program.
    case foreignDatabase(path: String)
    /// The file is a journal, but damaged.
    case corrupt(path: String, reason: String)
    /// The journal's schema is newer than this build knows.
    case newerSchema(path: String, found: Int, known: Int)
    /// Applying a schema migration failed; the journal is left at its previous version.
    case migrationFailed(path: String, migration: String, reason: String)
    /// The embedded (or given) migrations are not numbered 1, 2, … without gaps.
    case invalidMigrations(reason: String)
    /// The journal has its schema but no target: it was never bound by a run.
    case unbound(path: String)
    /// The journal belongs to another target than the one requested.
    case targetMismatch(path: String, journal: JournalTarget, requested: JournalTarget)
    /// Another process holds the journal for writing.
    case inUse(path: String)
    /// A query failed.
    case readFailed(path: String, reason: String)
    /// A write (or the commit of a batch of writes) failed; nothing after the last commit is kept.
    case writeFailed(path: String, reason: String)
    /// A state change the state machine does not allow.
    case illegalTransition(step: String, from: StepState, to: StepState)
    /// A step ID the journal does not hold.
    case unknownStep(step: String)
    /// Steps given to `upsertPlannedSteps` that cannot be stored.
    case invalidPlan(reason: String)
    /// A step or key was recorded before `startRun`.
    case noRunStarted(path: String)
    /// A change was asked of a journal opened with `openForReading`.
    case readOnly(path: String)
    /// The journal was closed.
    case closed(path: String)

    /// The message, naming the file or step, the problem and the next step.
    public var description: String {
        let restart = "pass --journal the journal of this migration, or a path that does not exist yet to start a new one"
        switch self {
        case .notFound(let path):
            return "no journal at \(path): check the --journal path (`ttn-migrate run` creates the journal)"
        case .openFailed(let path, let reason):
            return "cannot open journal \(path): \(reason); check the directory exists and is writable by you, or choose another --journal path"
        case .notADatabase(let path, let reason):
            return "\(path) is not a ttn-migrate journal: it is not a SQLite database (\(reason)); \(restart)"
        case .foreignDatabase(let path):
            return "\(path) is a SQLite database of another program, not a ttn-migrate journal; \(restart)"
        case .corrupt(let path, let reason):
            return "journal \(path) is damaged (\(reason)); restore it from a backup, or move it aside and start a new journal (the new run reconciles with what v3 already holds)"
        case .newerSchema(let path, let found, let known):
            return "journal \(path) was written by a newer ttn-migrate (schema \(found), this build knows \(known)): upgrade ttn-migrate"
        case .migrationFailed(let path, let migration, let reason):
            return "cannot upgrade journal \(path) with \(migration): \(reason); the journal is unchanged; free disk space or fix the permissions, then run the same command again"
        case .invalidMigrations(let reason):
            return "the journal migrations of this build are invalid: \(reason)"
        case .unbound(let path):
            return "journal \(path) records no target: it was never used by `ttn-migrate run`; \(restart)"
        case .targetMismatch(let path, let journal, let requested):
            return "journal \(path) belongs to target \(journal), not \(requested): use the journal of \(requested), or a new --journal path to start a migration to it"
        case .inUse(let path):
            return "journal \(path) is in use by another ttn-migrate process: wait for it to end or stop it, then run the command again"
        case .readFailed(let path, let reason):
            return "cannot read journal \(path): \(reason); check the file and its disk, then run the command again"
        case .writeFailed(let path, let reason):
            return "journal write failed: \(reason) (\(path)); the run stopped cleanly; fix the cause and run the same command to resume"
        case .illegalTransition(let step, let from, let to):
            let allowed = StepState.allCases.filter { from.allowedNext.contains($0) }.map(\.rawValue).joined(separator: ", ")
            return "step \(step) cannot go from \(from) to \(to) (from \(from) it may go to: \(allowed)); this is a bug in ttn-migrate: report it with the output of `ttn-migrate status`"
        case .unknownStep(let step):
            return "step \(step) is not in the journal; this is a bug in ttn-migrate: report it with the output of `ttn-migrate status`"
        case .invalidPlan(let reason):
            return "cannot record the plan in the journal: \(reason); this is a bug in ttn-migrate: report it with the output of `ttn-migrate plan`"
        case .noRunStarted(let path):
            return "no run was started on journal \(path) before recording progress; this is a bug in ttn-migrate: report it"
        case .readOnly(let path):
            return "journal \(path) was opened for reading only; use `ttn-migrate run` to change it"
        case .closed(let path):
            return "journal \(path) is closed; open it again to use it"
        }
    }

    /// Same as `description`.
    public var errorDescription: String? { description }
}
