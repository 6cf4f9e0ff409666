import Foundation

/// The kinds of things a warning, rename or skip can be about.
public enum EntityKind: String, Codable, Hashable, Sendable, CaseIterable, Comparable {
    /// The configuration or the estate as a whole.
    case configuration
    case application
    case applicationCollaborator = "application-collaborator"
    case applicationAPIKey = "application-api-key"
    case applicationLink = "application-link"
    case gateway
    case gatewayCollaborator = "gateway-collaborator"
    /// The gateway's link key, for a Basics Station LNS or a gateway connection (issue 14).
    case gatewayAPIKey = "gateway-api-key"
    case device

    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// One entity as the user knows it (v2 ID) and, once known, as it will be in v3.
///
/// IDs of nested entities are paths: a device is `app/dev`, a collaborator `app/username`, an API key
/// `app/key name`.
public struct EntityRef: Codable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public var kind: EntityKind
    public var v2ID: String
    public var v3ID: String?

    public init(kind: EntityKind, v2ID: String, v3ID: String? = nil) {
        self.kind = kind
        self.v2ID = v2ID
        self.v3ID = v3ID
    }

    enum CodingKeys: String, CodingKey {
        case kind
        case v2ID = "v2_id"
        case v3ID = "v3_id"
    }

    /// For example `device my_app/dev-1` or `device my_app/dev_1 (v3 my-app/dev-1)`.
    public var description: String {
        if let v3ID, v3ID != v2ID { return "\(kind.rawValue) \(v2ID) (v3 \(v3ID))" }
        return "\(kind.rawValue) \(v2ID)"
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.kind, lhs.v2ID, lhs.v3ID ?? "") < (rhs.kind, rhs.v2ID, rhs.v3ID ?? "")
    }
}

/// The stable codes of mapping warnings. The raw value is what the plan prints; it never changes.
public enum WarningCode: String, Codable, Hashable, Sendable, CaseIterable {
    /// A deleted v2 application is not migrated (`include.deleted: false`).
    case applicationDeletedSkipped = "application-deleted-skipped"
    /// An ID had characters v3 refuses (upper case, `_`, …) and was fixed.
    case idInvalidFixed = "id-invalid-fixed"
    /// An ID had fewer than three letters or digits and got `-v2`.
    case idTooShort = "id-too-short"
    /// An ID was longer than 36 characters and was cut.
    case idTooLong = "id-too-long"
    /// An ID is reserved by v3 and got `-v2`.
    case idBlocklisted = "id-blocklisted"
    /// Two v2 IDs fix to the same v3 ID; the later one (sorted) got `-2`, `-3`, ….
    case idCollision = "id-collision"
    /// A name longer than 50 characters was cut; the whole name is in the description.
    case nameCut = "name-cut"
    /// A description longer than 2000 characters was cut.
    case descriptionCut = "description-cut"
    /// A v2 right has no v3 twin and was dropped.
    case rightUnknown = "right-unknown"
    /// A gateway's v2 frequency plan has no v3 plan: the gateway is created without one.
    case frequencyPlanUnmapped = "frequency-plan-unmapped"
    /// A gateway has no v2 frequency plan: it is created without one.
    case gatewayNoFrequencyPlan = "gateway-no-frequency-plan"
    /// A gateway's EUI is not known (ID not `eui-<hex>`, no `gateway_euis:` entry).
    case gatewayNoEUI = "gateway-no-eui"
    /// Two gateways have the same EUI; the later one (sorted) is skipped.
    case gatewayEUIDuplicate = "gateway-eui-duplicate"
    /// No configured handler knows the application: its devices and payload format are not migrated.
    case applicationNoHandler = "application-no-handler"
    /// A handler knows the application but no credential could read it.
    case applicationHandlerUnreadable = "application-handler-unreadable"
    /// No handler is configured: no device and no payload format is migrated.
    case handlersNotConfigured = "handlers-not-configured"
    /// The v2 token could not see an application's collaborators.
    case applicationCollaboratorsHidden = "application-collaborators-hidden"
    /// The v2 token could not see an application's access keys.
    case applicationAccessKeysHidden = "application-access-keys-hidden"
    /// The application has more EUIs than fit the `v2-euis` attribute (200 characters).
    case applicationEUIsCut = "application-euis-cut"
    /// A device has neither an AppKey nor a session: skipped.
    case deviceNoKeys = "device-no-keys"
    /// An ABP device lacks DevAddr, NwkSKey or AppSKey: skipped.
    case deviceABPMissingKey = "device-abp-missing-key"
    /// An OTAA device's session is incomplete and is not carried: the device must join again.
    case deviceSessionIncomplete = "device-session-incomplete"
    /// A device has no DevEUI or a zero DevEUI: skipped.
    case deviceInvalidDevEUI = "device-invalid-dev-eui"
    /// An OTAA device has no JoinEUI (v2 AppEUI): skipped.
    case deviceNoJoinEUI = "device-no-join-eui"
    /// Two devices share a JoinEUI/DevEUI pair; the later one (sorted) is skipped.
    case deviceEUIPairDuplicate = "device-eui-pair-duplicate"
    /// No device frequency plan is configured for the application: its devices are skipped.
    case deviceNoFrequencyPlan = "device-no-frequency-plan"
    /// The plan's band has no LoRaWAN 1.0.2 rev B regional parameters in v3: the closest version it has is used.
    case devicePHYVersionAdjusted = "device-phy-version-adjusted"
    /// Carried sessions on a plan whose RX2 is not TTN's SF9 (`EU_863_870` instead of `EU_863_870_TTN`).
    case deviceRX2NotTTN = "device-rx2-not-ttn"
    /// The band's MAC parameters are not in the embedded table: carried sessions get the NS's band defaults.
    case deviceMACStateNotDerived = "device-mac-state-not-derived"
    /// A v2 converter or validator function has no v3 twin: review it.
    case payloadFunctionReview = "payload-function-review"
    /// A v2 payload format other than `custom` or `cayennelpp`: no formatter is set.
    case payloadFormatUnknown = "payload-format-unknown"
    /// A payload function is larger than v3 accepts (40,960 bytes): that formatter is not set.
    case payloadFormatterTooLarge = "payload-formatter-too-large"
    /// More than 10 attributes: the rest are dropped.
    case attributesDropped = "attributes-dropped"
    /// An attribute value longer than 200 characters was cut.
    case attributeValueCut = "attribute-value-cut"
    /// An attribute key was fixed to the v3 key rule.
    case attributeKeyFixed = "attribute-key-fixed"
    /// A v2 username is not a valid v3 user ID and has no `users:` entry: a fixed ID is assumed.
    case collaboratorUserIDFixed = "collaborator-user-id-fixed"
    /// A v2 username cannot be made a v3 user ID and has no `users:` entry: collaborator skipped.
    case collaboratorUserIDInvalid = "collaborator-user-id-invalid"
    /// Two v2 collaborators map to one v3 account: their rights are merged.
    case collaboratorMerged = "collaborator-merged"
    /// No right of a collaborator maps to v3: collaborator skipped (empty rights would delete it).
    case collaboratorNoRights = "collaborator-no-rights"
    /// An API key name was cut to fit 50 characters with the run tag.
    case apiKeyNameCut = "api-key-name-cut"
    /// The configuration names a v2 ID the estate does not have.
    case configUnknownID = "config-unknown-id"
    /// The snapshot lists one v2 ID twice: the later one is skipped.
    case snapshotDuplicateID = "snapshot-duplicate-id"
}

