import Foundation

/// When buffered state changes are committed (group commit, DESIGN.md §6).
///
/// A commit happens when `maxBatch` changes are waiting, or `maxDelay` after the oldest waiting
/// change, or on `flush()`, whichever comes first. A step done with an API key secret, and every
/// operation that is not a plain state change (runs, plan, resets), commits at once. Losing the
/// unflushed changes in a crash is safe because the executor reconciles every step that is not done
/// by reading v3 before sending anything on resume.
public struct GroupCommitPolicy: Sendable, Hashable {
    /// Commit once this many changes wait (1 or less: every change commits before its call returns).
    public var maxBatch: Int
    /// Commit at the latest this long after the oldest waiting change.
    public var maxDelay: Duration

    /// Makes a policy.
    public init(maxBatch: Int, maxDelay: Duration) {
        self.maxBatch = maxBatch
        self.maxDelay = maxDelay
    }

    /// 512 changes or 200 ms: about 5 commits (fsyncs) a second at low rates, and at 3,000 requests a
    /// second (6,000 changes) about 12 instead of the 94 a 64-change batch would take. A crash loses
    /// at most 200 ms of changes either way; the batch bound only caps one commit's size.
    public static let standard = GroupCommitPolicy(maxBatch: 512, maxDelay: .milliseconds(200))
    /// Every change commits (and is durable) before its call returns.
    public static let eachChange = GroupCommitPolicy(maxBatch: 1, maxDelay: .zero)

    var commitsEachChange: Bool { maxBatch <= 1 }
}

/// Faults injected into journal writes, so the executor's clean, resumable stop can be tested.
public struct JournalFaultInjection: Sendable, Hashable {
    /// The write transaction with this number fails and rolls back (counted from 1 after opening:
    /// each batch commit, run start or end, plan upsert and reset is one write).
    public var failingWriteNumber: Int?
    /// The journal file may not grow beyond this many bytes (SQLite `max_page_count`): writes that
    /// need more fail as on a full disk.
    public var maxSizeBytes: Int?

    /// Makes an injection.
    public init(failingWriteNumber: Int? = nil, maxSizeBytes: Int? = nil) {
        self.failingWriteNumber = failingWriteNumber
        self.maxSizeBytes = maxSizeBytes
    }

    /// No fault.
    public static let none = JournalFaultInjection()
    /// The write with this number fails.
    public static func failWrite(number: Int) -> JournalFaultInjection { JournalFaultInjection(failingWriteNumber: number) }
    /// The journal cannot grow beyond `bytes`.
    public static func maxSize(bytes: Int) -> JournalFaultInjection { JournalFaultInjection(maxSizeBytes: bytes) }
}

/// How a journal is opened. The defaults are what the CLI uses; tests set the rest.
public struct JournalOptions: Sendable {
    /// When state changes are committed.
    public var groupCommit: GroupCommitPolicy
    /// Faults to inject into writes (tests only).
    public var faults: JournalFaultInjection
    /// The time source for every timestamp the journal records.
    public var clock: @Sendable () -> Date
    /// The tag a new journal puts into API key names; nil or empty: 8 random characters `[a-z0-9]`.
    /// Ignored when the journal exists (its tag is kept).
    public var migrationTag: String?
    /// The schema migrations to apply (this build's own unless a test replaces them).
    public var migrations: [JournalMigration]
    /// Run SQLite's `quick_check` when opening an existing journal (catches damaged files early).
    public var verifyIntegrityOnOpen: Bool

    /// Makes options; every parameter has the CLI's default.
    public init(
        groupCommit: GroupCommitPolicy = .standard,
        faults: JournalFaultInjection = .none,
        clock: @escaping @Sendable () -> Date = { Date() },
        migrationTag: String? = nil,
        migrations: [JournalMigration] = JournalMigration.embedded,
        verifyIntegrityOnOpen: Bool = true
    ) {
        self.groupCommit = groupCommit
        self.faults = faults
        self.clock = clock
        self.migrationTag = migrationTag
        self.migrations = migrations
        self.verifyIntegrityOnOpen = verifyIntegrityOnOpen
    }
}

/// How many write transactions a journal committed and how many state changes they carried.
public struct JournalCommitStatistics: Sendable, Hashable {
    /// Write transactions committed since opening.
    public var commits: Int
    /// State changes they carried.
    public var changes: Int

    /// Makes statistics.
    public init(commits: Int, changes: Int) {
        self.commits = commits
        self.changes = changes
    }
}
