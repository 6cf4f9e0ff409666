import Foundation

/// What differs between the application and gateway registries and access services.
struct V3EntityProfile {
    let kind: V3EntityKind
    let registry: String
    let access: String
    /// Request field holding the message (`application`).
    let field: String
    /// Identifier field inside `ids` (`application_id`).
    let idField: String
    let listKey: String
    let schema: V3MessageSchema
    let info: V3Rights
    let settingsBasic: V3Rights
    let settingsAPIKeys: V3Rights
    let settingsCollaborators: V3Rights
    let delete: V3Rights
    let all: V3Rights
    /// The pseudo-right the last collaborator must keep (`RIGHT_APPLICATION_ALL`).
    let ownerRight: V3Rights
    let createAsUser: V3Rights
    let createAsOrganization: V3Rights
    let listAsUser: V3Rights
    let listAsOrganization: V3Rights

    var idPath: String { "ids." + idField }
    func rpc(_ name: String) -> String { "/ttn.lorawan.v3.\(registry)/\(name)" }
    func accessRPC(_ name: String) -> String { "/ttn.lorawan.v3.\(access)/\(name)" }
    /// The URL parameter naming the entity: `application_ids.application_id` (or `application_id` for some RPCs).
    var idsParameter: String { "\(kind.rawValue)_ids.\(idField)" }
}

extension V3Engine {
    func profile(_ kind: V3EntityKind) -> V3EntityProfile {
        if kind == .gateway {
            return V3EntityProfile(
                kind: .gateway, registry: "GatewayRegistry", access: "GatewayAccess", field: "gateway", idField: "gateway_id",
                listKey: "gateways", schema: schemas.gateway,
                info: need("RIGHT_GATEWAY_INFO"), settingsBasic: need("RIGHT_GATEWAY_SETTINGS_BASIC"),
                settingsAPIKeys: need("RIGHT_GATEWAY_SETTINGS_API_KEYS"),
                settingsCollaborators: need("RIGHT_GATEWAY_SETTINGS_COLLABORATORS"), delete: need("RIGHT_GATEWAY_DELETE"),
                all: rights.allGateway, ownerRight: need("RIGHT_GATEWAY_ALL"),
                createAsUser: need("RIGHT_USER_GATEWAYS_CREATE"), createAsOrganization: need("RIGHT_ORGANIZATION_GATEWAYS_CREATE"),
                listAsUser: need("RIGHT_USER_GATEWAYS_LIST"), listAsOrganization: need("RIGHT_ORGANIZATION_GATEWAYS_LIST")
            )
        }
        return V3EntityProfile(
            kind: .application, registry: "ApplicationRegistry", access: "ApplicationAccess", field: "application",
            idField: "application_id", listKey: "applications", schema: schemas.application,
            info: need("RIGHT_APPLICATION_INFO"), settingsBasic: need("RIGHT_APPLICATION_SETTINGS_BASIC"),
            settingsAPIKeys: need("RIGHT_APPLICATION_SETTINGS_API_KEYS"),
            settingsCollaborators: need("RIGHT_APPLICATION_SETTINGS_COLLABORATORS"), delete: need("RIGHT_APPLICATION_DELETE"),
            all: rights.allApplication, ownerRight: need("RIGHT_APPLICATION_ALL"),
            createAsUser: need("RIGHT_USER_APPLICATIONS_CREATE"), createAsOrganization: need("RIGHT_ORGANIZATION_APPLICATIONS_CREATE"),
            listAsUser: need("RIGHT_USER_APPLICATIONS_LIST"), listAsOrganization: need("RIGHT_ORGANIZATION_APPLICATIONS_LIST")
        )
    }

    private func entities(_ kind: V3EntityKind, _ state: V3State) -> [String: V3RegistryEntity] {
        kind == .application ? state.applications : state.gateways
    }

    private func store(_ kind: V3EntityKind, _ id: String, _ entity: V3RegistryEntity?, _ state: inout V3State) {
        if kind == .application { state.applications[id] = entity } else { state.gateways[id] = entity }
    }

    private func notFoundInStore(_ kind: V3EntityKind, _ id: String) -> V3Failure {
        V3Failure(code: 5, namespace: "pkg/identityserver/store", name: "\(kind.rawValue)_not_found",
                  format: "\(kind.rawValue) with id `{\(kind.rawValue)_id}` not found", attributes: ["\(kind.rawValue)_id": .string(id)])
    }

