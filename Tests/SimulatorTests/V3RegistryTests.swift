import Foundation
import Simulator
import Testing

/// The registry operations beyond the seed flows: gateway access, IS device list/update/delete, the cluster
/// registries' deletes, the link's delete, lists of organizations and of deleted entities.
@Suite struct V3RegistryTests {
    @Test func gatewayCollaboratorsAndAPIKeys() throws {
        let v3 = try V3Harness()
        #expect(v3.call("POST", "/api/v3/users/user1/gateways", #"{"gateway":{"ids":{"gateway_id":"gtw1"}}}"#).status == 200)
        let body = #"{"collaborator":{"ids":{"user_ids":{"user_id":"bob"}},"rights":["RIGHT_GATEWAY_INFO","RIGHT_GATEWAY_LOCATION_READ"]}}"#
        #expect(v3.call("PUT", "/api/v3/gateways/gtw1/collaborators", body).status == 200)
        #expect(v3.call("GET", "/api/v3/gateways/gtw1/collaborator/user/bob").strings("rights") == ["RIGHT_GATEWAY_INFO", "RIGHT_GATEWAY_LOCATION_READ"])
        // The gateway's delete route says `collaborators` (plural), unlike the application's (§4); the singular
        // path exists for GET only, so DELETE on it is "Method Not Allowed".
        expectPlainError(v3.call("DELETE", "/api/v3/gateways/gtw1/collaborator/user/bob"), status: 501, code: 12, message: "Method Not Allowed")
        #expect(v3.call("DELETE", "/api/v3/gateways/gtw1/collaborators/user/bob").status == 200)
        expectV3Error(v3.call("DELETE", "/api/v3/gateways/gtw1/collaborators/user/user1"), status: 400, code: 9,
                      namespace: "pkg/identityserver", name: "gateway_needs_collaborator")
        // Application rights cannot be granted on a gateway: the caller's gateway rights do not include them.
        let wrongKind = v3.call("POST", "/api/v3/gateways/gtw1/api-keys", #"{"name":"k","rights":["RIGHT_APPLICATION_INFO"]}"#)
        expectV3Error(wrongKind, status: 403, code: 7, namespace: "pkg/auth/rights", name: "insufficient_gateway_rights")
        let key = v3.call("POST", "/api/v3/gateways/gtw1/api-keys", #"{"name":"k","rights":["RIGHT_GATEWAY_LINK","RIGHT_GATEWAY_STATUS_READ"]}"#)
        #expect(key.status == 200, "\(key.text)")
        let id = try #require(key.string("id"))
        let renamed = v3.call("PUT", "/api/v3/gateways/gtw1/api-keys/\(id)", #"{"api_key":{"name":"renamed"},"field_mask":{"paths":["name"]}}"#)
        #expect(renamed.string("name") == "renamed")
        #expect(renamed.strings("rights") == ["RIGHT_GATEWAY_LINK", "RIGHT_GATEWAY_STATUS_READ"])
        #expect(renamed.value("key") == nil)
        #expect(v3.call("DELETE", "/api/v3/gateways/gtw1/api-keys/\(id)").status == 200)
        expectV3Error(v3.call("DELETE", "/api/v3/gateways/gtw1/api-keys/\(id)"), status: 404, code: 5,
                      namespace: "pkg/identityserver/store", name: "api_key_not_found")
    }

    @Test func gatewayUpdateChecksEUIAndAntennas() throws {
        let v3 = try V3Harness()
        #expect(v3.call("POST", "/api/v3/users/user1/gateways", #"{"gateway":{"ids":{"gateway_id":"gtw1","eui":"B827EBFFFE000001"}}}"#).status == 200)
        #expect(v3.call("POST", "/api/v3/users/user1/gateways", #"{"gateway":{"ids":{"gateway_id":"gtw2"}}}"#).status == 200)
        expectV3Error(v3.call("PUT", "/api/v3/gateways/gtw2", #"{"gateway":{"ids":{"eui":"B827EBFFFE000001"}},"field_mask":{"paths":["ids.eui"]}}"#),
                      status: 409, code: 6, namespace: "pkg/identityserver", name: "gateway_eui_taken")
        let antennas = #"{"gateway":{"antennas":[{"gain":3,"placement":"OUTDOOR","location":{"latitude":52.37,"longitude":4.89,"altitude":12,"source":"SOURCE_REGISTRY"}}]},"field_mask":{"paths":["antennas"]}}"#
        let updated = v3.call("PUT", "/api/v3/gateways/gtw2", antennas)
        #expect(updated.status == 200, "\(updated.text)")
        #expect(updated.string("antennas.0.placement") == "OUTDOOR")
        #expect(updated.value("antennas.0.location.latitude") as? Double == 52.37)
        let outOfRange = antennas.replacingOccurrences(of: "52.37", with: "95")
        expectV3Error(v3.call("PUT", "/api/v3/gateways/gtw2", outOfRange), status: 400, code: 3, namespace: "pkg/errors", name: "validation")
        // A sub-path of `antennas` is not an allowed path (§17).
        expectV3Error(v3.call("PUT", "/api/v3/gateways/gtw2", #"{"gateway":{},"field_mask":{"paths":["antennas.location"]}}"#),
                      status: 400, code: 3, namespace: "pkg/rpcmiddleware/validator", name: "field_mask_paths")
    }

    @Test func identityServerDeviceListUpdateDelete() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        for id in ["dev-b", "dev-a"] {
            #expect(v3.call("POST", "/api/v3/applications/app1/devices", #"{"end_device":{"ids":{"device_id":"\#(id)"},"name":"N \#(id)"}}"#).status == 200)
        }
        let list = v3.call("GET", "/api/v3/applications/app1/devices", query: ["field_mask": "name"])
        #expect(list.string("end_devices.0.ids.device_id") == "dev-a")
        #expect(list.string("end_devices.1.name") == "N dev-b")
        #expect(list.response.headers["X-Total-Count"] == "2")

        let location = #"{"end_device":{"locations":{"user":{"latitude":52.1,"longitude":5.1,"source":"SOURCE_REGISTRY"}}},"field_mask":{"paths":["locations"]}}"#
        #expect(v3.call("PUT", "/api/v3/applications/app1/devices/dev-a", location).status == 200)
        #expect(v3.call("GET", "/api/v3/applications/app1/devices/dev-a", query: ["field_mask": "locations"]).string("locations.user.source") == "SOURCE_REGISTRY")
        // The IS does not store keys: a root key in an IS update is not a path it owns.
        let rootKey = v3.call("PUT", "/api/v3/applications/app1/devices/dev-a",
                              #"{"end_device":{"root_keys":{"app_key":{"key":"8E1F4A3B5C6D7E8F9A0B1C2D3E4F5A6B"}}},"field_mask":{"paths":["root_keys.app_key.key"]}}"#)
        expectV3Error(rootKey, status: 400, code: 3, namespace: "pkg/rpcmiddleware/validator", name: "field_mask_paths")
        // Nor in an IS create.
        let createWithKey = v3.call("POST", "/api/v3/applications/app1/devices",
                                    #"{"end_device":{"ids":{"device_id":"dev-c"},"root_keys":{"app_key":{"key":"8E1F4A3B5C6D7E8F9A0B1C2D3E4F5A6B"}}}}"#)
        expectV3Error(createWithKey, status: 400, code: 3, namespace: "pkg/rpcmiddleware/validator", name: "field_mask_paths")
        #expect(createWithKey.strings("details.0.attributes.forbidden_paths") == ["root_keys.app_key.key"])

        #expect(v3.call("DELETE", "/api/v3/applications/app1/devices/dev-a").status == 200)
        expectV3Error(v3.call("GET", "/api/v3/applications/app1/devices/dev-a"), status: 404, code: 5,
                      namespace: "pkg/identityserver/store", name: "end_device_not_found")
        expectV3Error(v3.call("DELETE", "/api/v3/applications/app1/devices/dev-a"), status: 404, code: 5,
                      namespace: "pkg/identityserver/store", name: "end_device_not_found")
        expectV3Error(v3.call("POST", "/api/v3/applications/app1/devices", #"{"end_device":{"ids":{"device_id":"dev-b"}}}"#),
                      status: 409, code: 6, namespace: "pkg/util/store", name: "id_taken")
        expectV3Error(v3.call("POST", "/api/v3/applications/app1/devices", #"{"end_device":{"ids":{"device_id":"device"}}}"#),
                      status: 400, code: 3, namespace: "pkg/identityserver/blocklist", name: "forbidden_id")
    }

    @Test func clusterDeletesAndReads() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        expectV3Error(v3.call("DELETE", "/api/v3/js/applications/app1/devices/dev1"), status: 404, code: 5, namespace: "pkg/joinserver", name: "device_not_found")
        expectV3Error(v3.call("DELETE", "/api/v3/ns/applications/app1/devices/dev1"), status: 404, code: 5, namespace: "pkg/networkserver", name: "device_not_found")
        #expect(v3.call("DELETE", "/api/v3/as/applications/app1/devices/dev1").status == 200)
        expectV3Error(v3.call("GET", "/api/v3/as/applications/app1/devices/dev1"), status: 404, code: 5, namespace: "pkg/applicationserver", name: "device_not_found")

        let set = #"{"end_device":{"ids":{"device_id":"dev1","dev_eui":"70B3D57ED0000001","join_eui":"70B3D57ED0000000"},"root_keys":{"app_key":{"key":"8E1F4A3B5C6D7E8F9A0B1C2D3E4F5A6B"}}},"field_mask":{"paths":["root_keys.app_key.key"]}}"#
        #expect(v3.call("PUT", "/api/v3/js/applications/app1/devices/dev1", set).status == 200)
        // Reading keys needs the read-keys right.
        let reader = try v3.simulator.addUserAPIKey(user: "user1", rights: ["RIGHT_APPLICATION_DEVICES_READ"])
        #expect(v3.call("GET", "/api/v3/js/applications/app1/devices/dev1", query: ["field_mask": "ids"], auth: "Bearer \(reader)").status == 200)
        expectV3Error(v3.call("GET", "/api/v3/js/applications/app1/devices/dev1", query: ["field_mask": "root_keys.app_key.key"], auth: "Bearer \(reader)"),
                      status: 403, code: 7, namespace: "pkg/auth/rights", name: "insufficient_application_rights")
        #expect(v3.call("GET", "/api/v3/js/applications/app1/devices/dev1", query: ["field_mask": "root_keys.app_key.key"]).string("root_keys.app_key.key")
                == "8E1F4A3B5C6D7E8F9A0B1C2D3E4F5A6B")
        // POST form of Set, device ID from the body.
        let post = v3.call("POST", "/api/v3/as/applications/app1/devices",
                           #"{"end_device":{"ids":{"device_id":"dev2"},"formatters":{"down_formatter":"FORMATTER_CAYENNELPP"}},"field_mask":{"paths":["formatters.down_formatter"]}}"#)
        #expect(post.status == 200, "\(post.text)")
        #expect(post.string("ids.device_id") == "dev2")
        #expect(v3.call("DELETE", "/api/v3/js/applications/app1/devices/dev1").status == 200)
        expectV3Error(v3.call("GET", "/api/v3/js/applications/app1/devices/dev1"), status: 404, code: 5, namespace: "pkg/joinserver", name: "device_not_found")
    }

    @Test func linkDeleteAndMissingLink() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        expectV3Error(v3.call("GET", "/api/v3/as/applications/app1/link"), status: 404, code: 5, namespace: "pkg/applicationserver", name: "link_not_found")
        #expect(v3.call("PUT", "/api/v3/as/applications/app1/link", #"{"link":{"skip_payload_crypto":false},"field_mask":{"paths":["skip_payload_crypto"]}}"#).status == 200)
        // A BoolValue wrapper set to false is kept (it is set, not zero).
        #expect(v3.call("GET", "/api/v3/as/applications/app1/link", query: ["field_mask": "skip_payload_crypto"]).value("skip_payload_crypto") as? Bool == false)
        #expect(v3.call("DELETE", "/api/v3/as/applications/app1/link").status == 200)
        expectV3Error(v3.call("GET", "/api/v3/as/applications/app1/link"), status: 404, code: 5, namespace: "pkg/applicationserver", name: "link_not_found")
    }

    @Test func listsByOrganizationAndOfDeletedEntities() throws {
        let v3 = try V3Harness()
        #expect(v3.call("POST", "/api/v3/organizations/acme/applications", #"{"application":{"ids":{"application_id":"org-app"}}}"#).status == 200)
        v3.createApplication("user-app")
        let byOrganization = v3.call("GET", "/api/v3/organizations/acme/applications")
        #expect(byOrganization.string("applications.0.ids.application_id") == "org-app")
        #expect((byOrganization.value("applications") as? [Any])?.count == 1)
        // The caller's own list includes the organization's applications (indirect membership).
        let mine = v3.call("GET", "/api/v3/applications")
        #expect(mine.response.headers["X-Total-Count"] == "2")
        #expect(v3.call("DELETE", "/api/v3/applications/user-app").status == 200)
        #expect(v3.call("GET", "/api/v3/applications").response.headers["X-Total-Count"] == "1")
        let deleted = v3.call("GET", "/api/v3/applications", query: ["deleted": "true"])
        #expect(deleted.string("applications.0.ids.application_id") == "user-app")
        expectV3Error(v3.call("GET", "/api/v3/users/bob/applications"), status: 403, code: 7, namespace: "pkg/auth/rights", name: "no_user_rights")
    }

    @Test func apiKeyRightsChangesNeedTheCallersRights() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let created = v3.call("POST", "/api/v3/applications/app1/api-keys", #"{"name":"k","rights":["RIGHT_APPLICATION_INFO"]}"#)
        let id = try #require(created.string("id"))
        let limited = try v3.simulator.addUserAPIKey(user: "user1", rights: ["RIGHT_APPLICATION_INFO", "RIGHT_APPLICATION_SETTINGS_API_KEYS"])
        let widen = v3.call("PUT", "/api/v3/applications/app1/api-keys/\(id)",
                            #"{"api_key":{"rights":["RIGHT_APPLICATION_INFO","RIGHT_APPLICATION_DELETE"]},"field_mask":{"paths":["rights"]}}"#,
                            auth: "Bearer \(limited)")
        expectV3Error(widen, status: 403, code: 7, namespace: "pkg/auth/rights", name: "insufficient_application_rights")
        #expect(widen.strings("details.0.attributes.missing") == ["RIGHT_APPLICATION_DELETE"])
        let allowed = v3.call("PUT", "/api/v3/applications/app1/api-keys/\(id)",
                              #"{"api_key":{"rights":["RIGHT_APPLICATION_INFO","RIGHT_APPLICATION_DELETE"]},"field_mask":{"paths":["rights"]}}"#)
        #expect(allowed.strings("rights") == ["RIGHT_APPLICATION_INFO", "RIGHT_APPLICATION_DELETE"])
        expectV3Error(v3.call("PUT", "/api/v3/applications/app1/api-keys/\(id)", #"{"api_key":{"name":"x"},"field_mask":{"paths":["name","secret"]}}"#),
                      status: 400, code: 3, namespace: "pkg/rpcmiddleware/validator", name: "field_mask_paths")
    }
}
