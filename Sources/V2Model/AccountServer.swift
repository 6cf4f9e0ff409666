import Foundation

/// An application as the v2 account server returns it (`GET /api/v2/applications?deleted=1`).
///
/// Shape: `reference/v2-and-peers.md` §A.2. `collaborators` and `access_keys` are present only when the
/// caller's rights allow; `deleted` only on deleted applications.
public struct V2Application: Codable, Hashable, Sendable {
    public var id: String
    public var name: String?
    public var euis: [V2EUI]
    public var created: String?
    /// The caller's own rights on the application.
    public var rights: [String]?
    public var collaborators: [V2Collaborator]?
    public var accessKeys: [V2AccessKey]?
    /// Deletion date, present only for deleted applications.
    public var deleted: String?

    public init(
        id: String, name: String? = nil, euis: [V2EUI] = [], created: String? = nil, rights: [String]? = nil,
        collaborators: [V2Collaborator]? = nil, accessKeys: [V2AccessKey]? = nil, deleted: String? = nil
    ) {
        self.id = id
        self.name = name
        self.euis = euis
        self.created = created
        self.rights = rights
        self.collaborators = collaborators
        self.accessKeys = accessKeys
        self.deleted = deleted
    }

    /// Whether the account server marks the application deleted.
    public var isDeleted: Bool { !(deleted ?? "").isEmpty }

    enum CodingKeys: String, CodingKey {
        case id, name, euis, created, rights, collaborators, deleted
        case accessKeys = "access_keys"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        euis = try c.decodeIfPresent([V2EUI].self, forKey: .euis) ?? []
        created = try c.decodeIfPresent(String.self, forKey: .created)
        rights = try c.decodeIfPresent([String].self, forKey: .rights)
        collaborators = try c.decodeIfPresent([V2Collaborator].self, forKey: .collaborators)
        accessKeys = try c.decodeIfPresent([V2AccessKey].self, forKey: .accessKeys)
        deleted = try c.decodeIfPresent(String.self, forKey: .deleted)
    }
}

/// A collaborator of an application or gateway: a v2 username and its rights.
public struct V2Collaborator: Codable, Hashable, Sendable {
    public var username: String
    public var email: String?
    public var rights: [String]

    public init(username: String, email: String? = nil, rights: [String]) {
        self.username = username
        self.email = email
        self.rights = rights
    }
}

/// An application access key: name, secret and rights (`reference/v2-and-peers.md` §A.2).
public struct V2AccessKey: Codable, Hashable, Sendable {
    public var name: String
    public var key: V2Secret
    public var rights: [String]

    public init(name: String, key: V2Secret, rights: [String]) {
        self.name = name
        self.key = key
        self.rights = rights
    }
}

/// A point on earth as v2 gives it; altitude is an integer number of metres.
public struct V2Location: Codable, Hashable, Sendable {
    public var latitude: Double
    public var longitude: Double
    public var altitude: Int?

    public init(latitude: Double, longitude: Double, altitude: Int? = nil) {
        self.latitude = latitude
        self.longitude = longitude
        self.altitude = altitude
    }
}

/// The v2 router a gateway talks to: an object on read (`reference/v2-and-peers.md` §A.2).
public struct V2Router: Codable, Hashable, Sendable {
    public var id: String
    public var address: String?
    public var mqttAddress: String?

    enum CodingKeys: String, CodingKey {
        case id, address
        case mqttAddress = "mqtt_address"
    }
}

/// The owner of a v2 gateway.
public struct V2GatewayOwner: Codable, Hashable, Sendable {
    public var id: String?
    public var username: String?
}

/// A gateway as the v2 account server returns it (`GET /api/v2/gateways`).
///
/// The gateway `key` and `token` are secrets the migration does not need; they are not decoded, so
/// they never reach a snapshot.
public struct V2Gateway: Codable, Hashable, Sendable {
    public var id: String
    public var activated: Bool?
    public var frequencyPlan: String?
    public var autoUpdate: Bool?
    public var locationPublic: Bool?
    public var statusPublic: Bool?
    public var ownerPublic: Bool?
    public var antennaLocation: V2Location?
    public var collaborators: [V2Collaborator]?
    /// `brand`, `model`, `placement`, `antenna_type`, `antenna_model`, `description` and any others.
    public var attributes: [String: String]?
    public var router: V2Router?
    public var fallbackRouters: [V2Router]?
    public var betaUpdates: Bool?
    public var owner: V2GatewayOwner?

    public init(
        id: String, activated: Bool? = nil, frequencyPlan: String? = nil, autoUpdate: Bool? = nil,
        locationPublic: Bool? = nil, statusPublic: Bool? = nil, ownerPublic: Bool? = nil,
        antennaLocation: V2Location? = nil, collaborators: [V2Collaborator]? = nil,
        attributes: [String: String]? = nil, router: V2Router? = nil, fallbackRouters: [V2Router]? = nil,
        betaUpdates: Bool? = nil, owner: V2GatewayOwner? = nil
    ) {
        self.id = id
        self.activated = activated
        self.frequencyPlan = frequencyPlan
        self.autoUpdate = autoUpdate
        self.locationPublic = locationPublic
        self.statusPublic = statusPublic
        self.ownerPublic = ownerPublic
        self.antennaLocation = antennaLocation
        self.collaborators = collaborators
        self.attributes = attributes
        self.router = router
        self.fallbackRouters = fallbackRouters
        self.betaUpdates = betaUpdates
        self.owner = owner
    }

    enum CodingKeys: String, CodingKey {
        case id, activated, collaborators, attributes, router, owner
        case frequencyPlan = "frequency_plan"
        case autoUpdate = "auto_update"
        case locationPublic = "location_public"
        case statusPublic = "status_public"
        case ownerPublic = "owner_public"
        case antennaLocation = "antenna_location"
        case fallbackRouters = "fallback_routers"
        case betaUpdates = "beta_updates"
    }
}

/// The caller's v2 profile (`GET /api/v2/users/me`).
public struct V2Profile: Codable, Hashable, Sendable {
    public struct Name: Codable, Hashable, Sendable {
        public var first: String?
        public var last: String?
    }
    public var username: String
    public var email: String?
    public var name: Name?

    public init(username: String, email: String? = nil, name: Name? = nil) {
        self.username = username
        self.email = email
        self.name = name
    }
}