    /// The collaborator account named by a route's URL parameters (`…user_ids.user_id` or `…organization_ids.organization_id`).
    private func accountParameter(_ call: V3Call, prefix: String) throws(V3Failure) -> V3AccountRef {
        if let user = call.parameters["\(prefix).user_ids.user_id"] {
            try V3Validate.id(.string(user), path: [prefix, "user_ids", "user_id"], minimumLength: 2)
            return V3AccountRef(kind: .user, id: user)
        }
        let organization = call.parameter("\(prefix).organization_ids.organization_id")
        try V3Validate.id(.string(organization), path: [prefix, "organization_ids", "organization_id"])
        return V3AccountRef(kind: .organization, id: organization)
    }

    private func accountOwner(_ account: V3AccountRef) -> V3KeyOwner {
        V3KeyOwner(kind: account.kind == .user ? .user : .organization, id: account.id)
    }

    // MARK: Field validation of applications and gateways (application.proto, gateway.proto; §3, §5)

    private func validateEntity(_ message: V3JSON, _ profile: V3EntityProfile, requireIDs: Bool) throws(V3Failure) {
        let root = profile.field
        if requireIDs {
            guard message[path: "ids"] != nil else { throw V3Failure.validation(path: [root, "ids"], reason: "value is required") }
            try V3Validate.id(message[path: profile.idPath], path: [root, "ids", profile.idField])
        }
        try V3Validate.maxRunes(message[path: "name"], 50, path: [root, "name"])
        try V3Validate.maxRunes(message[path: "description"], 2000, path: [root, "description"])
        try V3Validate.attributes(message[path: "attributes"], path: [root, "attributes"])
        for field in ["network_server_address", "application_server_address", "join_server_address"] {
            try V3Validate.hostAddress(message[path: field], path: [root, field])
        }
        guard profile.kind == .gateway else { return }
        if let address = message[path: "gateway_server_address"]?.stringValue, !V3Validate.isGatewayServerAddress(address) {
            throw V3Failure.validation(path: [root, "gateway_server_address"], reason: "value does not match regex pattern \"\(V3Validate.gatewayServerPattern)\"")
        }
        try V3Validate.maxRunes(message[path: "frequency_plan_id"], 64, path: [root, "frequency_plan_id"])
        if let plans = message[path: "frequency_plan_ids"]?.arrayValue {
            if plans.count > 8 { throw V3Failure.validation(path: [root, "frequency_plan_ids"], reason: "value must contain no more than 8 item(s)") }
            for (index, plan) in plans.enumerated() {
                try V3Validate.maxRunes(plan, 64, path: [root, "frequency_plan_ids[\(index)]"])
            }
        }
        if let antennas = message[path: "antennas"]?.arrayValue {
            if antennas.count > 8 { throw V3Failure.validation(path: [root, "antennas"], reason: "value must contain no more than 8 item(s)") }
            for (index, antenna) in antennas.enumerated() {
                try V3Validate.location(antenna[path: "location"], path: [root, "antennas[\(index)]", "location"])
            }
        }
        try V3Validate.maxRunes(message[path: "update_channel"], 128, path: [root, "update_channel"])
        try V3Validate.versionIDs(message[path: "version_ids"], path: [root, "version_ids"])
    }

    /// Gateways: `frequency_plan_id` and `frequency_plan_ids[0]` agree (§5: the list wins; reads fill the single ID).
    private func syncFrequencyPlans(_ body: inout V3JSON, singleChanged: Bool) {
        let list = body[path: "frequency_plan_ids"]?.arrayValue ?? []
        let single = body[path: "frequency_plan_id"]?.stringValue ?? ""
        if singleChanged || list.isEmpty, !single.isEmpty {
            body.set(path: "frequency_plan_ids", to: .array([.string(single)]))
        } else if singleChanged, single.isEmpty {
            body.set(path: "frequency_plan_ids", to: nil)
        }
        if let first = body[path: "frequency_plan_ids"]?.arrayValue?.first {
            body.set(path: "frequency_plan_id", to: first)
        } else {
            body.set(path: "frequency_plan_id", to: nil)
        }
    }