/// Something the user should know or act on; never thrown, always listed in the plan.
///
/// `message` says what happens and what to do; it never contains a secret.
public struct MappingWarning: Codable, Hashable, Sendable {
    public var code: WarningCode
    public var entity: EntityRef
    public var message: String

    public init(_ code: WarningCode, _ entity: EntityRef, _ message: String) {
        self.code = code
        self.entity = entity
        self.message = message
    }
}

/// Why an ID changed on the way to v3.
public enum IDChangeReason: String, Codable, Hashable, Sendable, CaseIterable {
    /// The configuration's `rename:` chose the new ID.
    case renamed = "rename"
    case invalidCharacters = "invalid-characters"
    case tooLong = "too-long"
    case tooShort = "too-short"
    case blocklisted
    case collision
}

/// An entity whose v3 ID differs from its v2 ID.
public struct IDRename: Codable, Hashable, Sendable {
    public var kind: EntityKind
    public var v2ID: String
    public var v3ID: String
    public var reasons: [IDChangeReason]

    public init(kind: EntityKind, v2ID: String, v3ID: String, reasons: [IDChangeReason]) {
        self.kind = kind
        self.v2ID = v2ID
        self.v3ID = v3ID
        self.reasons = reasons
    }

    enum CodingKeys: String, CodingKey {
        case kind, reasons
        case v2ID = "v2_id"
        case v3ID = "v3_id"
    }
}

/// An entity the migration leaves out, and why.
public struct SkippedEntity: Codable, Hashable, Sendable {
    public var entity: EntityRef
    public var reason: String
    /// The warning that explains it, if one was raised.
    public var warning: WarningCode?

    public init(_ entity: EntityRef, reason: String, warning: WarningCode? = nil) {
        self.entity = entity
        self.reason = reason
        self.warning = warning
    }
}
