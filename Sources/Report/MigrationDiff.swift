import Foundation
import Plan
import Mapping
import V3Client
import V3Model

/// How one entity of v3 compares with what the migration intends (DESIGN.md §1 `diff`).
public enum DiffStatus: String, Hashable, Sendable, CaseIterable {
    /// v3 holds the entity exactly as intended (zero values and absent fields count as equal).
    case equal
    /// v3 holds the entity, but at least one field differs: see `DiffEntry.fields`.
    case differs
    /// The plan intends the entity but v3 does not hold it (or this key cannot read it).
    case missingInV3 = "missing-in-v3"
    /// v3 holds the entity under the owner, but the plan does not know it.
    case onlyInV3 = "only-in-v3"

    /// Words for people: `equal`, `differs`, `missing in v3`, `only in v3`.
    public var label: String {
        switch self {
        case .equal: return "equal"
        case .differs: return "differs"
        case .missingInV3: return "missing in v3"
        case .onlyInV3: return "only in v3"
        }
    }
}

/// One side of a field difference.
public enum FieldValue: Hashable, Sendable {
    /// Absent, null or a zero value (v3 omits zero values, so they are the same thing).
    case none
    /// A value, shown as JSON.
    case value(V3JSONValue)
    /// Key material (device root or session key): compared, never shown.
    case hidden
    /// A whole record (a device's part in one v3 component) exists.
    case present

    /// How renderings for people show it: JSON text, `none`, `(value hidden)` or `present`.
    public var text: String {
        switch self {
        case .none: return "none"
        case .value(let value): return DiffJSONText.compact(value)
        case .hidden: return FieldValue.hiddenText
        case .present: return "present"
        }
    }

    /// The text that stands for key material in every rendering.
    public static let hiddenText = "(value hidden)"
}

/// One field whose intended and actual values differ.
public struct FieldDifference: Hashable, Sendable {
    /// The component that holds the field (device parts: JS, NS, AS, IS); nil for entities held by one component.
    public var component: V3Server?
    /// Dotted path of the field, with `[i]` for list items; empty for a whole device part.
    public var path: String
    public var expected: FieldValue
    public var actual: FieldValue

    public init(component: V3Server? = nil, path: String, expected: FieldValue, actual: FieldValue) {
        self.component = component
        self.path = path
        self.expected = expected
        self.actual = actual
    }

    /// Whether key material is involved (the values are not shown).
    public var isHidden: Bool { expected == .hidden || actual == .hidden }

    /// `ns session.last_f_cnt_up`, `name`, or `ns (whole record)`.
    public var label: String {
        let field = path.isEmpty ? "(whole record)" : path
        guard let component else { return field }
        return "\(component.rawValue) \(field)"
    }

    /// `expected "Sensors", found "Other"`, `differs (value hidden)`, `missing in v3 (value hidden)`.
    public var summary: String {
        switch (expected, actual) {
        case (.hidden, .hidden): return "differs " + FieldValue.hiddenText
        case (.hidden, _): return "missing in v3 " + FieldValue.hiddenText
        case (_, .hidden): return "only in v3 " + FieldValue.hiddenText
        default: return "expected \(expected.text), found \(actual.text)"
        }
    }
}

/// One entity of the comparison: what it is, how it compares and, when it differs, which fields.
public struct DiffEntry: Hashable, Sendable {
    public var kind: EntityKind
    /// The v3 ID; nested entities as paths: `app/device`, `app/user`, `app/<API key name>`, `gateway/user`.
    public var entity: String
    /// The v2 ID it comes from; nil for entities only in v3.
    public var v2ID: String?
    public var status: DiffStatus
    /// The differing fields (only for `differs`).
    public var fields: [FieldDifference]

    public init(kind: EntityKind, entity: String, v2ID: String?, status: DiffStatus, fields: [FieldDifference] = []) {
        self.kind = kind
        self.entity = entity
        self.v2ID = v2ID
        self.status = status
        self.fields = fields
    }
}

/// An entity the migration leaves out, listed apart from the comparison with its reason.
public struct DiffSkip: Hashable, Sendable {
    public var kind: EntityKind
    public var v2ID: String
    public var v3ID: String?
    public var reason: String