    private func checkGatewayEUI(_ body: V3JSON, gatewayID: String, _ state: V3State) throws(V3Failure) {
        guard let eui = body[path: "ids.eui"]?.stringValue, !eui.isEmpty else { return }
        for (otherID, other) in state.gateways.sorted(by: { $0.key < $1.key })
        where otherID != gatewayID && !other.isDeleted && other.body[path: "ids.eui"]?.stringValue == eui {
            throw V3Failure.gatewayEUITaken(eui: eui, gatewayID: otherID)
        }
    }

    // MARK: Registry RPCs

    /// `POST /users/{…}/applications|gateways`, `POST /organizations/{…}/…` (application_registry.go, gateway_registry.go).
    func createEntity(_ call: V3Call, _ kind: V3EntityKind, _ state: inout V3State) throws(V3Failure) -> V3Reply {
        let profile = profile(kind)
        let account = try accountParameter(call, prefix: "collaborator")
        let message = try profile.schema.normalize(call.body[profile.field] ?? .object([:]))
        try checkCoverage(message, schema: profile.schema, mask: nil, ownedBy: profile.rpc("Update"), exempt: { $0.hasPrefix("ids.") })
        try validateEntity(message, profile, requireIDs: true)
        let key = try authenticate(call, state)
        let id = message[path: profile.idPath]?.stringValue ?? ""
        if tables.idBlocklist.contains(id) { throw V3Failure.forbiddenID(id) }
        try require(key, accountOwner(account), account.kind == .user ? profile.createAsUser : profile.createAsOrganization, state)
        var body = profile.schema.droppingZeros(message) ?? .object([:])
        for contact in ["administrative_contact", "technical_contact"] {
            if let given = body[path: contact] {
                guard V3AccountRef(json: given) == account else {
                    throw V3Failure(code: 3, namespace: "pkg/identityserver", name: "contact_no_collaborator",
                                    format: "contact must be a collaborator of the entity")
                }
            } else {
                body.set(path: contact, to: account.json)
            }
        }
        if entities(kind, state)[id] != nil { throw V3Failure.idTaken }
        if kind == .gateway {
            try checkGatewayEUI(body, gatewayID: id, state)
            syncFrequencyPlans(&body, singleChanged: false)
        }
        let now = timestamp()
        body.set(path: "created_at", to: now)
        body.set(path: "updated_at", to: now)
        store(kind, id, V3RegistryEntity(body: body, deletedAt: nil, collaborators: [account: need("RIGHT_ALL")],
                                         sequence: state.nextSequence()), &state)
        return V3Reply(body: body)
    }

    func getEntity(_ call: V3Call, _ kind: V3EntityKind, _ state: V3State) throws(V3Failure) -> V3Reply {
        let profile = profile(kind)
        let id = call.parameter(profile.idsParameter)
        let mask = queryFieldMask(call)
        try checkAllowed(mask, rpc: profile.rpc("Get"))
        let key = try authenticate(call, state)
        var needed = profile.info
        if kind == .gateway, mask.contains(where: { $0.hasPrefix("lbs_lns_secret") || $0.hasPrefix("claim_authentication_code") || $0.hasPrefix("target_cups_key") }) {
            needed = needed.union(need("RIGHT_GATEWAY_READ_SECRETS"))
        }
        try require(key, V3KeyOwner(kind: kind, id: id), needed, state)
        guard let entity = entities(kind, state)[id] else { throw notFoundInStore(kind, id) }
        return V3Reply(body: select(entity.body, paths: ["ids", "created_at", "updated_at"] + mask, schema: profile.schema))
    }

