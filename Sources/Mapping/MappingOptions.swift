import Foundation
import V3Model

/// What the configuration file says about mapping (DESIGN.md §3). Every map is keyed by v2 IDs.
///
/// Build it from the parsed configuration, then `validate()` it (the mapper does so too): a bad value
/// is a `MappingOptionsError` listing every problem, never a warning.
public struct MappingOptions: Hashable, Sendable, Encodable {
    /// `target.owner`: exactly one of `user` and `organization`.
    public struct Owner: Hashable, Sendable, Encodable {
        public var user: String?
        public var organization: String?

        public init(user: String? = nil, organization: String? = nil) {
            self.user = user
            self.organization = organization
        }

        /// `{user: id}`.
        public static func user(_ id: String) -> Owner { Owner(user: id) }
        /// `{organization: id}`.
        public static func organization(_ id: String) -> Owner { Owner(organization: id) }
    }

    /// `include.applications` / `include.gateways`: `all` or a list of v2 IDs.
    public enum Selection: Hashable, Sendable, Encodable {
        case all
        case only([String])

        /// Whether the v2 ID is selected.
        public func includes(_ id: String) -> Bool {
            switch self {
            case .all: return true
            case .only(let ids): return ids.contains(id)
            }
        }
    }

    /// `target.owner`.
    public var owner: Owner
    /// `users:` v2 username → v3 user ID.
    public var users: [String: String]
    /// `rename.applications:` v2 application ID → v3 ID.
    public var applicationRenames: [String: String]
    /// `rename.gateways:` v2 gateway ID → v3 ID.
    public var gatewayRenames: [String: String]
    /// `frequency_plans:` v2 plan name → v3 plan ID, for gateways (over the built-in table).
    public var gatewayFrequencyPlans: [String: String]
    /// `devices.frequency_plan`: the device plan of every application without its own.
    public var deviceFrequencyPlan: String?
    /// `devices.applications:` v2 application ID → device plan.
    public var deviceFrequencyPlansByApplication: [String: String]
    /// `devices.with_session`: carry OTAA sessions and frame counters (ABP sessions are always carried).
    public var withSession: Bool
    /// `gateway_euis:` v2 gateway ID → EUI (16 hex digits).
    public var gatewayEUIs: [String: String]
    /// `include.applications`.
    public var includeApplications: Selection
    /// `include.gateways`.
    public var includeGateways: Selection
    /// `include.deleted`: migrate applications v2 marks deleted.
    public var includeDeleted: Bool
    /// `target.gateway_server_address` (host[:port]) for every gateway.
    public var gatewayServerAddress: String?
    /// Join Server host[:port] written on OTAA devices in the IS.
    public var joinServerAddress: String?
    /// Network Server host[:port] written on devices in the IS and JS.
    public var networkServerAddress: String?
    /// Application Server host[:port] written on devices in the IS and JS.
    public var applicationServerAddress: String?
    /// The short tag of this migration run in API key names (1–12 of `a-z`, `0-9`, `-`).
    public var runTag: String

    /// The tag `plan` uses when the caller gives none.
    public static let defaultRunTag = "ttnmig"

    public init(
        owner: Owner, users: [String: String] = [:], applicationRenames: [String: String] = [:],
        gatewayRenames: [String: String] = [:], gatewayFrequencyPlans: [String: String] = [:],
        deviceFrequencyPlan: String? = nil, deviceFrequencyPlansByApplication: [String: String] = [:],
        withSession: Bool = false, gatewayEUIs: [String: String] = [:], includeApplications: Selection = .all,
        includeGateways: Selection = .all, includeDeleted: Bool = false, gatewayServerAddress: String? = nil,
        joinServerAddress: String? = nil, networkServerAddress: String? = nil, applicationServerAddress: String? = nil,
        runTag: String = MappingOptions.defaultRunTag
    ) {
        self.owner = owner
        self.users = users
        self.applicationRenames = applicationRenames
        self.gatewayRenames = gatewayRenames
        self.gatewayFrequencyPlans = gatewayFrequencyPlans
        self.deviceFrequencyPlan = deviceFrequencyPlan
        self.deviceFrequencyPlansByApplication = deviceFrequencyPlansByApplication
        self.withSession = withSession
        self.gatewayEUIs = gatewayEUIs
        self.includeApplications = includeApplications
        self.includeGateways = includeGateways
        self.includeDeleted = includeDeleted
        self.gatewayServerAddress = gatewayServerAddress
        self.joinServerAddress = joinServerAddress
        self.networkServerAddress = networkServerAddress
        self.applicationServerAddress = applicationServerAddress
        self.runTag = runTag
    }

