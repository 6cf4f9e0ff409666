import Foundation

/// Entity types as the error attributes and memberships name them.
enum V3EntityKind: String, Sendable {
    case application
    case gateway
    case user
    case organization
}

/// A user or organization account (they share one namespace: reference/v3-api.md §8.1).
struct V3AccountRef: Hashable, Sendable, Comparable {
    enum Kind: String, Sendable {
        case user
        case organization
    }

    let kind: Kind
    let id: String

    static func < (lhs: V3AccountRef, rhs: V3AccountRef) -> Bool {
        (lhs.kind.rawValue, lhs.id) < (rhs.kind.rawValue, rhs.id)
    }

    /// `{"user_ids":{"user_id":…}}` or `{"organization_ids":{"organization_id":…}}`.
    var json: V3JSON {
        switch kind {
        case .user: return .object(["user_ids": .object(["user_id": .string(id)])])
        case .organization: return .object(["organization_ids": .object(["organization_id": .string(id)])])
        }
    }

    /// Reads `OrganizationOrUserIdentifiers` (snake_case or lowerCamel).
    init?(json: V3JSON) {
        guard let fields = json.objectValue else { return nil }
        if let user = (fields["user_ids"] ?? fields["userIds"])?.objectValue,
           let id = (user["user_id"] ?? user["userId"])?.stringValue {
            self.init(kind: .user, id: id)
        } else if let organization = (fields["organization_ids"] ?? fields["organizationIds"])?.objectValue,
                  let id = (organization["organization_id"] ?? organization["organizationId"])?.stringValue {
            self.init(kind: .organization, id: id)
        } else {
            return nil
        }
    }

    init(kind: Kind, id: String) {
        self.kind = kind
        self.id = id
    }
}

/// The entity an API key belongs to.
struct V3KeyOwner: Hashable, Sendable {
    let kind: V3EntityKind
    let id: String

    var idsJSON: V3JSON {
        switch kind {
        case .application: return .object(["application_ids": .object(["application_id": .string(id)])])
        case .gateway: return .object(["gateway_ids": .object(["gateway_id": .string(id)])])
        case .user: return .object(["user_ids": .object(["user_id": .string(id)])])
        case .organization: return .object(["organization_ids": .object(["organization_id": .string(id)])])
        }
    }
}

/// One API key. The secret is kept whole: the simulator compares it and never writes it after creation.
struct V3APIKeyRecord: Sendable {
    var id: String
    var secret: String
    var owner: V3KeyOwner
    var name: String
    /// The rights as granted (not expanded).
    var rights: V3Rights
    var createdAt: Date
    var updatedAt: Date
    var expiresAt: Date?
    var sequence: Int

    var token: String { "NNSXS.\(id).\(secret)" }
}

/// An application or gateway in the Identity Server: its stored message, soft-delete time and collaborators.
struct V3RegistryEntity: Sendable {
    /// The stored message, zero values omitted, with `ids`, `created_at`, `updated_at`.
    var body: V3JSON
    var deletedAt: Date?
    /// Rights as granted to each collaborator (not expanded).
    var collaborators: [V3AccountRef: V3Rights]
    var sequence: Int

    var isDeleted: Bool { deletedAt != nil }
}

/// An end device's key in every registry: (application ID, device ID).
struct V3DeviceKey: Hashable, Sendable, Comparable {
    let applicationID: String
    let deviceID: String

    static func < (lhs: V3DeviceKey, rhs: V3DeviceKey) -> Bool {
        (lhs.applicationID, lhs.deviceID) < (rhs.applicationID, rhs.deviceID)
    }
}

/// The whole simulated v3 state: IS registries, the JS/NS/AS device registries and AS links.
struct V3State: Sendable {
    var users: [String]
    var organizations: [String]
    var applications: [String: V3RegistryEntity] = [:]
    var gateways: [String: V3RegistryEntity] = [:]
    /// API keys by ID; written through `putAPIKey` and `removeAPIKey`, which keep `apiKeyIDsByOwner` current.
    private(set) var apiKeys: [String: V3APIKeyRecord] = [:]
    /// The IDs of each entity's API keys, so a list does not scan every key of the estate (as the real IS's
    /// database index does).
    private(set) var apiKeyIDsByOwner: [V3KeyOwner: Set<String>] = [:]
    private(set) var isDevices: [V3DeviceKey: V3JSON] = [:]
    /// The devices of each application in the IS, so a list does not scan every device of the estate.
    private(set) var isDeviceKeysByApplication: [String: Set<V3DeviceKey>] = [:]
    var jsDevices: [V3DeviceKey: V3JSON] = [:]
    var nsDevices: [V3DeviceKey: V3JSON] = [:]
    var asDevices: [V3DeviceKey: V3JSON] = [:]
    var links: [String: V3JSON] = [:]
    /// Per registry: `"<JoinEUI>/<DevEUI>"` → the device holding that pair (uniqueness checks without a scan).
    var euiIndex: [V3Component: [String: V3DeviceKey]] = [:]
    /// `created_at` of the configured accounts.
    var accountsCreatedAt: Date
    var sequence = 0