    func listEntities(_ call: V3Call, _ kind: V3EntityKind, _ state: V3State) throws(V3Failure) -> V3Reply {
        let profile = profile(kind)
        let mask = queryFieldMask(call)
        try checkAllowed(mask, rpc: profile.rpc("List"))
        let key = try authenticate(call, state)
        let account: V3AccountRef
        var indirect = false
        if let user = call.parameters["collaborator.user_ids.user_id"] {
            account = V3AccountRef(kind: .user, id: user)
            try require(key, accountOwner(account), profile.listAsUser, state)
        } else if let organization = call.parameters["collaborator.organization_ids.organization_id"] {
            account = V3AccountRef(kind: .organization, id: organization)
            try require(key, accountOwner(account), profile.listAsOrganization, state)
        } else if key.owner.kind == .user {
            account = V3AccountRef(kind: .user, id: key.owner.id)
            indirect = true
        } else {
            return V3Reply(body: .object([:]), headers: ["X-Total-Count": "0"])
        }
        let deletedOnly = ["true", "1"].contains(call.query["deleted"] ?? "")
        let matching = entities(kind, state).filter { _, entity in
            guard entity.isDeleted == deletedOnly else { return false }
            if entity.collaborators[account] != nil { return true }
            return indirect && entity.collaborators.keys.contains { $0.kind == .organization && isOrganizationMember(account.id, $0.id, state) }
        }.sorted { $0.key < $1.key }
        let (items, headers) = try page(matching, call)
        let listed: [V3JSON] = items.map { id, entity in
            let visible = callerRights(key, on: V3KeyOwner(kind: kind, id: id), state, includeDeleted: deletedOnly).includesAll(profile.info)
            return select(entity.body, paths: ["ids", "created_at", "updated_at"] + (visible ? mask : []), schema: profile.schema)
        }
        return V3Reply(body: listed.isEmpty ? .object([:]) : .object([profile.listKey: .array(listed)]), headers: headers)
    }

    func updateEntity(_ call: V3Call, _ kind: V3EntityKind, _ state: inout V3State) throws(V3Failure) -> V3Reply {
        let profile = profile(kind)
        let id = call.parameter("\(profile.field).ids.\(profile.idField)")
        var message = try profile.schema.normalize(call.body[profile.field] ?? .object([:]))
        message.set(path: profile.idPath, to: .string(id))
        let mask = try bodyFieldMask(call) ?? []
        try checkAllowed(mask, rpc: profile.rpc("Update"))
        try checkCoverage(message, schema: profile.schema, mask: mask, ownedBy: profile.rpc("Update"), exempt: { $0 == profile.idPath })
        try validateEntity(message, profile, requireIDs: false)
        let key = try authenticate(call, state)
        var needed = profile.settingsBasic
        if kind == .gateway, mask.contains(where: { $0.hasPrefix("lbs_lns_secret") }) {
            needed = needed.union(need("RIGHT_GATEWAY_WRITE_SECRETS"))
        }
        try require(key, V3KeyOwner(kind: kind, id: id), needed, state)
        guard var entity = entities(kind, state)[id] else { throw notFoundInStore(kind, id) }
        // `ids`, `created_at`, `updated_at` are dropped from an Update mask; an empty mask only touches updated_at (§3).
        let effective = mask.filter { !["ids", "created_at", "updated_at"].contains($0) }
        var body = apply(mask: effective, from: message, to: entity.body, schema: profile.schema)
        if kind == .gateway {
            try checkGatewayEUI(body, gatewayID: id, state)
            let single = effective.contains("frequency_plan_id") && !effective.contains("frequency_plan_ids")
            syncFrequencyPlans(&body, singleChanged: single)
        }
        body.set(path: "updated_at", to: timestamp())
        entity.body = body
        store(kind, id, entity, &state)
        return V3Reply(body: select(body, paths: ["ids", "created_at", "updated_at"] + effective, schema: profile.schema))
    }

    func deleteEntity(_ call: V3Call, _ kind: V3EntityKind, _ state: inout V3State) throws(V3Failure) -> V3Reply {
        let profile = profile(kind)
        let id = call.parameter(profile.idField)
        let key = try authenticate(call, state)
        try require(key, V3KeyOwner(kind: kind, id: id), profile.delete, state)
        guard var entity = entities(kind, state)[id] else { throw notFoundInStore(kind, id) }
        if kind == .application {
            let count = state.isDeviceKeysByApplication[id]?.count ?? 0
            if count > 0 { throw V3Failure.applicationHasDevices(count) }
        }
        let now = self.now()
        entity.deletedAt = now
        entity.body.set(path: "deleted_at", to: .string(V3Time.format(now)))
        store(kind, id, entity, &state)
        return V3Reply.empty
    }

    func restoreEntity(_ call: V3Call, _ kind: V3EntityKind, _ state: inout V3State) throws(V3Failure) -> V3Reply {
        let profile = profile(kind)
        let id = call.parameter(profile.idField)
        let key = try authenticate(call, state)
        try require(key, V3KeyOwner(kind: kind, id: id), profile.delete, state, includeDeleted: true)
        guard var entity = entities(kind, state)[id], entity.isDeleted else { throw notFoundInStore(kind, id) }
        if kind == .gateway { try checkGatewayEUI(entity.body, gatewayID: id, state) }
        entity.deletedAt = nil
        entity.body.set(path: "deleted_at", to: nil)
        store(kind, id, entity, &state)
        return V3Reply.empty
    }