    /// Checks every setting; throws one error listing every problem (in a stable order).
    public func validate() throws(MappingOptionsError) {
        var problems: [MappingOptionsProblem] = []

        switch (owner.user, owner.organization) {
        case (nil, nil): problems.append(.ownerMissing)
        case (.some, .some): problems.append(.ownerAmbiguous)
        case (let user?, nil):
            if let problem = V3IDRules.userIDProblem(user) { problems.append(.invalidOwner(kind: "user", id: user, problem: problem)) }
        case (nil, let organization?):
            if let problem = V3IDRules.entityIDProblem(organization) {
                problems.append(.invalidOwner(kind: "organization", id: organization, problem: problem))
            }
        }

        for (username, userID) in users.sorted(by: { $0.key < $1.key }) {
            if let problem = V3IDRules.userIDProblem(userID) {
                problems.append(.invalidUserID(v2Username: username, v3UserID: userID, problem: problem))
            }
        }

        for (section, renames) in [("applications", applicationRenames), ("gateways", gatewayRenames)] {
            for (from, to) in renames.sorted(by: { $0.key < $1.key }) {
                if let problem = V3IDRules.entityIDProblem(to) {
                    problems.append(.invalidRename(section: section, v2ID: from, v3ID: to, problem: problem))
                }
            }
            let byTarget = Dictionary(grouping: renames.keys, by: { renames[$0]! })
            for (target, sources) in byTarget.sorted(by: { $0.key < $1.key }) where sources.count > 1 {
                problems.append(.duplicateRename(section: section, v3ID: target, v2IDs: sources.sorted()))
            }
        }

        for (v2Plan, v3Plan) in gatewayFrequencyPlans.sorted(by: { $0.key < $1.key }) where !V3FrequencyPlans.isKnown(v3Plan) {
            problems.append(.unknownFrequencyPlan(setting: "frequency_plans.\(v2Plan)", planID: v3Plan))
        }
        if let plan = deviceFrequencyPlan, !V3FrequencyPlans.isKnown(plan) {
            problems.append(.unknownFrequencyPlan(setting: "devices.frequency_plan", planID: plan))
        }
        for (application, plan) in deviceFrequencyPlansByApplication.sorted(by: { $0.key < $1.key }) where !V3FrequencyPlans.isKnown(plan) {
            problems.append(.unknownFrequencyPlan(setting: "devices.applications.\(application)", planID: plan))
        }

        var gatewaysByEUI: [String: [String]] = [:]
        for (gateway, text) in gatewayEUIs.sorted(by: { $0.key < $1.key }) {
            do {
                let eui = try V3EUI(hex: text)
                if eui.isZero {
                    problems.append(.invalidGatewayEUI(gatewayID: gateway, value: text, reason: "the EUI is zero"))
                } else {
                    gatewaysByEUI[eui.hex, default: []].append(gateway)
                }
            } catch {
                problems.append(.invalidGatewayEUI(gatewayID: gateway, value: text, reason: error.description))
            }
        }
        for (eui, gateways) in gatewaysByEUI.sorted(by: { $0.key < $1.key }) where gateways.count > 1 {
            problems.append(.duplicateGatewayEUI(eui: eui, gatewayIDs: gateways))
        }

        let addresses: [(String, String?)] = [
            ("target.gateway_server_address", gatewayServerAddress),
            ("join server address", joinServerAddress),
            ("network server address", networkServerAddress),
            ("application server address", applicationServerAddress),
        ]
        for case (let setting, let address?) in addresses where !V3ServerAddress.isValid(address) {
            problems.append(.invalidServerAddress(setting: setting, value: address))
        }

        if !Self.isValidRunTag(runTag) { problems.append(.invalidRunTag(runTag)) }

        if !problems.isEmpty { throw MappingOptionsError(problems: problems) }
    }

    /// The owner as v3 identifiers; throws when `validate()` would.
    public func resolvedOwner() throws(MappingOptionsError) -> V3AccountIdentifiers {
        try validate()
        if let user = owner.user { return .user(user) }
        return .organization(owner.organization!)
    }

