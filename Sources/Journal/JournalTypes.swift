import Foundation

/// The v3 deployment and owner a journal belongs to: the Identity Server URL plus the owning user or
/// organization (DESIGN.md §6).
///
/// Stored when the journal is created; opening the journal for another target is refused, so one
/// migration's progress can never be applied to another stack or owner. URLs are compared after
/// trimming white space and trailing slashes and lower-casing the scheme and host.
public struct JournalTarget: Sendable, Hashable, CustomStringConvertible {
    /// Whether the owner is a user or an organization.
    public enum OwnerKind: String, Sendable, Hashable, CaseIterable {
        case user
        case organization
    }

    /// The Identity Server base URL, normalised (see the type's summary).
    public let identityServerURL: String
    /// Whether `ownerID` names a user or an organization.
    public let ownerKind: OwnerKind
    /// The v3 user or organization ID that owns what the migration creates.
    public let ownerID: String

    /// Makes a target; `identityServerURL` is normalised as the type's summary says.
    public init(identityServerURL: String, ownerKind: OwnerKind, ownerID: String) {
        self.identityServerURL = Self.normalise(url: identityServerURL)
        self.ownerKind = ownerKind
        self.ownerID = ownerID.trimmingCharacters(in: .whitespaces)
    }

    /// `https://eu1.cloud.thethings.network (user alice)`.
    public var description: String { "\(identityServerURL) (\(ownerKind.rawValue) \(ownerID))" }

    static func normalise(url: String) -> String {
        var text = url.trimmingCharacters(in: .whitespacesAndNewlines)
        while text.hasSuffix("/") { text.removeLast() }
        guard let schemeEnd = text.range(of: "://") else { return text }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        let rest = text[schemeEnd.upperBound...]
        let hostEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        return scheme + "://" + rest[..<hostEnd].lowercased() + rest[hostEnd...]
    }
}

/// The v3 component a step writes to (`reference/v3-api.md`: each request goes to its component's URL).
public enum StepComponent: String, Sendable, Hashable, CaseIterable, Comparable {
    case identityServer = "is"
    case joinServer = "js"
    case networkServer = "ns"
    case applicationServer = "as"

    /// Order of the multi-server device flow: IS, JS, NS, AS.
    public static func < (lhs: StepComponent, rhs: StepComponent) -> Bool { lhs.flowIndex < rhs.flowIndex }

    private var flowIndex: Int {
        switch self {
        case .identityServer: return 0
        case .joinServer: return 1
        case .networkServer: return 2
        case .applicationServer: return 3
        }
    }
}

/// Where a step is in its life (DESIGN.md §6). Legal moves: `StepState.allowedNext`.
public enum StepState: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Planned, not attempted in the current attempt cycle.
    case pending
    /// An attempt started (requests may have reached v3): reconciled on resume.
    case inFlight = "in_flight"
    /// Applied in v3 (or found there as this migration's own): final except for rollback.
    case done
    /// The last attempt failed; retried on resume.
    case failed
    /// Not attempted because it is known to be impossible (the reason is recorded).
    case skipped
    /// Was done, then undone by an explicit rollback.
    case rolledBack = "rolled_back"

    /// The stored spelling (`in_flight`, `rolled_back`, …).
    public var description: String { rawValue }

    /// The states a step in this state may move to.
    ///
    /// - `pending → in_flight` (an attempt starts), `→ skipped` (known impossible before any attempt), or
    ///   `→ done` / `→ failed` when reconciliation (a read of v3 before sending, DESIGN.md §6) finds it
    ///   already applied by this migration / held by someone else;
    /// - `in_flight → done | failed | skipped`, `→ in_flight` (a retry after a transient error, DESIGN.md
    ///   §7: one more attempt), or `→ pending` when a resume resets an interrupted attempt;
    /// - `failed → in_flight` (retry or resume), `→ done` / `→ failed` (reconciled on resume), or
    ///   `→ skipped` (a later check finds it impossible);
    /// - `skipped → pending` (a later run no longer finds it impossible);
    /// - `done → rolled_back` only (explicit rollback): done is final otherwise;
    /// - `rolled_back → pending` (migrate it again).
    public var allowedNext: Set<StepState> { Set(Self.allCases.filter(allows)) }

    /// Whether a step in this state may move to `next`: the journal asks on every change, so this builds
    /// no set. `pending` and `failed` go to an attempt or to its outcome; an attempt goes anywhere but
    /// `rolled_back`; only a done step is rolled back; a skipped or rolled-back step goes back to `pending`.
    public func allows(_ next: StepState) -> Bool {
        switch self {
        case .pending, .failed: return next == .inFlight || next == .done || next == .failed || next == .skipped
        case .inFlight: return next != .rolledBack
        case .done: return next == .rolledBack
        case .skipped, .rolledBack: return next == .pending
        }
    }
}