    func purgeEntity(_ call: V3Call, _ kind: V3EntityKind, _ state: V3State) throws(V3Failure) -> V3Reply {
        _ = try authenticate(call, state)
        throw V3Failure.adminsPurge(kind)
    }

    func issueDevEUI(_ call: V3Call, _ state: V3State) throws(V3Failure) -> V3Reply {
        let key = try authenticate(call, state)
        try require(key, V3KeyOwner(kind: .application, id: call.parameter("application_id")), need("RIGHT_APPLICATION_DEVICES_WRITE"), state)
        throw V3Failure.devEUIIssuingNotEnabled
    }

    // MARK: Accounts and auth info

    /// `GET /users/{user_ids.user_id}`, `GET /organizations/{organization_ids.organization_id}`: public fields of any
    /// account; `user_not_found`/`organization_not_found` (404) for one that does not exist.
    func getAccount(_ call: V3Call, _ kind: V3AccountRef.Kind, _ state: V3State) throws(V3Failure) -> V3Reply {
        let id = call.parameter(kind == .user ? "user_ids.user_id" : "organization_ids.organization_id")
        let mask = queryFieldMask(call)
        try checkAllowed(mask, rpc: kind == .user ? "/ttn.lorawan.v3.UserRegistry/Get" : "/ttn.lorawan.v3.OrganizationRegistry/Get")
        let key = try authenticate(call, state)
        let owner = V3KeyOwner(kind: kind == .user ? .user : .organization, id: id)
        let publicFields: Set<String> = ["ids", "name", "description", "created_at", "updated_at"]
        if callerRights(key, on: owner, state).isEmpty, !mask.allSatisfy(publicFields.contains) {
            throw V3Failure.noRights(owner.kind, uid: id)
        }
        let account = V3AccountRef(kind: kind, id: id)
        guard state.accountExists(account) else {
            throw kind == .user ? V3Failure.userNotFound(id) : V3Failure.organizationNotFound(id)
        }
        let created = V3JSON.string(V3Time.format(state.accountsCreatedAt))
        return V3Reply(body: .object([
            "ids": kind == .user ? .object(["user_id": .string(id)]) : .object(["organization_id": .string(id)]),
            "created_at": created, "updated_at": created,
        ]))
    }

    /// `GET /auth_info`: the key (without secret), its expanded rights and owner (§11).
    func authInfo(_ call: V3Call, _ state: V3State) throws(V3Failure) -> V3Reply {
        let key = try authenticate(call, state)
        var apiKey: [String: V3JSON] = [
            "id": .string(key.id),
            "rights": rights.jsonNames(rights.implied(key.rights)),
            "created_at": .string(V3Time.format(key.createdAt)),
            "updated_at": .string(V3Time.format(key.updatedAt)),
        ]
        if !key.name.isEmpty { apiKey["name"] = .string(key.name) }
        if let expires = key.expiresAt { apiKey["expires_at"] = .string(V3Time.format(expires)) }
        return V3Reply(body: .object(["api_key": .object(["api_key": .object(apiKey), "entity_ids": key.owner.idsJSON])]))
    }

    // MARK: Access: rights, API keys, collaborators (application_access.go, gateway_access.go; §4)

    func listRights(_ call: V3Call, _ kind: V3EntityKind, _ state: V3State) throws(V3Failure) -> V3Reply {
        let profile = profile(kind)
        let key = try authenticate(call, state)
        let have = callerRights(key, on: V3KeyOwner(kind: kind, id: call.parameter(profile.idField)), state).intersection(profile.all)
        return V3Reply(body: have.isEmpty ? .object([:]) : .object(["rights": rights.jsonNames(have)]))
    }

