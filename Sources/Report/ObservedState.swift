import Foundation
import V3Client
import V3Model

/// What v3 holds under one planned application that v3 has.
public struct ObservedApplication: Hashable, Sendable {
    /// Identity Server end device records by device ID (all devices of the application).
    public var devices: [String: V3JSONValue]
    /// Join, Network and Application Server records of the planned devices, by device ID; a component
    /// missing from the inner map does not hold the device.
    public var deviceParts: [String: [V3Server: V3JSONValue]]
    /// `{"ids": …, "rights": […]}` of every collaborator.
    public var collaborators: [V3JSONValue]
    /// `{"id": …, "name": …, "rights": […]}` of every API key (never a secret).
    public var apiKeys: [V3JSONValue]
    /// The Application Server link; nil when v3 has none (or the plan sets none, so it was not read).
    public var link: V3JSONValue?

    public init(
        devices: [String: V3JSONValue] = [:], deviceParts: [String: [V3Server: V3JSONValue]] = [:], collaborators: [V3JSONValue] = [],
        apiKeys: [V3JSONValue] = [], link: V3JSONValue? = nil
    ) {
        self.devices = devices
        self.deviceParts = deviceParts
        self.collaborators = collaborators
        self.apiKeys = apiKeys
        self.link = link
    }
}

/// What v3 holds now, as far as the comparison needs it; filled by `V3StateReader`, or by hand in tests.
public struct ObservedState: Hashable, Sendable {
    /// The owner's applications by ID (`name`, `description`, `attributes`).
    public var applications: [String: V3JSONValue]
    /// The owner's gateways by ID (the fields the migration sets).
    public var gateways: [String: V3JSONValue]
    /// Collaborator accounts the plan names that v3 does not have.
    public var missingAccounts: Set<V3AccountIdentifiers>
    /// Contents of the planned applications that v3 has, by application ID.
    public var applicationContents: [String: ObservedApplication]
    /// Collaborators of the planned gateways that v3 has, by gateway ID.
    public var gatewayCollaborators: [String: [V3JSONValue]]
    /// API keys of the planned gateways that v3 has, by gateway ID (never a secret).
    public var gatewayAPIKeys: [String: [V3JSONValue]]

    public init(
        applications: [String: V3JSONValue] = [:], gateways: [String: V3JSONValue] = [:], missingAccounts: Set<V3AccountIdentifiers> = [],
        applicationContents: [String: ObservedApplication] = [:], gatewayCollaborators: [String: [V3JSONValue]] = [:],
        gatewayAPIKeys: [String: [V3JSONValue]] = [:]
    ) {
        self.gatewayAPIKeys = gatewayAPIKeys
        self.applications = applications
        self.gateways = gateways
        self.missingAccounts = missingAccounts
        self.applicationContents = applicationContents
        self.gatewayCollaborators = gatewayCollaborators
    }
}

/// The fields `diff` compares per kind: everything the migration may set, so that a field v3 holds which
/// the migration leaves empty shows too. Server-set fields (`created_at`, `session.started_at`, the
/// Network Server's copies of the network key) are not compared.
public enum ComparedFields {
    public static let application = ["name", "description", "attributes"]
    public static let gateway = [
        "ids.eui", "name", "description", "attributes", "frequency_plan_ids", "gateway_server_address", "antennas", "location_public",
        "status_public", "auto_update", "enforce_duty_cycle",
    ]
    public static let collaborator = ["rights"]
    public static let apiKey = ["rights"]
    public static let link = [
        "default_formatters.up_formatter", "default_formatters.up_formatter_parameter", "default_formatters.down_formatter",
        "default_formatters.down_formatter_parameter",
    ]

    /// The fields of a device's part in one component. The identifiers' EUIs are compared once, in the IS part.
    public static func device(_ server: V3Server) -> [String] {
        switch server {
        case .identityServer:
            return [
                "ids.dev_eui", "ids.join_eui", "name", "description", "attributes", "locations", "join_server_address",
                "network_server_address", "application_server_address",
            ]
        case .joinServer:
            return ["network_server_address", "application_server_address", "root_keys.app_key.key"]
        case .networkServer:
            return [
                "frequency_plan_id", "lorawan_version", "lorawan_phy_version", "supports_join", "mac_settings.resets_f_cnt",
                "mac_settings.supports_32_bit_f_cnt", "mac_settings.rx1_delay", "session.dev_addr", "session.keys.f_nwk_s_int_key.key",
                "session.last_f_cnt_up", "session.last_n_f_cnt_down",
            ]
        case .applicationServer:
            return ["session.dev_addr", "session.keys.app_s_key.key", "session.last_a_f_cnt_down", "skip_payload_crypto"]
        }
    }

    /// A read field mask for the compared fields: identifiers come with every answer.
    public static func readMask(_ fields: [String]) -> [String] {
        fields.filter { !$0.hasPrefix("ids.") }
    }
}