/// What the executor needs to know of a step when a run starts.
public struct StepProgress: Sendable, Hashable {
    /// Its state.
    public var state: StepState
    /// Attempts started so far.
    public var attempts: Int
    /// True if the journal holds the secret of the API key the step created.
    public var hasAPIKeySecret: Bool

    /// Makes a progress value.
    public init(state: StepState, attempts: Int, hasAPIKeySecret: Bool) {
        self.state = state
        self.attempts = attempts
        self.hasAPIKeySecret = hasAPIKeySecret
    }
}

/// A step of the plan as the journal stores it: identity and description, no progress.
///
/// The journal knows nothing of the `Plan` module: the executor maps each plan step onto one of these.
public struct PlannedStep: Sendable, Hashable {
    /// Stable ID: entity plus action, e.g. `application:my-app:create`. Same plan, same IDs.
    public var id: String
    /// What the step does, e.g. `create_application`.
    public var kind: String
    /// The kind of entity it acts on, e.g. `application`, `gateway`, `device`, `api_key`.
    public var entityType: String
    /// The entity's key, e.g. `my-app` or `my-app/my-device`.
    public var entityKey: String
    /// The component the step writes to.
    public var component: StepComponent

    /// Makes a planned step.
    public init(id: String, kind: String, entityType: String, entityKey: String, component: StepComponent) {
        self.id = id
        self.kind = kind
        self.entityType = entityType
        self.entityKey = entityKey
        self.component = component
    }
}

/// A step as recorded in the journal: its description and its progress.
public struct StepRecord: Sendable, Hashable {
    /// Stable step ID.
    public var id: String
    /// What the step does.
    public var kind: String
    /// The kind of entity it acts on.
    public var entityType: String
    /// The entity's key.
    public var entityKey: String
    /// The component it writes to.
    public var component: StepComponent
    /// Current state.
    public var state: StepState
    /// How many attempts started (each `→ in_flight` counts one).
    public var attempts: Int
    /// The last error message (kept after a later success, for history).
    public var lastError: String?
    /// The server's correlation ID of the last error, when it gave one.
    public var lastErrorCorrelationID: String?
    /// What the step created (v3 IDs and values), once done.
    public var result: [String: String]?
    /// Why the step was skipped, while it is skipped.
    public var skipReason: String?
    /// Index of the step in the latest plan that listed it.
    public var planPosition: Int
    /// When the step entered the journal.
    public var createdAt: Date
    /// When the step last changed.
    public var updatedAt: Date
    /// When its first attempt started.
    public var firstAttemptedAt: Date?
    /// When its latest attempt started.
    public var lastAttemptedAt: Date?
    /// The run that last changed it.
    public var runID: Int64

    /// Makes a record (the journal makes these; tests compare with hand-written ones).
    public init(
        id: String, kind: String, entityType: String, entityKey: String, component: StepComponent,
        state: StepState, attempts: Int, lastError: String?, lastErrorCorrelationID: String?,
        result: [String: String]?, skipReason: String?, planPosition: Int, createdAt: Date, updatedAt: Date,
        firstAttemptedAt: Date?, lastAttemptedAt: Date?, runID: Int64
    ) {
        self.id = id
        self.kind = kind
        self.entityType = entityType
        self.entityKey = entityKey
        self.component = component
        self.state = state
        self.attempts = attempts
        self.lastError = lastError
        self.lastErrorCorrelationID = lastErrorCorrelationID
        self.result = result
        self.skipReason = skipReason
        self.planPosition = planPosition
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.firstAttemptedAt = firstAttemptedAt
        self.lastAttemptedAt = lastAttemptedAt
        self.runID = runID
    }
}