    init(users: [String], organizations: [String], accountsCreatedAt: Date) {
        self.users = users
        self.organizations = organizations
        self.accountsCreatedAt = accountsCreatedAt
    }

    /// Stores an API key (new, or replacing the one with its ID).
    mutating func putAPIKey(_ record: V3APIKeyRecord) {
        removeAPIKey(record.id)
        apiKeys[record.id] = record
        apiKeyIDsByOwner[record.owner, default: []].insert(record.id)
    }

    /// Removes an API key, if there is one with this ID.
    mutating func removeAPIKey(_ id: String) {
        guard let old = apiKeys.removeValue(forKey: id) else { return }
        apiKeyIDsByOwner[old.owner]?.remove(id)
        if apiKeyIDsByOwner[old.owner]?.isEmpty == true { apiKeyIDsByOwner[old.owner] = nil }
    }

    /// The API keys of one entity, oldest first.
    func apiKeys(of owner: V3KeyOwner) -> [V3APIKeyRecord] {
        (apiKeyIDsByOwner[owner] ?? []).compactMap { apiKeys[$0] }.sorted { $0.sequence < $1.sequence }
    }

    /// The IS devices of one application, sorted by device ID.
    func isDevices(of applicationID: String) -> [(key: V3DeviceKey, value: V3JSON)] {
        (isDeviceKeysByApplication[applicationID] ?? []).sorted().compactMap { key in isDevices[key].map { (key, $0) } }
    }

    mutating func nextSequence() -> Int {
        sequence += 1
        return sequence
    }

    func accountExists(_ account: V3AccountRef) -> Bool {
        switch account.kind {
        case .user: return users.contains(account.id)
        case .organization: return organizations.contains(account.id)
        }
    }

    func registry(_ component: V3Component) -> [V3DeviceKey: V3JSON] {
        switch component {
        case .joinServer: return jsDevices
        case .networkServer: return nsDevices
        case .applicationServer: return asDevices
        case .identityServer, .otherCluster: return isDevices
        }
    }

    static func euiPair(_ device: V3JSON) -> String? {
        guard let join = device[path: "ids.join_eui"]?.stringValue, !join.isEmpty,
              let dev = device[path: "ids.dev_eui"]?.stringValue, !dev.isEmpty else { return nil }
        return join + "/" + dev
    }

    /// The other device of a registry that holds `device`'s (JoinEUI, DevEUI) pair, if both are set.
    func euiHolder(_ component: V3Component, _ device: V3JSON, excluding key: V3DeviceKey) -> V3DeviceKey? {
        guard let pair = V3State.euiPair(device), let holder = euiIndex[component]?[pair], holder != key else { return nil }
        return holder
    }

    /// Stores (or with nil removes) a device in a registry, keeping the EUI index current.
    mutating func putDevice(_ component: V3Component, _ key: V3DeviceKey, _ value: V3JSON?) {
        if let old = registry(component)[key], let pair = V3State.euiPair(old), euiIndex[component]?[pair] == key {
            euiIndex[component]?[pair] = nil
        }
        setDevice(component, key, value)
        if let value, let pair = V3State.euiPair(value) { euiIndex[component, default: [:]][pair] = key }
    }

    private mutating func setDevice(_ component: V3Component, _ key: V3DeviceKey, _ value: V3JSON?) {
        switch component {
        case .joinServer: jsDevices[key] = value
        case .networkServer: nsDevices[key] = value
        case .applicationServer: asDevices[key] = value
        case .identityServer, .otherCluster:
            isDevices[key] = value
            if value != nil {
                isDeviceKeysByApplication[key.applicationID, default: []].insert(key)
            } else {
                isDeviceKeysByApplication[key.applicationID]?.remove(key)
                if isDeviceKeysByApplication[key.applicationID]?.isEmpty == true { isDeviceKeysByApplication[key.applicationID] = nil }
            }
        }
    }
}

// MARK: - State dump