    static func isValidRunTag(_ tag: String) -> Bool {
        (1...12).contains(tag.utf8.count)
            && tag.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
    }
}

/// One bad configuration value.
public enum MappingOptionsProblem: Hashable, Sendable, CustomStringConvertible {
    /// `target.owner` has neither `user` nor `organization`.
    case ownerMissing
    /// `target.owner` has both `user` and `organization`.
    case ownerAmbiguous
    /// The owner's ID breaks the v3 rule for its kind.
    case invalidOwner(kind: String, id: String, problem: V3IDRules.Problem)
    /// A `users:` value is not a valid v3 user ID.
    case invalidUserID(v2Username: String, v3UserID: String, problem: V3IDRules.Problem)
    /// A `rename:` target is not a valid v3 ID (or is blocklisted).
    case invalidRename(section: String, v2ID: String, v3ID: String, problem: V3IDRules.Problem)
    /// Two `rename:` entries of one section have the same target.
    case duplicateRename(section: String, v3ID: String, v2IDs: [String])
    /// A plan ID v3 does not know, in the named setting.
    case unknownFrequencyPlan(setting: String, planID: String)
    /// A `gateway_euis:` value is not a valid, non-zero EUI.
    case invalidGatewayEUI(gatewayID: String, value: String, reason: String)
    /// Two `gateway_euis:` entries have the same EUI.
    case duplicateGatewayEUI(eui: String, gatewayIDs: [String])
    /// A server address is not `host[:port]`.
    case invalidServerAddress(setting: String, value: String)
    /// The run tag is not 1–12 of `a-z`, `0-9`, `-`.
    case invalidRunTag(String)

    public var description: String {
        switch self {
        case .ownerMissing:
            return "target.owner is not set: give `owner: {user: <v3 user ID>}` or `owner: {organization: <v3 organization ID>}`"
        case .ownerAmbiguous:
            return "target.owner names both a user and an organization: keep exactly one of them"
        case .invalidOwner(let kind, let id, let problem):
            return "target.owner.\(kind) \"\(id)\" is not a valid v3 \(kind) ID: it \(problem). Give the ID of the existing v3 \(kind)"
        case .invalidUserID(let username, let userID, let problem):
            return "users.\(username): \"\(userID)\" is not a valid v3 user ID: it \(problem). Give the ID of the v3 account of \(username)"
        case .invalidRename(let section, let v2ID, let v3ID, let problem):
            return "rename.\(section).\(v2ID): \"\(v3ID)\" cannot be a v3 ID: it \(problem). Choose 3–36 lower-case letters, digits and single dashes"
        case .duplicateRename(let section, let v3ID, let v2IDs):
            return "rename.\(section): \(v2IDs.joined(separator: " and ")) are all renamed to \"\(v3ID)\": give each its own ID"
        case .unknownFrequencyPlan(let setting, let planID):
            let suggestions = V3FrequencyPlans.suggestions(for: planID)
            let hint = suggestions.isEmpty ? "see `reference/v3-api.md` §13 for the list" : "similar plans: \(suggestions.joined(separator: ", "))"
            return "\(setting): \"\(planID)\" is not a v3 frequency plan; \(hint)"
        case .invalidGatewayEUI(let gatewayID, let value, let reason):
            return "gateway_euis.\(gatewayID): \"\(value)\" is not a usable gateway EUI (\(reason)); give 16 hex digits"
        case .duplicateGatewayEUI(let eui, let gatewayIDs):
            return "gateway_euis: \(gatewayIDs.joined(separator: " and ")) have the same EUI \(eui); a gateway EUI is unique in v3"
        case .invalidServerAddress(let setting, let value):
            return "\(setting): \"\(value)\" is not host[:port] (lower-case host name, no scheme, no path)"
        case .invalidRunTag(let tag):
            return "run tag \"\(tag)\" must be 1–12 characters of a-z, 0-9 and -"
        }
    }
}

/// The configuration cannot be used: every problem, each naming the setting and what to do.
public struct MappingOptionsError: Error, Hashable, Sendable, CustomStringConvertible {
    public var problems: [MappingOptionsProblem]

    public init(problems: [MappingOptionsProblem]) { self.problems = problems }

    public var description: String {
        let lines = problems.map { "  - \($0.description)" }
        return "the configuration has \(problems.count) problem\(problems.count == 1 ? "" : "s"); nothing was done:\n"
            + lines.joined(separator: "\n")
    }
}