    /// A rights list as the decoder reads it (names, names without `RIGHT_`, numbers); unknown → decoding error.
    private func decodeRights(_ value: V3JSON?, field: String) throws(V3Failure) -> [Int] {
        guard let value, value != .null else { return [] }
        guard case .array(let items) = value else { throw V3Failure.malformedBody("invalid value for field `\(field)`: expected a list of rights") }
        var numbers: [Int] = []
        for item in items {
            guard let number = rights.number(of: item) else {
                throw V3Failure.malformedBody("invalid value for field `\(field)`: unknown right \(String(decoding: item.serialized(), as: UTF8.self))")
            }
            numbers.append(number)
        }
        return numbers
    }

    private func optionalString(_ value: V3JSON?, field: String) throws(V3Failure) -> String? {
        guard let value, value != .null else { return nil }
        guard case .string(let text) = value else { throw V3Failure.malformedBody("invalid value for field `\(field)`: expected a string") }
        return text
    }

    private func optionalTime(_ value: V3JSON?, field: String) throws(V3Failure) -> Date? {
        guard let text = try optionalString(value, field: field), !text.isEmpty else { return nil }
        guard let date = V3Time.parse(text) else { throw V3Failure.malformedBody("invalid value for field `\(field)`: expected an RFC 3339 time") }
        return date
    }

    private func keyJSON(_ key: V3APIKeyRecord, withSecret: Bool) -> V3JSON {
        var fields: [String: V3JSON] = [
            "id": .string(key.id),
            "created_at": .string(V3Time.format(key.createdAt)),
            "updated_at": .string(V3Time.format(key.updatedAt)),
        ]
        if !key.rights.isEmpty { fields["rights"] = rights.jsonNames(key.rights) }
        if !key.name.isEmpty { fields["name"] = .string(key.name) }
        if let expires = key.expiresAt { fields["expires_at"] = .string(V3Time.format(expires)) }
        if withSecret { fields["key"] = .string(key.token) }
        return .object(fields)
    }

    func createAPIKey(_ call: V3Call, _ kind: V3EntityKind, _ state: inout V3State) throws(V3Failure) -> V3Reply {
        let profile = profile(kind)
        let owner = V3KeyOwner(kind: kind, id: call.parameter(profile.idsParameter))
        let name = try optionalString(call.body["name"], field: "name") ?? ""
        let requested = try decodeRights(call.body["rights"], field: "rights")
        let expires = try optionalTime(call.body["expires_at"] ?? call.body["expiresAt"], field: "expires_at")
        try V3Validate.maxRunes(.string(name), 50, path: ["name"])
        if requested.isEmpty { throw V3Failure.validation(path: ["rights"], reason: "value must contain at least 1 item(s)") }
        if Set(requested).count != requested.count { throw V3Failure.validation(path: ["rights"], reason: "repeated value must contain unique items") }
        if let expires, expires <= now() { throw V3Failure.validation(path: ["expires_at"], reason: "value must be greater than now") }
        let key = try authenticate(call, state)
        try require(key, owner, profile.settingsAPIKeys, state)
        let granted = V3Rights(numbers: requested)
        try require(key, owner, granted, state)
        let token = V3Token.generate()
        let now = self.now()
        let record = V3APIKeyRecord(id: token.id, secret: token.secret, owner: owner, name: name, rights: granted,
                                    createdAt: now, updatedAt: now, expiresAt: expires, sequence: state.nextSequence())
        state.putAPIKey(record)
        return V3Reply(body: keyJSON(record, withSecret: true))
    }

    func listAPIKeys(_ call: V3Call, _ kind: V3EntityKind, _ state: V3State) throws(V3Failure) -> V3Reply {
        let profile = profile(kind)
        let owner = V3KeyOwner(kind: kind, id: call.parameter(profile.idsParameter))
        let key = try authenticate(call, state)
        try require(key, owner, profile.settingsAPIKeys, state)
        let keys = state.apiKeys(of: owner)
        let (items, headers) = try page(keys, call)
        return V3Reply(body: items.isEmpty ? .object([:]) : .object(["api_keys": .array(items.map { keyJSON($0, withSecret: false) })]),
                       headers: headers)
    }

    private func ownedKey(_ keyID: String, _ owner: V3KeyOwner, _ state: V3State) throws(V3Failure) -> V3APIKeyRecord {
        guard let record = state.apiKeys[keyID], record.owner == owner else {
            throw V3Failure.apiKeyNotFoundInStore(keyID, entity: owner.kind, entityID: owner.id)
        }
        return record
    }