extension V3State {
    /// Fields left out of the dump because they change from run to run: timestamps and key IDs/secrets.
    private static let volatileTopLevelFields: Set<String> = ["created_at", "updated_at", "deleted_at"]

    private static func stable(_ record: V3JSON) -> V3JSON {
        guard var fields = record.objectValue else { return record }
        for field in volatileTopLevelFields { fields[field] = nil }
        var value = V3JSON.object(fields)
        value.set(path: "session.started_at", to: nil)
        value.set(path: "pending_session.started_at", to: nil)
        return value
    }

    /// The state-dump document; see `V3Simulator.stateDump()` for the format.
    func dump(rights catalogue: V3RightsCatalogue) -> V3JSON {
        func collaborators(_ entity: V3RegistryEntity) -> V3JSON {
            var result: [String: V3JSON] = [:]
            for (account, rights) in entity.collaborators {
                result["\(account.kind.rawValue):\(account.id)"] = catalogue.jsonNames(rights)
            }
            return .object(result)
        }
        func keys(_ owner: V3KeyOwner) -> V3JSON {
            let records = apiKeys(of: owner).map { key -> (String, [String], V3JSON) in
                var fields: [String: V3JSON] = ["name": .string(key.name), "rights": catalogue.jsonNames(key.rights)]
                if let expires = key.expiresAt { fields["expires_at"] = .string(V3Time.format(expires)) }
                return (key.name, catalogue.names(key.rights), .object(fields))
            }
            let sorted = records.sorted { ($0.0, $0.1.joined(separator: ",")) < ($1.0, $1.1.joined(separator: ",")) }
            return .array(sorted.map(\.2))
        }

        var applicationsDump: [String: V3JSON] = [:]
        func applicationEntry(_ id: String) -> [String: V3JSON] {
            applicationsDump[id]?.objectValue ?? [:]
        }
        for (id, entity) in applications {
            var entry: [String: V3JSON] = [
                "fields": V3State.stable(entity.body),
                "collaborators": collaborators(entity),
                "api_keys": keys(V3KeyOwner(kind: .application, id: id)),
            ]
            if entity.isDeleted { entry["deleted"] = .bool(true) }
            if let link = links[id] { entry["link"] = link }
            applicationsDump[id] = .object(entry)
        }
        for (id, link) in links where applications[id] == nil {
            var entry = applicationEntry(id)
            entry["link"] = link
            applicationsDump[id] = .object(entry)
        }
        let registries: [(String, [V3DeviceKey: V3JSON])] = [("is", isDevices), ("js", jsDevices), ("ns", nsDevices), ("as", asDevices)]
        for (component, registry) in registries {
            for (key, device) in registry {
                var entry = applicationEntry(key.applicationID)
                var devices = entry["devices"]?.objectValue ?? [:]
                var perDevice = devices[key.deviceID]?.objectValue ?? [:]
                perDevice[component] = V3State.stable(device)
                devices[key.deviceID] = .object(perDevice)
                entry["devices"] = .object(devices)
                applicationsDump[key.applicationID] = .object(entry)
            }
        }

        var gatewaysDump: [String: V3JSON] = [:]
        for (id, entity) in gateways {
            var entry: [String: V3JSON] = [
                "fields": V3State.stable(entity.body),
                "collaborators": collaborators(entity),
                "api_keys": keys(V3KeyOwner(kind: .gateway, id: id)),
            ]
            if entity.isDeleted { entry["deleted"] = .bool(true) }
            gatewaysDump[id] = .object(entry)
        }

        return .object([
            "format": .string("ttn-migrate v3 simulator state 1"),
            "accounts": .object([
                "users": .array(users.sorted().map { .string($0) }),
                "organizations": .array(organizations.sorted().map { .string($0) }),
            ]),
            "applications": .object(applicationsDump),
            "gateways": .object(gatewaysDump),
        ])
    }
}

/// RFC 3339 UTC timestamps with microseconds, as the LS JSON codec writes them (§1).
enum V3Time {
    static func format(_ date: Date) -> String {
        let totalMicroseconds = (date.timeIntervalSince1970 * 1_000_000).rounded(.down)
        let seconds = Int64((totalMicroseconds / 1_000_000).rounded(.down))
        let micros = Int64(totalMicroseconds) - seconds * 1_000_000
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let microText = String(micros)
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + String(repeating: "0", count: 6 - microText.count) + microText + "Z"
    }

    /// Parses RFC 3339 (`2030-01-02T03:04:05Z`, optional fraction, `Z` or an offset).
    static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