/// What `upsertPlannedSteps` did: new steps inserted as pending, existing ones kept as they were.
public struct PlanUpsertReport: Sendable, Hashable {
    /// IDs of the steps that were new, in plan order.
    public var inserted: [String]
    /// How many planned steps were already in the journal (their states are kept).
    public var kept: Int
    /// IDs of kept steps whose kind, entity or component differed from the plan (now updated).
    public var redescribed: [String]
    /// Steps the journal holds that the plan no longer lists (e.g. the v2 entity is gone), by ID.
    public var notInPlan: [StepRecord]

    /// Makes a report.
    public init(inserted: [String], kept: Int, redescribed: [String], notInPlan: [StepRecord]) {
        self.inserted = inserted
        self.kept = kept
        self.redescribed = redescribed
        self.notInPlan = notInPlan
    }
}

/// What a run records about itself when it starts.
///
/// `commandLine` must hold no secret; ttn-migrate takes secrets only from the environment or files
/// (DESIGN.md §3), so its arguments are safe to store.
public struct RunInfo: Sendable, Hashable {
    /// The ttn-migrate version that ran.
    public var toolVersion: String
    /// The arguments it was started with, without secrets.
    public var commandLine: [String]
    /// The frozen v2 snapshot the run used, if any.
    public var snapshotPath: String?
    /// Hex SHA-256 of that snapshot.
    public var snapshotSHA256: String?
    /// The fingerprint of the plan the run carries out (`migrations/0003_plan_fingerprint.sql`); nil for
    /// commands that carry out no plan.
    public var planFingerprint: String?

    /// Makes run information.
    public init(
        toolVersion: String, commandLine: [String], snapshotPath: String? = nil, snapshotSHA256: String? = nil, planFingerprint: String? = nil
    ) {
        self.toolVersion = toolVersion
        self.commandLine = commandLine
        self.snapshotPath = snapshotPath
        self.snapshotSHA256 = snapshotSHA256
        self.planFingerprint = planFingerprint
    }
}

/// How a run ended.
public enum RunOutcome: String, Sendable, Hashable, CaseIterable {
    /// Every step ended done or skipped.
    case completed
    /// The run ended with failed steps.
    case failed
    /// Stopped by the user (Ctrl-C).
    case interrupted
    /// Stopped by an error that was not a step's (e.g. the journal could not be written).
    case stopped
}

/// A run as recorded, with what it did.
public struct RunSummary: Sendable, Hashable {
    /// Run ID (1, 2, … in start order).
    public var id: Int64
    /// When it started.
    public var startedAt: Date
    /// When it finished; nil if it never recorded an end (killed, or still running).
    public var finishedAt: Date?
    /// How it ended; nil if it never recorded an end.
    public var outcome: RunOutcome?
    /// The ttn-migrate version that ran.
    public var toolVersion: String
    /// Its arguments (no secrets).
    public var commandLine: [String]
    /// The API key name tag it used.
    public var runTag: String
    /// The frozen snapshot it used.
    public var snapshotPath: String?
    /// Hex SHA-256 of that snapshot.
    public var snapshotSHA256: String?
    /// The fingerprint of the plan it carried out; nil for commands that carry out no plan and runs of earlier builds.
    public var planFingerprint: String?
    /// Steps it moved to done / failed / skipped (counted from the state-change log).
    public var stepsDone: Int
    /// See `stepsDone`.
    public var stepsFailed: Int
    /// See `stepsDone`.
    public var stepsSkipped: Int
    /// First and last state change it recorded; nil if it recorded none.
    public var activity: ActivitySpan?

