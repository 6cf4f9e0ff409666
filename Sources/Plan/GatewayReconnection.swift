import Foundation
import V3Model

/// How to connect one migrated gateway to v3 (issue 14 item 2).
public struct GatewayReconnection: Sendable, Hashable, Codable {
    public var v2ID: String
    public var v3ID: String
    public var eui: String?
    public var frequencyPlans: [String]
    /// `host[:port]` of the Gateway Server.
    public var gatewayServerAddress: String
    /// Semtech UDP packet forwarder: `server_address`, `serv_port_up`, `serv_port_down`.
    public var udpServerAddress: String
    public var udpPortUp: Int
    public var udpPortDown: Int
    /// LoRa Basics Station: the LNS and CUPS URIs.
    public var lnsURI: String
    public var cupsURI: String
    /// Whether the gateway's create step is done in the journal.
    public var migrated: Bool
    /// The name of the gateway's link key (`RIGHT_GATEWAY_LINK`) once the journal holds it: the LNS key
    /// of a Basics Station, its secret in `ttn-migrate keys --out`.
    public var linkKeyName: String?

    enum CodingKeys: String, CodingKey {
        case eui, migrated
        case linkKeyName = "link_key_name"
        case v2ID = "v2_id"
        case v3ID = "v3_id"
        case frequencyPlans = "frequency_plan_ids"
        case gatewayServerAddress = "gateway_server_address"
        case udpServerAddress = "udp_server_address"
        case udpPortUp = "udp_serv_port_up"
        case udpPortDown = "udp_serv_port_down"
        case lnsURI = "lns_uri"
        case cupsURI = "cups_uri"
    }

    /// The settings a gateway needs to reach v3 (The Things Stack docs "Semtech UDP Packet Forwarder",
    /// "LoRa Basics Station": LNS `wss://<host>:8887`, CUPS `https://<host>:443`, UDP port 1700).
    /// `defaultAddress` is used when the gateway names no Gateway Server address of its own.
    public init(v2ID: String, gateway: V3Gateway, migrated: Bool, defaultAddress: String, linkKeyName: String? = nil) {
        let address = gateway.gatewayServerAddress ?? defaultAddress
        let (host, port) = Self.splitHostPort(address)
        self.v2ID = v2ID
        v3ID = gateway.ids.gatewayID
        eui = gateway.ids.eui?.description
        frequencyPlans = gateway.frequencyPlanIDs ?? []
        gatewayServerAddress = address
        udpServerAddress = host
        udpPortUp = port ?? 1700
        udpPortDown = port ?? 1700
        lnsURI = "wss://\(host):8887"
        cupsURI = "https://\(host):443"
        self.migrated = migrated
        self.linkKeyName = linkKeyName
    }

    /// The gateways of `plan` with their settings; `isDone` says which steps the journal has done.
    public static func all(in plan: MigrationPlan, isDone: (String) -> Bool, defaultAddress: String) -> [GatewayReconnection] {
        var linkKeys: [String: String] = [:]
        for step in plan.steps {
            if case .gatewayAPIKey(let gatewayID, let key) = step.payload, isDone(step.id) { linkKeys[gatewayID] = key.name }
        }
        return plan.steps.compactMap { step in
            guard case .gateway(let gateway) = step.payload else { return nil }
            return GatewayReconnection(
                v2ID: step.entity.v2ID, gateway: gateway, migrated: isDone(step.id), defaultAddress: defaultAddress,
                linkKeyName: linkKeys[gateway.ids.gatewayID])
        }
    }

    /// `host:port`, `[v6]:port` or a bare host.
    static func splitHostPort(_ address: String) -> (host: String, port: Int?) {
        if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
            let host = String(address[address.startIndex...close])
            let rest = address[address.index(after: close)...]
            return (host, rest.hasPrefix(":") ? Int(rest.dropFirst()) : nil)
        }
        let parts = address.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2, let port = Int(parts[1]) { return (String(parts[0]), port) }
        return (address, nil)
    }
}