    func getAPIKey(_ call: V3Call, _ kind: V3EntityKind, _ state: V3State) throws(V3Failure) -> V3Reply {
        let profile = profile(kind)
        let owner = V3KeyOwner(kind: kind, id: call.parameter(profile.idsParameter))
        let key = try authenticate(call, state)
        try require(key, owner, profile.settingsAPIKeys, state)
        return V3Reply(body: keyJSON(try ownedKey(call.parameter("key_id"), owner, state), withSecret: false))
    }

    func updateAPIKey(_ call: V3Call, _ kind: V3EntityKind, _ state: inout V3State) throws(V3Failure) -> V3Reply {
        let profile = profile(kind)
        let owner = V3KeyOwner(kind: kind, id: call.parameter(profile.idsParameter))
        let keyID = call.parameter("api_key.id")
        let message = call.body["api_key"] ?? call.body["apiKey"] ?? .object([:])
        guard message.objectValue != nil || message == .null else { throw V3Failure.malformedBody("invalid value for field `api_key`: expected a JSON object") }
        let mask = try bodyFieldMask(call) ?? []
        try checkAllowed(mask, rpc: profile.accessRPC("UpdateAPIKey"))
        let name = try optionalString(message[path: "name"], field: "api_key.name") ?? ""
        let requested = try decodeRights(message[path: "rights"], field: "api_key.rights")
        let expires = try optionalTime(message[path: "expires_at"], field: "api_key.expires_at")
        try V3Validate.maxRunes(.string(name), 50, path: ["api_key", "name"])
        if Set(requested).count != requested.count { throw V3Failure.validation(path: ["api_key", "rights"], reason: "repeated value must contain unique items") }
        let key = try authenticate(call, state)
        try require(key, owner, profile.settingsAPIKeys, state)
        // An empty mask means ["rights", "name"] for older clients (application_access.go).
        let effective = mask.isEmpty ? ["rights", "name"] : mask
        var record = try ownedKey(keyID, owner, state)
        let newRights = V3Rights(numbers: requested)
        if !requested.isEmpty {
            let added = newRights.subtracting(record.rights)
            if !added.isEmpty { try require(key, owner, added, state) }
            let removed = record.rights.subtracting(newRights)
            if !removed.isEmpty { try require(key, owner, removed, state) }
        }
        if effective.contains("rights"), requested.isEmpty {
            state.removeAPIKey(keyID)
            return V3Reply.empty
        }
        if effective.contains("name") { record.name = name }
        if effective.contains("rights") { record.rights = newRights }
        if effective.contains("expires_at") { record.expiresAt = expires }
        record.updatedAt = now()
        state.putAPIKey(record)
        return V3Reply(body: keyJSON(record, withSecret: false))
    }

    func deleteAPIKey(_ call: V3Call, _ kind: V3EntityKind, _ state: inout V3State) throws(V3Failure) -> V3Reply {
        let profile = profile(kind)
        let owner = V3KeyOwner(kind: kind, id: call.parameter(profile.idsParameter))
        let key = try authenticate(call, state)
        try require(key, owner, profile.settingsAPIKeys, state)
        let record = try ownedKey(call.parameter("key_id"), owner, state)
        state.removeAPIKey(record.id)
        return V3Reply.empty
    }

    private func collaboratorJSON(_ account: V3AccountRef, _ granted: V3Rights, withRights: Bool) -> V3JSON {
        var fields: [String: V3JSON] = ["ids": account.json]
        if withRights, !granted.isEmpty { fields["rights"] = rights.jsonNames(granted) }
        return .object(fields)
    }

    func getCollaborator(_ call: V3Call, _ kind: V3EntityKind, _ state: V3State) throws(V3Failure) -> V3Reply {
        let profile = profile(kind)
        let id = call.parameter(profile.idsParameter)
        let account = try accountParameter(call, prefix: "collaborator")
        let key = try authenticate(call, state)
        try require(key, V3KeyOwner(kind: kind, id: id), profile.settingsCollaborators, state)
        guard let granted = entities(kind, state)[id]?.collaborators[account] else {
            throw V3Failure.membershipNotFound(account, entity: kind, entityID: id)
        }
        return V3Reply(body: collaboratorJSON(account, granted, withRights: true))
    }