    /// Makes a summary.
    public init(
        id: Int64, startedAt: Date, finishedAt: Date?, outcome: RunOutcome?, toolVersion: String,
        commandLine: [String], runTag: String, snapshotPath: String?, snapshotSHA256: String?, planFingerprint: String? = nil,
        stepsDone: Int, stepsFailed: Int, stepsSkipped: Int, activity: ActivitySpan?
    ) {
        self.id = id
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.outcome = outcome
        self.toolVersion = toolVersion
        self.commandLine = commandLine
        self.runTag = runTag
        self.snapshotPath = snapshotPath
        self.snapshotSHA256 = snapshotSHA256
        self.planFingerprint = planFingerprint
        self.stepsDone = stepsDone
        self.stepsFailed = stepsFailed
        self.stepsSkipped = stepsSkipped
        self.activity = activity
    }
}

/// First and last recorded activity.
public struct ActivitySpan: Sendable, Hashable {
    /// The earliest state change.
    public var first: Date
    /// The latest state change.
    public var last: Date

    /// Makes a span.
    public init(first: Date, last: Date) {
        self.first = first
        self.last = last
    }

    /// `last - first`, in seconds.
    public var duration: TimeInterval { last.timeIntervalSince(first) }
}

/// The progress of one entity across components, e.g. a device's IS, JS, NS and AS steps.
public struct EntityProgress: Sendable, Hashable {
    /// The entity's key.
    public var entityKey: String
    /// Per component, the combined state of the entity's steps on it: the first of failed, in_flight,
    /// pending, skipped, rolled_back that any of them has, else done.
    public var states: [StepComponent: StepState]

    /// Makes a progress value.
    public init(entityKey: String, states: [StepComponent: StepState]) {
        self.entityKey = entityKey
        self.states = states
    }

    /// Components on which every step of the entity is done.
    public var doneComponents: Set<StepComponent> { Set(states.filter { $0.value == .done }.keys) }
    /// True when the entity's steps are done on every component it has steps on.
    public var isComplete: Bool { !states.isEmpty && states.values.allSatisfy { $0 == .done } }
}

/// A v3 API key the executor just created, to store with the done-mark of its step.
///
/// Its description never shows the secret.
public struct CreatedAPIKey: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The kind of entity the key belongs to (`application`, `gateway`).
    public var entityType: String
    /// The v3 ID of that entity.
    public var entityID: String
    /// The key's v3 ID.
    public var keyID: String
    /// The key's name (with the migration's tag).
    public var keyName: String
    /// The secret v3 showed once.
    public var secret: String
    /// The v3 rights it holds.
    public var rights: [String]
    /// The name of the v2 access key it replaces.
    public var replacesV2KeyName: String

    /// Makes a created-key value.
    public init(
        entityType: String, entityID: String, keyID: String, keyName: String, secret: String,
        rights: [String], replacesV2KeyName: String
    ) {
        self.entityType = entityType
        self.entityID = entityID
        self.keyID = keyID
        self.keyName = keyName
        self.secret = secret
        self.rights = rights
        self.replacesV2KeyName = replacesV2KeyName
    }

    /// Names the key, never its secret.
    public var description: String { "API key \(keyID) \"\(keyName)\" of \(entityType) \(entityID) (secret hidden)" }
    /// Same as `description`.
    public var debugDescription: String { description }
}

/// A stored API key with its secret, for `ttn-migrate keys`.
///
/// Only keys whose step is done are stored: rollback deletes the key in v3 and its secret here.
/// Its description never shows the secret.
public struct APIKeyRecord: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The step that created it.
    public var stepID: String
    /// The run that created it.
    public var runID: Int64
    /// The key as created.
    public var key: CreatedAPIKey
    /// When it was stored.
    public var createdAt: Date

    /// Makes a record.
    public init(stepID: String, runID: Int64, key: CreatedAPIKey, createdAt: Date) {
        self.stepID = stepID
        self.runID = runID
        self.key = key
        self.createdAt = createdAt
    }

    /// Names the key and its step, never its secret.
    public var description: String { "\(key) from step \(stepID)" }
    /// Same as `description`.
    public var debugDescription: String { description }
}

/// Something worth telling the user about the journal that did not stop it from opening.
public struct JournalWarning: Sendable, Hashable, CustomStringConvertible {
    /// The message, naming the file and what was done.
    public var message: String

    /// Makes a warning.
    public init(message: String) { self.message = message }

    /// The message.
    public var description: String { message }
}
