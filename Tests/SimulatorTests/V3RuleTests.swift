import Foundation
import Simulator
import Testing

/// One wrong request per rule, each answered with the real status and error (reference/v3-api.md §9 and the
/// sections cited per test). Expected values are written by hand from the reference.
@Suite struct V3RuleTests {
    // MARK: Routing and decoding (§9)

    @Test func unknownPathIsNotFoundWithoutDetails() throws {
        let v3 = try V3Harness()
        expectPlainError(v3.call("GET", "/api/v3/no-such-thing/x"), status: 404, code: 5, message: "Not Found")
        expectPlainError(v3.call("GET", "/api/v2/applications"), status: 404, code: 5, message: "Not Found")
    }

    @Test func knownPathWithWrongMethodIs501MethodNotAllowed() throws {
        let v3 = try V3Harness()
        expectPlainError(v3.call("PATCH", "/api/v3/applications/app1"), status: 501, code: 12, message: "Method Not Allowed")
    }

    @Test func malformedJSONBodyIs400Code3WithoutDetails() throws {
        let v3 = try V3Harness()
        expectPlainError(v3.call("POST", "/api/v3/users/user1/applications", #"{"application": {"ids": "#), status: 400, code: 3)
        expectPlainError(v3.call("POST", "/api/v3/users/user1/applications", "[1,2]"), status: 400, code: 3)
    }

    @Test func wrapperInObjectFormIsRejectedByTheDecoder() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let answer = v3.call("PUT", "/api/v3/ns/applications/app1/devices/dev1", """
        {"end_device": {"ids": {"device_id": "dev1", "dev_eui": "70B3D57ED0000001", "join_eui": "70B3D57ED0000000"},
          "frequency_plan_id": "EU_863_870_TTN", "lorawan_version": "MAC_V1_0_2", "lorawan_phy_version": "PHY_V1_0_2_REV_B",
          "supports_join": true, "mac_settings": {"rx1_delay": {"value": 1}}},
         "field_mask": {"paths": ["frequency_plan_id", "lorawan_version", "lorawan_phy_version", "supports_join", "mac_settings.rx1_delay"]}}
        """)
        expectPlainError(answer, status: 400, code: 3)
    }

    @Test func unknownEnumNameIsRejectedByTheDecoder() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let answer = v3.call("PUT", "/api/v3/ns/applications/app1/devices/dev1", """
        {"end_device": {"ids": {"device_id": "dev1", "dev_eui": "70B3D57ED0000001", "join_eui": "70B3D57ED0000000"},
          "lorawan_version": "1.0.9"}, "field_mask": {"paths": ["lorawan_version"]}}
        """)
        expectPlainError(answer, status: 400, code: 3)
    }

    @Test func euiOfWrongLengthIsRejectedByTheDecoder() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let answer = v3.call("POST", "/api/v3/applications/app1/devices",
                             #"{"end_device": {"ids": {"device_id": "dev1", "dev_eui": "70B3D57ED00001"}}}"#)
        expectPlainError(answer, status: 400, code: 3)
    }

    // MARK: Authentication (§11)

    @Test func missingAuthorizationIsUnauthenticated() throws {
        let v3 = try V3Harness()
        let answer = v3.call("GET", "/api/v3/auth_info", auth: .none)
        expectV3Error(answer, status: 401, code: 16, namespace: "pkg/identityserver", name: "unauthenticated")
        #expect(answer.response.headers["WWW-Authenticate"] == "error:pkg/identityserver:unauthenticated (unauthenticated)")
    }

    @Test func unknownKeyIsAPIKeyNotFound() throws {
        let v3 = try V3Harness()
        let unknown = "NNSXS.ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDE.ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCDEFGHIJKLMNOPQRST"
        expectV3Error(v3.call("GET", "/api/v3/auth_info", auth: "Bearer \(unknown)"), status: 401, code: 16,
                      namespace: "pkg/identityserver", name: "api_key_not_found")
    }

    @Test func tokenThatIsNotThreeBase32PartsIsInvalidToken() throws {
        let v3 = try V3Harness()
        expectV3Error(v3.call("GET", "/api/v3/auth_info", auth: "Bearer not-a-token"), status: 400, code: 3,
                      namespace: "pkg/auth", name: "token")
    }

    @Test func rightKeyIDWithWrongSecretIsInvalidAuthorization() throws {
        let v3 = try V3Harness()
        let parts = v3.key.split(separator: ".")
        let wrong = "\(parts[0]).\(parts[1]).\(String(repeating: "A", count: 52))"
        expectV3Error(v3.call("GET", "/api/v3/auth_info", auth: "Bearer \(wrong)"), status: 401, code: 16,
                      namespace: "pkg/identityserver", name: "invalid_authorization")
    }

    @Test func nonBearerSchemeIsUnsupportedAuthorization() throws {
        let v3 = try V3Harness()
        expectV3Error(v3.call("GET", "/api/v3/auth_info", auth: "Basic \(v3.key)"), status: 401, code: 16,
                      namespace: "pkg/identityserver", name: "unsupported_authorization")
    }

