import Foundation
import Mapping
import V3Client

extension MigrationConfiguration {
    /// The v3 component URLs: each given one, else `target.url`.
    func endpoints() throws -> V3Endpoints {
        func url(_ specific: String?, _ key: String) throws -> String {
            guard let value = specific ?? target.url else {
                throw ConfigurationError.missing(key: "target.url", hint: "or `target.\(key)`: where The Things Stack is")
            }
            return value
        }
        return V3Endpoints(
            identityServer: try url(target.identityServer, "identity_server"), joinServer: try url(target.joinServer, "join_server"),
            networkServer: try url(target.networkServer, "network_server"),
            applicationServer: try url(target.applicationServer, "application_server"))
    }

    /// What the mapper needs, from this configuration. `runTag` goes into API key names.
    func mappingOptions(runTag: String = MappingOptions.defaultRunTag) throws -> MappingOptions {
        guard let owner = target.owner else {
            throw ConfigurationError.missing(key: "target.owner", hint: "`{ user: ID }` or `{ organization: ID }`: who owns what is created")
        }
        let endpoints = try endpoints()
        func selection(_ value: Selection) -> MappingOptions.Selection {
            switch value {
            case .all: return .all
            case .only(let ids): return .only(ids)
            }
        }
        let mappedOwner: MappingOptions.Owner
        switch owner {
        case .user(let id): mappedOwner = .user(id)
        case .organization(let id): mappedOwner = .organization(id)
        }
        return MappingOptions(
            owner: mappedOwner, users: users, applicationRenames: renameApplications, gatewayRenames: renameGateways,
            gatewayFrequencyPlans: frequencyPlans, deviceFrequencyPlan: devices.frequencyPlan,
            deviceFrequencyPlansByApplication: devices.applications, withSession: devices.withSession, gatewayEUIs: gatewayEUIs,
            includeApplications: selection(include.applications), includeGateways: selection(include.gateways),
            includeDeleted: include.deleted, gatewayServerAddress: target.gatewayServerAddress,
            joinServerAddress: V3Endpoints.address(of: endpoints.joinServer),
            networkServerAddress: V3Endpoints.address(of: endpoints.networkServer),
            applicationServerAddress: V3Endpoints.address(of: endpoints.applicationServer), runTag: runTag)
    }
}