    /// Throws `<entity>_needs_collaborator` when `account` losing `removed` would leave no collaborator holding
    /// the entity's ALL right.
    private func checkLastOwner(_ entity: V3RegistryEntity, losing account: V3AccountRef, removed: V3Rights, _ profile: V3EntityProfile) throws(V3Failure) {
        guard removed.includesAll(profile.ownerRight) else { return }
        let otherOwner = entity.collaborators.contains { other, granted in
            other != account && rights.implied(granted).includesAll(profile.ownerRight)
        }
        if !otherOwner { throw V3Failure.needsCollaborator(profile.kind) }
    }

    /// `PUT …/collaborators`: an upsert; `rights: []` deletes; the caller must hold every right added (and removed,
    /// unless deleting); the last owner cannot lose the ALL right; the account must exist.
    func setCollaborator(_ call: V3Call, _ kind: V3EntityKind, _ state: inout V3State) throws(V3Failure) -> V3Reply {
        let profile = profile(kind)
        let id = call.parameter(profile.idsParameter)
        let collaborator = call.body["collaborator"] ?? .object([:])
        guard let idsValue = collaborator[path: "ids"], idsValue != .null else {
            throw V3Failure.validation(path: ["collaborator", "ids"], reason: "value is required")
        }
        guard let account = V3AccountRef(json: idsValue) else {
            throw V3Failure.validation(path: ["collaborator", "ids"], reason: "value is required")
        }
        if account.kind == .user {
            try V3Validate.id(.string(account.id), path: ["collaborator", "ids", "user_ids", "user_id"], minimumLength: 2)
        } else {
            try V3Validate.id(.string(account.id), path: ["collaborator", "ids", "organization_ids", "organization_id"])
        }
        let requested = try decodeRights(collaborator[path: "rights"], field: "collaborator.rights")
        let key = try authenticate(call, state)
        let target = V3KeyOwner(kind: kind, id: id)
        try require(key, target, profile.settingsCollaborators, state)
        guard var entity = entities(kind, state)[id] else { throw notFoundInStore(kind, id) }
        let existing = rights.implied(entity.collaborators[account] ?? .none)
        let newRights = rights.implied(V3Rights(numbers: requested))
        let added = newRights.subtracting(existing)
        let removed = existing.subtracting(newRights)
        if !added.isEmpty { try require(key, target, added, state) }
        if !newRights.isEmpty, !removed.isEmpty { try require(key, target, removed, state, scoped: false) }
        try checkLastOwner(entity, losing: account, removed: removed, profile)
        guard state.accountExists(account) else { throw V3Failure.accountNotFound(account) }
        entity.collaborators[account] = requested.isEmpty ? nil : V3Rights(numbers: requested)
        store(kind, id, entity, &state)
        return V3Reply.empty
    }

    func listCollaborators(_ call: V3Call, _ kind: V3EntityKind, _ state: V3State) throws(V3Failure) -> V3Reply {
        let profile = profile(kind)
        let id = call.parameter(profile.idsParameter)
        let key = try authenticate(call, state)
        let have = callerRights(key, on: V3KeyOwner(kind: kind, id: id), state)
        let entity = entities(kind, state)[id].flatMap { $0.isDeleted ? nil : $0 }
        let members = (entity?.collaborators ?? [:]).sorted { $0.key < $1.key }
        let (items, headers) = try page(members, call)
        let withRights = have.includesAll(profile.settingsCollaborators)
        let listed = items.map { collaboratorJSON($0.key, $0.value, withRights: withRights) }
        return V3Reply(body: listed.isEmpty ? .object([:]) : .object(["collaborators": .array(listed)]), headers: headers)
    }

    func deleteCollaborator(_ call: V3Call, _ kind: V3EntityKind, _ state: inout V3State) throws(V3Failure) -> V3Reply {
        let profile = profile(kind)
        let id = call.parameter(profile.idsParameter)
        let account = try accountParameter(call, prefix: "collaborator_ids")
        let key = try authenticate(call, state)
        try require(key, V3KeyOwner(kind: kind, id: id), profile.settingsCollaborators, state)
        guard var entity = entities(kind, state)[id], let granted = entity.collaborators[account] else {
            throw V3Failure.membershipNotFound(account, entity: kind, entityID: id)
        }
        try checkLastOwner(entity, losing: account, removed: rights.implied(granted), profile)
        entity.collaborators[account] = nil
        store(kind, id, entity, &state)
        return V3Reply.empty
    }
}