    @Test func bearerSchemeIsCaseInsensitiveAndAuthInfoExpandsRights() throws {
        let v3 = try V3Harness(keyRights: ["RIGHT_APPLICATION_LINK"])
        let answer = v3.call("GET", "/api/v3/auth_info", auth: "bEaReR \(v3.key)")
        #expect(answer.status == 200, "\(answer.text)")
        #expect(answer.string("api_key.entity_ids.user_ids.user_id") == "user1")
        // RIGHT_APPLICATION_LINK implies INFO, TRAFFIC_READ and TRAFFIC_DOWN_WRITE (§12), listed by enum number.
        #expect(answer.strings("api_key.api_key.rights") == [
            "RIGHT_APPLICATION_INFO", "RIGHT_APPLICATION_TRAFFIC_READ", "RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE", "RIGHT_APPLICATION_LINK",
        ])
        #expect(answer.value("api_key.api_key.key") == nil)
        #expect(answer.value("is_admin") == nil)
    }

    // MARK: Rights (§4, §11, §15)

    @Test func keyWithoutCreateRightGetsInsufficientUserRights() throws {
        let v3 = try V3Harness(keyRights: ["RIGHT_USER_INFO", "RIGHT_APPLICATION_ALL"])
        let answer = v3.call("POST", "/api/v3/users/user1/applications", #"{"application":{"ids":{"application_id":"app1"}}}"#)
        expectV3Error(answer, status: 403, code: 7, namespace: "pkg/auth/rights", name: "insufficient_user_rights")
        #expect(answer.strings("details.0.attributes.missing") == ["RIGHT_USER_APPLICATIONS_CREATE"])
        #expect(answer.string("details.0.attributes.uid") == "user1")
    }

    @Test func creatingUnderAnotherUserIsNoUserRights() throws {
        let v3 = try V3Harness()
        expectV3Error(v3.call("POST", "/api/v3/users/bob/applications", #"{"application":{"ids":{"application_id":"app1"}}}"#),
                      status: 403, code: 7, namespace: "pkg/auth/rights", name: "no_user_rights")
    }

    @Test func callerMustHoldEveryRightItGrants() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let limited = try v3.simulator.addUserAPIKey(user: "user1", rights: [
            "RIGHT_APPLICATION_INFO", "RIGHT_APPLICATION_SETTINGS_API_KEYS", "RIGHT_APPLICATION_SETTINGS_COLLABORATORS",
        ])
        let key = v3.call("POST", "/api/v3/applications/app1/api-keys",
                          #"{"name":"too much","rights":["RIGHT_APPLICATION_INFO","RIGHT_APPLICATION_DELETE"]}"#, auth: "Bearer \(limited)")
        expectV3Error(key, status: 403, code: 7, namespace: "pkg/auth/rights", name: "insufficient_application_rights")
        #expect(key.strings("details.0.attributes.missing") == ["RIGHT_APPLICATION_DELETE"])

        let collaborator = v3.call("PUT", "/api/v3/applications/app1/collaborators",
                                   #"{"collaborator":{"ids":{"user_ids":{"user_id":"bob"}},"rights":["RIGHT_APPLICATION_DEVICES_READ"]}}"#,
                                   auth: "Bearer \(limited)")
        expectV3Error(collaborator, status: 403, code: 7, namespace: "pkg/auth/rights", name: "insufficient_application_rights")
        #expect(collaborator.strings("details.0.attributes.missing") == ["RIGHT_APPLICATION_DEVICES_READ"])
    }

    @Test func readingMissingApplicationOrGatewayIs403NoRights() throws {
        let v3 = try V3Harness()
        let application = v3.call("GET", "/api/v3/applications/never-made")
        expectV3Error(application, status: 403, code: 7, namespace: "pkg/auth/rights", name: "no_application_rights")
        #expect(application.string("details.0.attributes.uid") == "never-made")
        expectV3Error(v3.call("GET", "/api/v3/gateways/never-made"), status: 403, code: 7,
                      namespace: "pkg/auth/rights", name: "no_gateway_rights")
        // The cluster components ask the IS for rights too.
        expectV3Error(v3.call("GET", "/api/v3/ns/applications/never-made/devices/dev1"), status: 403, code: 7,
                      namespace: "pkg/auth/rights", name: "no_application_rights")
    }

    // MARK: IDs, names, attributes (§3, §8)

    @Test func applicationIDBreakingTheRegexIsAValidationError() throws {
        let v3 = try V3Harness()
        let answer = v3.call("POST", "/api/v3/users/user1/applications", #"{"application":{"ids":{"application_id":"My_App"}}}"#)
        expectV3Error(answer, status: 400, code: 3, namespace: "pkg/errors", name: "validation")
        #expect(answer.string("details.0.attributes.field") == "application")
        #expect(answer.string("details.0.cause.attributes.field") == "ids")
        #expect(answer.string("details.0.cause.cause.attributes.field") == "application_id")
        #expect(answer.string("details.0.cause.cause.attributes.reason") == #"value does not match regex pattern "^[a-z0-9](?:[-]?[a-z0-9]){2,}$""#)
    }

    @Test func blocklistedIDIsForbiddenID() throws {
        let v3 = try V3Harness()
        let answer = v3.call("POST", "/api/v3/users/user1/applications", #"{"application":{"ids":{"application_id":"admin"}}}"#)
        expectV3Error(answer, status: 400, code: 3, namespace: "pkg/identityserver/blocklist", name: "forbidden_id")
        #expect(answer.string("details.0.attributes.id") == "admin")
    }

    @Test func nameDescriptionAndAttributeLimits() throws {
        let v3 = try V3Harness()
        let longName = String(repeating: "n", count: 51)
        let name = v3.call("POST", "/api/v3/users/user1/applications", #"{"application":{"ids":{"application_id":"app1"},"name":"\#(longName)"}}"#)
        expectV3Error(name, status: 400, code: 3, namespace: "pkg/errors", name: "validation")
        #expect(name.string("details.0.cause.attributes.reason") == "value length must be at most 50 runes")

        let longDescription = String(repeating: "d", count: 2001)
        expectV3Error(v3.call("POST", "/api/v3/users/user1/applications",
                              #"{"application":{"ids":{"application_id":"app1"},"description":"\#(longDescription)"}}"#),
                      status: 400, code: 3, namespace: "pkg/errors", name: "validation")

        let eleven = (1...11).map { #""key-\#($0)":"v""# }.joined(separator: ",")
        let many = v3.call("POST", "/api/v3/users/user1/applications", #"{"application":{"ids":{"application_id":"app1"},"attributes":{\#(eleven)}}}"#)
        expectV3Error(many, status: 400, code: 3, namespace: "pkg/errors", name: "validation")
        #expect(many.string("details.0.cause.attributes.reason") == "value must contain no more than 10 pair(s)")

        let badKey = v3.call("POST", "/api/v3/users/user1/applications", #"{"application":{"ids":{"application_id":"app1"},"attributes":{"Bad_Key":"v"}}}"#)
        expectV3Error(badKey, status: 400, code: 3, namespace: "pkg/errors", name: "validation")
        #expect(badKey.string("details.0.cause.attributes.field") == "attributes[Bad_Key]")

        let longValue = String(repeating: "v", count: 201)
        let value = v3.call("POST", "/api/v3/users/user1/applications", #"{"application":{"ids":{"application_id":"app1"},"attributes":{"v2-id":"\#(longValue)"}}}"#)
        expectV3Error(value, status: 400, code: 3, namespace: "pkg/errors", name: "validation")
        #expect(value.string("details.0.cause.attributes.reason") == "value length must be at most 200 runes")

        // A 50-character name of multi-byte runes is fine: the limit counts runes, not bytes.
        let runes = String(repeating: "é", count: 50)
        #expect(v3.call("POST", "/api/v3/users/user1/applications", #"{"application":{"ids":{"application_id":"app1"},"name":"\#(runes)"}}"#).status == 200)
    }

    @Test func duplicateAndDeletedApplicationIDsAreTaken() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        expectV3Error(v3.call("POST", "/api/v3/users/user1/applications", #"{"application":{"ids":{"application_id":"app1"}}}"#),
                      status: 409, code: 6, namespace: "pkg/util/store", name: "id_taken")
        #expect(v3.call("DELETE", "/api/v3/applications/app1").status == 200)
        // Soft-deleted: reading it now answers 403, and the ID stays taken (§3).
        expectV3Error(v3.call("GET", "/api/v3/applications/app1"), status: 403, code: 7, namespace: "pkg/auth/rights", name: "no_application_rights")
        expectV3Error(v3.call("POST", "/api/v3/organizations/acme/applications", #"{"application":{"ids":{"application_id":"app1"}}}"#),
                      status: 409, code: 6, namespace: "pkg/util/store", name: "id_taken")
        // Restore brings it back.
        #expect(v3.call("POST", "/api/v3/applications/app1/restore").status == 200)
        #expect(v3.call("GET", "/api/v3/applications/app1").status == 200)
    }

    @Test func gatewayEUITakenAmongLiveGatewaysOnly() throws {
        let v3 = try V3Harness()
        let first = v3.call("POST", "/api/v3/users/user1/gateways", #"{"gateway":{"ids":{"gateway_id":"gtw1","eui":"B827EBFFFE123456"}}}"#)
        #expect(first.status == 200, "\(first.text)")
        let second = v3.call("POST", "/api/v3/users/user1/gateways", #"{"gateway":{"ids":{"gateway_id":"gtw2","eui":"b827ebfffe123456"}}}"#)
        expectV3Error(second, status: 409, code: 6, namespace: "pkg/identityserver", name: "gateway_eui_taken")
        #expect(second.string("details.0.attributes.gateway_id") == "gtw1")
        #expect(second.string("details.0.attributes.gateway_eui") == "B827EBFFFE123456")
        #expect(v3.call("DELETE", "/api/v3/gateways/gtw1").status == 200)
        #expect(v3.call("POST", "/api/v3/users/user1/gateways", #"{"gateway":{"ids":{"gateway_id":"gtw2","eui":"B827EBFFFE123456"}}}"#).status == 200)
        expectV3Error(v3.call("POST", "/api/v3/users/user1/gateways", #"{"gateway":{"ids":{"gateway_id":"gtw1"}}}"#),
                      status: 409, code: 6, namespace: "pkg/util/store", name: "id_taken")
    }

    // MARK: Collaborators (§4)

    @Test func collaboratorMustBeAnExistingAccount() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let answer = v3.call("PUT", "/api/v3/applications/app1/collaborators",
                             #"{"collaborator":{"ids":{"user_ids":{"user_id":"nobody"}},"rights":["RIGHT_APPLICATION_INFO"]}}"#)
        expectV3Error(answer, status: 404, code: 5, namespace: "pkg/identityserver/store", name: "account_not_found")
        #expect(answer.string("details.0.attributes.account_id") == "nobody")
        #expect(answer.string("details.0.attributes.account_type") == "user")
    }

    @Test func collaboratorSetIsAnUpsertAndEmptyRightsDelete() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let body = #"{"collaborator":{"ids":{"user_ids":{"user_id":"bob"}},"rights":["APPLICATION_INFO","RIGHT_APPLICATION_TRAFFIC_READ"]}}"#
        #expect(v3.call("PUT", "/api/v3/applications/app1/collaborators", body).status == 200)
        #expect(v3.call("PUT", "/api/v3/applications/app1/collaborators", body).status == 200)
        let read = v3.call("GET", "/api/v3/applications/app1/collaborator/user/bob")
        #expect(read.strings("rights") == ["RIGHT_APPLICATION_INFO", "RIGHT_APPLICATION_TRAFFIC_READ"])
        #expect(v3.call("PUT", "/api/v3/applications/app1/collaborators", #"{"collaborator":{"ids":{"user_ids":{"user_id":"bob"}},"rights":[]}}"#).status == 200)
        expectV3Error(v3.call("GET", "/api/v3/applications/app1/collaborator/user/bob"), status: 404, code: 5,
                      namespace: "pkg/identityserver/store", name: "membership_not_found")
    }

    @Test func lastOwnerCannotLoseAllRights() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let answer = v3.call("PUT", "/api/v3/applications/app1/collaborators", #"{"collaborator":{"ids":{"user_ids":{"user_id":"user1"}},"rights":[]}}"#)
        expectV3Error(answer, status: 400, code: 9, namespace: "pkg/identityserver", name: "application_needs_collaborator")
        expectV3Error(v3.call("DELETE", "/api/v3/applications/app1/collaborator/user/user1"), status: 400, code: 9,
                      namespace: "pkg/identityserver", name: "application_needs_collaborator")
        // With the organization as a second owner, the user may leave.
        #expect(v3.call("PUT", "/api/v3/applications/app1/collaborators", #"{"collaborator":{"ids":{"organization_ids":{"organization_id":"acme"}},"rights":["RIGHT_APPLICATION_ALL"]}}"#).status == 200)
        #expect(v3.call("DELETE", "/api/v3/applications/app1/collaborator/user/user1").status == 200)
        // The key owner keeps its rights through the organization.
        #expect(v3.call("GET", "/api/v3/applications/app1").status == 200)
    }

    // MARK: Applications with devices (§3)

    @Test func applicationWithDevicesCannotBeDeleted() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        #expect(v3.call("POST", "/api/v3/applications/app1/devices", #"{"end_device":{"ids":{"device_id":"dev1"}}}"#).status == 200)
        let answer = v3.call("DELETE", "/api/v3/applications/app1")
        expectV3Error(answer, status: 400, code: 9, namespace: "pkg/identityserver", name: "application_has_devices")
        #expect(answer.value("details.0.attributes.count") as? Int == 1)
    }

    @Test func endDeviceEUIPairsAreUniqueInTheISAndInEachRegistry() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        v3.createApplication("app2")
        let ids = #""dev_eui":"70B3D57ED0000001","join_eui":"70B3D57ED0000000""#
        #expect(v3.call("POST", "/api/v3/applications/app1/devices", #"{"end_device":{"ids":{"device_id":"dev1",\#(ids)}}}"#).status == 200)
        let taken = v3.call("POST", "/api/v3/applications/app2/devices", #"{"end_device":{"ids":{"device_id":"dev2",\#(ids)}}}"#)
        expectV3Error(taken, status: 409, code: 6, namespace: "pkg/identityserver", name: "end_device_euis_taken")
        #expect(taken.string("details.0.attributes.device_id") == "dev1")
        #expect(taken.string("details.0.attributes.application_id") == "app1")

        let set = #"{"end_device":{"ids":{"device_id":"DEVICE",\#(ids)}},"field_mask":{"paths":["ids.device_id"]}}"#
        #expect(v3.call("PUT", "/api/v3/as/applications/app1/devices/dev1", set.replacingOccurrences(of: "DEVICE", with: "dev1")).status == 200)
        // Upsert: the same device again is fine.
        #expect(v3.call("PUT", "/api/v3/as/applications/app1/devices/dev1", set.replacingOccurrences(of: "DEVICE", with: "dev1")).status == 200)
        expectV3Error(v3.call("PUT", "/api/v3/as/applications/app2/devices/dev9", set.replacingOccurrences(of: "DEVICE", with: "dev9")),
                      status: 409, code: 6, namespace: "pkg/internal/registry", name: "end_device_euis_taken")
    }

    // MARK: Field masks (§2)

    @Test func pathOutsideTheAllowedListIsForbidden() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let answer = v3.call("PUT", "/api/v3/applications/app1", #"{"application":{"name":"x"},"field_mask":{"paths":["name","dev_eui_counter"]}}"#)
        expectV3Error(answer, status: 400, code: 3, namespace: "pkg/rpcmiddleware/validator", name: "field_mask_paths")
        #expect(answer.strings("details.0.attributes.forbidden_paths") == ["dev_eui_counter"])
        // No prefix expansion: `locations.user` is not an allowed path of the IS device registry (§17).
        let device = v3.call("GET", "/api/v3/applications/app1/devices/dev1", query: ["field_mask": "locations.user"])
        expectV3Error(device, status: 400, code: 3, namespace: "pkg/rpcmiddleware/validator", name: "field_mask_paths")
    }

    @Test func appSKeySentToTheNetworkServerIsRefused() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let body = """
        {"end_device": {"ids": {"device_id": "dev1", "dev_eui": "70B3D57ED0000001"}, "supports_join": false,
          "frequency_plan_id": "EU_863_870_TTN", "lorawan_version": "MAC_V1_0_2", "lorawan_phy_version": "PHY_V1_0_2_REV_B",
          "session": {"dev_addr": "260B1234", "keys": {"f_nwk_s_int_key": {"key": "0123456789ABCDEF0123456789ABCDEF"},
                                                      "app_s_key": {"key": "FEDCBA9876543210FEDCBA9876543210"}}}},
         "field_mask": {"paths": [MASK]}}
        """
        let common = #""supports_join","frequency_plan_id","lorawan_version","lorawan_phy_version""#
        // In the mask: the NS Set RPC does not allow that path.
        let inMask = v3.call("PUT", "/api/v3/ns/applications/app1/devices/dev1",
                             body.replacingOccurrences(of: "MASK", with: #"\#(common),"session.dev_addr","session.keys.f_nwk_s_int_key.key","session.keys.app_s_key.key""#))
        expectV3Error(inMask, status: 400, code: 3, namespace: "pkg/rpcmiddleware/validator", name: "field_mask_paths")
        #expect(inMask.strings("details.0.attributes.forbidden_paths") == ["session.keys.app_s_key.key"])
        // Under a requested `session`: the zero rule of NsEndDeviceRegistry/Set (§2.3).
        let whole = v3.call("PUT", "/api/v3/ns/applications/app1/devices/dev1", body.replacingOccurrences(of: "MASK", with: #"\#(common),"session""#))
        expectV3Error(whole, status: 400, code: 3, namespace: "pkg/rpcmiddleware/validator", name: "non_zero_path")
        #expect(whole.string("details.0.attributes.path") == "session.keys.app_s_key")
        // In the body only: the simulator refuses a field its server does not own.
        let bodyOnly = v3.call("PUT", "/api/v3/ns/applications/app1/devices/dev1",
                               body.replacingOccurrences(of: "MASK", with: #"\#(common),"session.dev_addr","session.keys.f_nwk_s_int_key.key""#))
        expectV3Error(bodyOnly, status: 400, code: 3, namespace: "pkg/rpcmiddleware/validator", name: "field_mask_paths")
        #expect(bodyOnly.strings("details.0.attributes.forbidden_paths") == ["session.keys.app_s_key.key"])
    }

    @Test func bodyFieldOutsideTheMaskIsRefused() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let answer = v3.call("PUT", "/api/v3/applications/app1", #"{"application":{"name":"x","description":"not in mask"},"field_mask":"name"}"#)
        expectV3Error(answer, status: 400, code: 3, namespace: "pkg/rpcmiddleware/validator", name: "non_zero_path")
        #expect(answer.string("details.0.attributes.path") == "description")
    }

    @Test func maskAsStringAndAsObjectBothWork() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        #expect(v3.call("PUT", "/api/v3/applications/app1", #"{"application":{"name":"A","description":"B"},"field_mask":"name,description"}"#).status == 200)
        let read = v3.call("GET", "/api/v3/applications/app1", query: ["field_mask": "name,description"])
        #expect(read.string("name") == "A")
        #expect(read.string("description") == "B")
        #expect(v3.call("PUT", "/api/v3/applications/app1", #"{"application":{},"field_mask":{"paths":["description"]}}"#).status == 200)
        #expect(v3.call("GET", "/api/v3/applications/app1", query: ["field_mask": "description"]).value("description") == nil)
        expectPlainError(v3.call("PUT", "/api/v3/applications/app1", #"{"application":{},"field_mask":{"paths":["name"],"extra":1}}"#),
                         status: 400, code: 3)
    }

    // MARK: Join Server (§6)

    @Test func joinServerNeedsJoinEUIAndNonZeroDevEUI() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        expectV3Error(v3.call("PUT", "/api/v3/js/applications/app1/devices/dev1",
                              #"{"end_device":{"ids":{"device_id":"dev1","dev_eui":"70B3D57ED0000001"}},"field_mask":{"paths":["ids.device_id"]}}"#),
                      status: 400, code: 3, namespace: "pkg/joinserver", name: "no_join_eui")
        expectV3Error(v3.call("PUT", "/api/v3/js/applications/app1/devices/dev1",
                              #"{"end_device":{"ids":{"device_id":"dev1","dev_eui":"0000000000000000","join_eui":"70B3D57ED0000000"}},"field_mask":{"paths":["ids.device_id"]}}"#),
                      status: 400, code: 3, namespace: "pkg/joinserver", name: "no_dev_eui")
    }

    @Test func rootKeysNeedTheWriteKeysRight() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let noKeys = try v3.simulator.addUserAPIKey(user: "user1", rights: ["RIGHT_APPLICATION_DEVICES_READ", "RIGHT_APPLICATION_DEVICES_WRITE"])
        let answer = v3.call("PUT", "/api/v3/js/applications/app1/devices/dev1", """
        {"end_device":{"ids":{"device_id":"dev1","dev_eui":"70B3D57ED0000001","join_eui":"70B3D57ED0000000"},
          "root_keys":{"app_key":{"key":"8E1F4A3B5C6D7E8F9A0B1C2D3E4F5A6B"}}},"field_mask":{"paths":["root_keys.app_key.key"]}}
        """, auth: "Bearer \(noKeys)")
        expectV3Error(answer, status: 403, code: 7, namespace: "pkg/auth/rights", name: "insufficient_application_rights")
        #expect(answer.strings("details.0.attributes.missing") == ["RIGHT_APPLICATION_DEVICES_WRITE_KEYS"])
    }

    // MARK: Network Server (§6, §15)

    private static func nsBody(_ fields: String, mask: String) -> String {
        #"{"end_device":{"ids":{"device_id":"dev1","dev_eui":"70B3D57ED0000001","join_eui":"70B3D57ED0000000"},\#(fields)},"field_mask":{"paths":[\#(mask)]}}"#
    }

    private static let otaaFields = #""supports_join":true,"frequency_plan_id":"EU_863_870_TTN","lorawan_version":"MAC_V1_0_2","lorawan_phy_version":"PHY_V1_0_2_REV_B""#
    private static let otaaMask = #""supports_join","frequency_plan_id","lorawan_version","lorawan_phy_version""#

    @Test func unknownFrequencyPlanIsNotFound() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let answer = v3.call("PUT", "/api/v3/ns/applications/app1/devices/dev1",
                             V3RuleTests.nsBody(V3RuleTests.otaaFields.replacingOccurrences(of: "EU_863_870_TTN", with: "EU_863_870_MOON"), mask: V3RuleTests.otaaMask))
        expectV3Error(answer, status: 404, code: 5, namespace: "pkg/frequencyplans", name: "not_found")
        #expect(answer.string("details.0.attributes.id") == "EU_863_870_MOON")
    }

    @Test func phyVersionAlias102IsRevisionA() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let answer = v3.call("PUT", "/api/v3/ns/applications/app1/devices/dev1",
                             V3RuleTests.nsBody(V3RuleTests.otaaFields.replacingOccurrences(of: "PHY_V1_0_2_REV_B", with: "1.0.2"), mask: V3RuleTests.otaaMask))
        #expect(answer.status == 200, "\(answer.text)")
        #expect(answer.string("lorawan_phy_version") == "PHY_V1_0_2_REV_A")
        let unknown = v3.call("PUT", "/api/v3/ns/applications/app1/devices/dev1",
                              V3RuleTests.nsBody(#""lorawan_phy_version":"PHY_UNKNOWN""#, mask: #""lorawan_phy_version""#))
        expectV3Error(unknown, status: 400, code: 3, namespace: "pkg/networkserver", name: "field_value")
        #expect(unknown.string("details.0.attributes.field") == "lorawan_phy_version")
    }

    @Test func otaaNeedsBothEUIs() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let body = #"{"end_device":{"ids":{"device_id":"dev1","dev_eui":"70B3D57ED0000001"},\#(V3RuleTests.otaaFields)},"field_mask":{"paths":[\#(V3RuleTests.otaaMask)]}}"#
        let answer = v3.call("PUT", "/api/v3/ns/applications/app1/devices/dev1", body)
        expectV3Error(answer, status: 400, code: 3, namespace: "pkg/networkserver", name: "field_value")
        #expect(answer.string("details.0.attributes.field") == "ids.join_eui")
        #expect(answer.string("details.0.cause.name") == "field_is_zero")
    }

    @Test func abpSessionWithSessionKeyIDIsRefused() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let fields = #""supports_join":false,"frequency_plan_id":"EU_863_870_TTN","lorawan_version":"MAC_V1_0_2","lorawan_phy_version":"PHY_V1_0_2_REV_B","session":{"dev_addr":"260B1234","keys":{"session_key_id":"AQID","f_nwk_s_int_key":{"key":"0123456789ABCDEF0123456789ABCDEF"}}}"#
        let answer = v3.call("PUT", "/api/v3/ns/applications/app1/devices/dev1",
                             V3RuleTests.nsBody(fields, mask: #"\#(V3RuleTests.otaaMask),"session.dev_addr","session.keys.session_key_id","session.keys.f_nwk_s_int_key.key""#))
        expectV3Error(answer, status: 400, code: 3, namespace: "pkg/networkserver", name: "field_value")
        #expect(answer.string("details.0.attributes.field") == "session.keys.session_key_id")
        #expect(answer.string("details.0.cause.name") == "field_not_zero")
    }

    @Test func abpWithoutSessionIsRefused() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let answer = v3.call("PUT", "/api/v3/ns/applications/app1/devices/dev1",
                             V3RuleTests.nsBody(V3RuleTests.otaaFields.replacingOccurrences(of: #""supports_join":true"#, with: #""supports_join":false"#),
                                                mask: V3RuleTests.otaaMask))
        expectV3Error(answer, status: 400, code: 3, namespace: "pkg/networkserver", name: "field_value")
        #expect(answer.string("details.0.attributes.field") == "session.dev_addr")
    }

    @Test func supportsJoinCannotChangeAfterCreation() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        #expect(v3.call("PUT", "/api/v3/ns/applications/app1/devices/dev1", V3RuleTests.nsBody(V3RuleTests.otaaFields, mask: V3RuleTests.otaaMask)).status == 200)
        // OTAA → ABP with a valid ABP session: every other rule holds, so the immutability rule answers.
        let abp = #""supports_join":false,"session":{"dev_addr":"260B1234","keys":{"f_nwk_s_int_key":{"key":"0123456789ABCDEF0123456789ABCDEF"}}}"#
        let answer = v3.call("PUT", "/api/v3/ns/applications/app1/devices/dev1",
                             V3RuleTests.nsBody(abp, mask: #""supports_join","session.dev_addr","session.keys.f_nwk_s_int_key.key""#))
        expectV3Error(answer, status: 400, code: 3, namespace: "pkg/networkserver", name: "field_value")
        #expect(answer.string("details.0.attributes.field") == "supports_join")
        // Re-sending the same value is an idempotent upsert.
        #expect(v3.call("PUT", "/api/v3/ns/applications/app1/devices/dev1", V3RuleTests.nsBody(V3RuleTests.otaaFields, mask: V3RuleTests.otaaMask)).status == 200)
    }

    @Test func wrapperValuesAreBareAndFalseIsKept() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let fields = V3RuleTests.otaaFields + #","mac_settings":{"rx1_delay":1,"supports_32_bit_f_cnt":false,"resets_f_cnt":true}"#
        let mask = V3RuleTests.otaaMask + #","mac_settings.rx1_delay","mac_settings.supports_32_bit_f_cnt","mac_settings.resets_f_cnt""#
        #expect(v3.call("PUT", "/api/v3/ns/applications/app1/devices/dev1", V3RuleTests.nsBody(fields, mask: mask)).status == 200)
        let read = v3.call("GET", "/api/v3/ns/applications/app1/devices/dev1", query: ["field_mask": "mac_settings"])
        #expect(read.value("mac_settings.rx1_delay") as? Int == 1)
        #expect(read.value("mac_settings.supports_32_bit_f_cnt") as? Bool == false)
        #expect(read.value("mac_settings.resets_f_cnt") as? Bool == true)
        // RxDelay is written as a number even when sent as a name (§1).
        let named = V3RuleTests.otaaFields + #","mac_settings":{"rx1_delay":"RX_DELAY_5"}"#
        let answer = v3.call("PUT", "/api/v3/ns/applications/app1/devices/dev1", V3RuleTests.nsBody(named, mask: V3RuleTests.otaaMask + #","mac_settings.rx1_delay""#))
        #expect(answer.value("mac_settings.rx1_delay") as? Int == 5)
    }

    // MARK: Application Server (§6)

    @Test func applicationServerNeedsNonZeroDevAddrAndAppSKey() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let devAddr = v3.call("PUT", "/api/v3/as/applications/app1/devices/dev1",
                              #"{"end_device":{"ids":{"device_id":"dev1"},"session":{"dev_addr":"00000000"}},"field_mask":{"paths":["session.dev_addr"]}}"#)
        expectV3Error(devAddr, status: 400, code: 3, namespace: "pkg/applicationserver", name: "field_value")
        #expect(devAddr.string("details.0.attributes.field") == "session.dev_addr")
        let appSKey = v3.call("PUT", "/api/v3/as/applications/app1/devices/dev1",
                              #"{"end_device":{"ids":{"device_id":"dev1"},"session":{"dev_addr":"260B1234"}},"field_mask":{"paths":["session.dev_addr","session.keys.app_s_key.key"]}}"#)
        expectV3Error(appSKey, status: 400, code: 3, namespace: "pkg/applicationserver", name: "field_value")
        #expect(appSKey.string("details.0.attributes.field") == "session.keys.app_s_key.key")
    }

    // MARK: API keys (§4, §11)

    @Test func apiKeySecretIsReturnedOnceInNNSXSFormat() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let created = v3.call("POST", "/api/v3/applications/app1/api-keys", #"{"name":"migrated","rights":["RIGHT_APPLICATION_ALL"]}"#)
        #expect(created.status == 200, "\(created.text)")
        let secret = try #require(created.string("key"))
        let parts = secret.split(separator: ".", omittingEmptySubsequences: false)
        #expect(secret.count == 98)
        #expect(parts.count == 3 && parts[0] == "NNSXS" && parts[1].count == 39 && parts[2].count == 52)
        let id = try #require(created.string("id"))
        #expect(String(parts[1]) == id)
        #expect(created.strings("rights") == ["RIGHT_APPLICATION_ALL"])

        let read = v3.call("GET", "/api/v3/applications/app1/api-keys/\(id)")
        #expect(read.status == 200)
        #expect(read.value("key") == nil)
        let list = v3.call("GET", "/api/v3/applications/app1/api-keys")
        #expect(list.value("api_keys.0.key") == nil)
        #expect(list.string("api_keys.0.name") == "migrated")
        #expect(!list.text.contains(String(parts[2])))

        // The new key works, on its own application only.
        #expect(v3.call("GET", "/api/v3/applications/app1", auth: "Bearer \(secret)").status == 200)
        expectV3Error(v3.call("POST", "/api/v3/users/user1/applications", #"{"application":{"ids":{"application_id":"app2"}}}"#, auth: "Bearer \(secret)"),
                      status: 403, code: 7, namespace: "pkg/auth/rights", name: "no_user_rights")

        // Updating rights to [] deletes the key.
        #expect(v3.call("PUT", "/api/v3/applications/app1/api-keys/\(id)", #"{"api_key":{"rights":[]},"field_mask":{"paths":["rights"]}}"#).status == 200)
        expectV3Error(v3.call("GET", "/api/v3/applications/app1/api-keys/\(id)"), status: 404, code: 5,
                      namespace: "pkg/identityserver/store", name: "api_key_not_found")
    }

    @Test func apiKeyNeedsRightsAndAShortName() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let noRights = v3.call("POST", "/api/v3/applications/app1/api-keys", #"{"name":"k","rights":[]}"#)
        expectV3Error(noRights, status: 400, code: 3, namespace: "pkg/errors", name: "validation")
        #expect(noRights.string("details.0.attributes.field") == "rights")
        let longName = String(repeating: "k", count: 51)
        expectV3Error(v3.call("POST", "/api/v3/applications/app1/api-keys", #"{"name":"\#(longName)","rights":["RIGHT_APPLICATION_INFO"]}"#),
                      status: 400, code: 3, namespace: "pkg/errors", name: "validation")
        expectV3Error(v3.call("POST", "/api/v3/applications/app1/api-keys", #"{"name":"k","rights":["RIGHT_APPLICATION_INFO"],"expires_at":"2001-01-01T00:00:00Z"}"#),
                      status: 400, code: 3, namespace: "pkg/errors", name: "validation")
    }

    // MARK: Accounts, link, lists

    @Test func accountsAsConfigured() throws {
        let v3 = try V3Harness()
        let user = v3.call("GET", "/api/v3/users/bob")
        #expect(user.status == 200)
        #expect(user.string("ids.user_id") == "bob")
        expectV3Error(v3.call("GET", "/api/v3/users/carol"), status: 404, code: 5, namespace: "pkg/identityserver/store", name: "user_not_found")
        #expect(v3.call("GET", "/api/v3/organizations/acme").string("ids.organization_id") == "acme")
        expectV3Error(v3.call("GET", "/api/v3/organizations/bob"), status: 404, code: 5, namespace: "pkg/identityserver/store", name: "organization_not_found")
        // Creating under the organization works: the key's owner is a member with all rights.
        #expect(v3.call("POST", "/api/v3/organizations/acme/applications", #"{"application":{"ids":{"application_id":"org-app"}}}"#).status == 200)
    }

    @Test func linkTakesOnlyItsOwnPaths() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let set = v3.call("PUT", "/api/v3/as/applications/app1/link",
                          #"{"link":{"default_formatters":{"up_formatter":"FORMATTER_JAVASCRIPT","up_formatter_parameter":"function decodeUplink(i){return {data:{}}}"}},"field_mask":{"paths":["default_formatters.up_formatter","default_formatters.up_formatter_parameter"]}}"#)
        #expect(set.status == 200, "\(set.text)")
        #expect(v3.call("GET", "/api/v3/as/applications/app1/link", query: ["field_mask": "default_formatters"]).string("default_formatters.up_formatter") == "FORMATTER_JAVASCRIPT")
        expectV3Error(v3.call("PUT", "/api/v3/as/applications/app1/link", #"{"link":{},"field_mask":{"paths":["default_formatters.up_formatter","ids"]}}"#),
                      status: 400, code: 3, namespace: "pkg/rpcmiddleware/validator", name: "field_mask_paths")
    }

    @Test func listsCarryTotalCountAndPages() throws {
        let v3 = try V3Harness()
        for id in ["app-c", "app-a", "app-b"] { v3.createApplication(id) }
        let page = v3.call("GET", "/api/v3/users/user1/applications", query: ["limit": "2", "page": "2"])
        #expect(page.response.headers["X-Total-Count"] == "3")
        #expect(page.string("applications.0.ids.application_id") == "app-c")
        #expect((page.value("applications") as? [Any])?.count == 1)
    }

    // MARK: Fault bodies (§9, §10)

    @Test func rateLimitAndUnavailableBodies() throws {
        let v3 = try V3Harness()
        let limited = V3Answer(response: v3.simulator.rateLimitedResponse(limitPerMinute: 60, retryAfterSeconds: 2))
        expectV3Error(limited, status: 429, code: 8, namespace: "pkg/ratelimit", name: "rate_limit_exceeded")
        #expect(limited.value("details.0.attributes.rate") as? Int == 60)
        expectV3Error(V3Answer(response: v3.simulator.unavailableResponse()), status: 503, code: 14,
                      namespace: "pkg/util/store", name: "database_unavailable")
    }
}

extension V3RuleTests {
    @Test func otaaSessionNeedsItsSessionKeyIDPath() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let sessionMask = #""session.dev_addr","session.last_f_cnt_up","session.keys.f_nwk_s_int_key.key""#
        let body = #"{"end_device":{"ids":{"device_id":"dev1","dev_eui":"70B3D57ED0000001","join_eui":"70B3D57ED0000000"},"supports_join":true,"frequency_plan_id":"EU_863_870_TTN","lorawan_version":"MAC_V1_0_2","lorawan_phy_version":"PHY_V1_0_2_REV_B","session":{"dev_addr":"260B1234","last_f_cnt_up":42,"keys":{KEYS"f_nwk_s_int_key":{"key":"0123456789ABCDEF0123456789ABCDEF"}}}},"field_mask":{"paths":["supports_join","frequency_plan_id","lorawan_version","lorawan_phy_version",MASK]}}"#
        let missing = v3.call("PUT", "/api/v3/ns/applications/app1/devices/dev1",
                              body.replacingOccurrences(of: "KEYS", with: "").replacingOccurrences(of: "MASK", with: sessionMask))
        expectV3Error(missing, status: 400, code: 3, namespace: "pkg/networkserver", name: "field_value")
        #expect(missing.string("details.0.attributes.field") == "session.keys.session_key_id")
        let complete = v3.call("PUT", "/api/v3/ns/applications/app1/devices/dev1",
                               body.replacingOccurrences(of: "KEYS", with: #""session_key_id":"AQID","#)
                                   .replacingOccurrences(of: "MASK", with: sessionMask + #","session.keys.session_key_id""#))
        #expect(complete.status == 200, "\(complete.text)")
        #expect(complete.value("session.last_f_cnt_up") as? Int == 42)
        #expect(complete.string("session.keys.session_key_id") == "AQID")
    }
}

/// Lowering the only owner's rights (issue 11): the IS checks the caller holds the removed rights, then
/// answers `application_needs_collaborator` (pkg/identityserver/application_access.go setApplicationCollaborator).
@Suite("v3 simulator: the last owner's rights are lowered (issue 11)")
struct V3LastOwnerRightsTests {
    @Test func aRightAllKeyLoweringTheOnlyOwnerGetsNeedsCollaborator() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let answer = v3.call("PUT", "/api/v3/applications/app1/collaborators",
                             #"{"collaborator":{"ids":{"user_ids":{"user_id":"user1"}},"rights":["RIGHT_APPLICATION_INFO"]}}"#)
        expectV3Error(answer, status: 400, code: 9, namespace: "pkg/identityserver", name: "application_needs_collaborator")
    }
}