    public init(kind: EntityKind, v2ID: String, v3ID: String?, reason: String) {
        self.kind = kind
        self.v2ID = v2ID
        self.v3ID = v3ID
        self.reason = reason
    }
}

/// Counts of a diff per status.
public struct DiffSummary: Hashable, Sendable {
    public var equal: Int
    public var differs: Int
    public var missingInV3: Int
    public var onlyInV3: Int
    public var skipped: Int

    public init(equal: Int, differs: Int, missingInV3: Int, onlyInV3: Int, skipped: Int) {
        self.equal = equal
        self.differs = differs
        self.missingInV3 = missingInV3
        self.onlyInV3 = onlyInV3
        self.skipped = skipped
    }

    /// `3 equal, 1 differs, 0 missing in v3, 0 only in v3; 2 skipped`.
    public var line: String {
        "\(equal) equal, \(differs) differs, \(missingInV3) missing in v3, \(onlyInV3) only in v3; \(skipped) skipped"
    }
}

/// The comparison of the intended v3 state with what v3 holds: every entity with its status, and the
/// entities the migration leaves out, apart.
///
/// Entries are in plan order (each application, its collaborators, API keys, link and devices, then what
/// v3 holds under it that the plan does not know; then each gateway and its collaborators), then the
/// applications and gateways only in v3, sorted by ID. Nothing in it depends on time or chance.
public struct MigrationDiff: Hashable, Sendable {
    /// The format name of the JSON rendering.
    public static let formatName = "ttn-migrate/diff"
    /// The JSON rendering's schema version.
    public static let formatVersion = 1

    /// The account that owns what the migration creates.
    public var owner: V3AccountIdentifiers
    /// The run tag API keys were matched with; nil: any tag (`v2: <name>` prefix).
    public var runTag: String?
    public var entries: [DiffEntry]
    public var skipped: [DiffSkip]
    /// The switch-over after the data moved (cut-over, gateways), when a journal was given; shown by the
    /// HTML report only.
    public var switchOver: SwitchOverStatus?

    public init(owner: V3AccountIdentifiers, runTag: String?, entries: [DiffEntry], skipped: [DiffSkip], switchOver: SwitchOverStatus? = nil) {
        self.owner = owner
        self.runTag = runTag
        self.entries = entries
        self.skipped = skipped
        self.switchOver = switchOver
    }

    public var summary: DiffSummary {
        var summary = DiffSummary(equal: 0, differs: 0, missingInV3: 0, onlyInV3: 0, skipped: skipped.count)
        for entry in entries {
            switch entry.status {
            case .equal: summary.equal += 1
            case .differs: summary.differs += 1
            case .missingInV3: summary.missingInV3 += 1
            case .onlyInV3: summary.onlyInV3 += 1
            }
        }
        return summary
    }

    /// Whether any entity is not `equal` (the command then exits 1). Skipped entities do not count.
    public var hasDifferences: Bool { entries.contains { $0.status != .equal } }
}

/// Where the switch-over to v3 stands: each migrated device's cut-over and how to reconnect each gateway.
public struct SwitchOverStatus: Hashable, Sendable {
    /// One device's cut-over as the journal records it.
    public struct Device: Hashable, Sendable {
        public var v2ID: String
        public var v3ID: String
        /// `done`, `failed`, `counters_raised`, `v2_cleared`, or nil: not cut over yet.
        public var state: String?
        public var v3FCntUp: UInt32?
        public var v3FCntDown: UInt32?
        public var error: String?

        public init(v2ID: String, v3ID: String, state: String?, v3FCntUp: UInt32? = nil, v3FCntDown: UInt32? = nil, error: String? = nil) {
            self.v2ID = v2ID
            self.v3ID = v3ID
            self.state = state
            self.v3FCntUp = v3FCntUp
            self.v3FCntDown = v3FCntDown
            self.error = error
        }
    }

    public var devices: [Device]
    public var gateways: [GatewayReconnection]

    public init(devices: [Device], gateways: [GatewayReconnection]) {
        self.devices = devices
        self.gateways = gateways
    }
}
