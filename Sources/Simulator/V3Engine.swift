import Foundation

/// The rules of the simulated stack: immutable tables and derived data, and the handlers (in extensions) that
/// apply one request to the state. Runs under the state lock.
struct V3Engine: Sendable {
    let tables: V3Tables
    let schemas: V3Schemas
    let rights: V3RightsCatalogue
    let now: @Sendable () -> Date
    /// Per RPC: the allowed paths with every ancestor (a body field is ownable when it or a sub-path is allowed).
    let allowedWithAncestors: [String: Set<String>]
    /// Rights by name, resolved once (the handlers use these names).
    private let rightByName: [String: V3Rights]

    static let usedRights = [
        "RIGHT_USER_INFO", "RIGHT_USER_APPLICATIONS_LIST", "RIGHT_USER_APPLICATIONS_CREATE", "RIGHT_USER_GATEWAYS_LIST",
        "RIGHT_USER_GATEWAYS_CREATE", "RIGHT_ORGANIZATION_INFO", "RIGHT_ORGANIZATION_APPLICATIONS_LIST",
        "RIGHT_ORGANIZATION_APPLICATIONS_CREATE", "RIGHT_ORGANIZATION_GATEWAYS_LIST", "RIGHT_ORGANIZATION_GATEWAYS_CREATE",
        "RIGHT_APPLICATION_INFO", "RIGHT_APPLICATION_SETTINGS_BASIC", "RIGHT_APPLICATION_SETTINGS_API_KEYS",
        "RIGHT_APPLICATION_SETTINGS_COLLABORATORS", "RIGHT_APPLICATION_DELETE", "RIGHT_APPLICATION_DEVICES_READ",
        "RIGHT_APPLICATION_DEVICES_WRITE", "RIGHT_APPLICATION_DEVICES_READ_KEYS", "RIGHT_APPLICATION_DEVICES_WRITE_KEYS",
        "RIGHT_APPLICATION_ALL", "RIGHT_APPLICATION_LINK", "RIGHT_GATEWAY_INFO", "RIGHT_GATEWAY_SETTINGS_BASIC", "RIGHT_GATEWAY_SETTINGS_API_KEYS",
        "RIGHT_GATEWAY_SETTINGS_COLLABORATORS", "RIGHT_GATEWAY_DELETE", "RIGHT_GATEWAY_READ_SECRETS",
        "RIGHT_GATEWAY_WRITE_SECRETS", "RIGHT_GATEWAY_ALL", "RIGHT_ALL",
    ]

    init(tables: V3Tables, now: @escaping @Sendable () -> Date) throws {
        self.tables = tables
        self.schemas = V3Schemas(tables: tables)
        self.rights = try V3RightsCatalogue(tables: tables)
        self.now = now
        var byName: [String: V3Rights] = [:]
        for name in V3Engine.usedRights {
            guard let number = tables.rightNumbers[name] else {
                throw V3TablesError(table: "v3-rights.json", problem: "right \(name), which the simulator checks, is missing")
            }
            byName[name] = V3Rights(numbers: [number])
        }
        rightByName = byName
        var ancestors: [String: Set<String>] = [:]
        for (rpc, paths) in tables.allowedFieldMaskPaths {
            var all = paths
            for path in paths {
                var prefix = Substring(path)
                while let dot = prefix.lastIndex(of: ".") {
                    prefix = prefix[..<dot]
                    all.insert(String(prefix))
                }
            }
            ancestors[rpc] = all
        }
        allowedWithAncestors = ancestors
    }

    /// The rights with these names (all in `usedRights`).
    func need(_ names: String...) -> V3Rights {
        names.reduce(V3Rights.none) { $0.union(rightByName[$1] ?? .none) }
    }

    // MARK: Dispatch

    func dispatch(_ call: V3Call, state: inout V3State) throws(V3Failure) -> V3Reply {
        switch (call.route.service, call.route.rpc) {
        case ("EntityAccess", "AuthInfo"): return try authInfo(call, state)
        case ("UserRegistry", "Get"): return try getAccount(call, .user, state)
        case ("OrganizationRegistry", "Get"): return try getAccount(call, .organization, state)

        case ("ApplicationRegistry", "Create"): return try createEntity(call, .application, &state)
        case ("ApplicationRegistry", "Get"): return try getEntity(call, .application, state)
        case ("ApplicationRegistry", "List"): return try listEntities(call, .application, state)
        case ("ApplicationRegistry", "Update"): return try updateEntity(call, .application, &state)
        case ("ApplicationRegistry", "Delete"): return try deleteEntity(call, .application, &state)
        case ("ApplicationRegistry", "Restore"): return try restoreEntity(call, .application, &state)
        case ("ApplicationRegistry", "Purge"): return try purgeEntity(call, .application, state)
        case ("ApplicationRegistry", "IssueDevEUI"): return try issueDevEUI(call, state)
        case ("GatewayRegistry", "Create"): return try createEntity(call, .gateway, &state)
        case ("GatewayRegistry", "Get"): return try getEntity(call, .gateway, state)
        case ("GatewayRegistry", "List") where call.route.method == "GET": return try listEntities(call, .gateway, state)
        case ("GatewayRegistry", "Update"): return try updateEntity(call, .gateway, &state)
        case ("GatewayRegistry", "Delete"): return try deleteEntity(call, .gateway, &state)
        case ("GatewayRegistry", "Restore"): return try restoreEntity(call, .gateway, &state)
        case ("GatewayRegistry", "Purge"): return try purgeEntity(call, .gateway, state)

        case ("ApplicationAccess", "ListRights"): return try listRights(call, .application, state)
        case ("ApplicationAccess", "CreateAPIKey"): return try createAPIKey(call, .application, &state)
        case ("ApplicationAccess", "ListAPIKeys"): return try listAPIKeys(call, .application, state)
        case ("ApplicationAccess", "GetAPIKey"): return try getAPIKey(call, .application, state)
        case ("ApplicationAccess", "UpdateAPIKey"): return try updateAPIKey(call, .application, &state)
        case ("ApplicationAccess", "DeleteAPIKey"): return try deleteAPIKey(call, .application, &state)
        case ("ApplicationAccess", "GetCollaborator"): return try getCollaborator(call, .application, state)
        case ("ApplicationAccess", "SetCollaborator"): return try setCollaborator(call, .application, &state)
        case ("ApplicationAccess", "ListCollaborators"): return try listCollaborators(call, .application, state)
        case ("ApplicationAccess", "DeleteCollaborator"): return try deleteCollaborator(call, .application, &state)
        case ("GatewayAccess", "ListRights"): return try listRights(call, .gateway, state)
        case ("GatewayAccess", "CreateAPIKey"): return try createAPIKey(call, .gateway, &state)
        case ("GatewayAccess", "ListAPIKeys"): return try listAPIKeys(call, .gateway, state)
        case ("GatewayAccess", "GetAPIKey"): return try getAPIKey(call, .gateway, state)
        case ("GatewayAccess", "UpdateAPIKey"): return try updateAPIKey(call, .gateway, &state)
        case ("GatewayAccess", "DeleteAPIKey"): return try deleteAPIKey(call, .gateway, &state)
        case ("GatewayAccess", "GetCollaborator"): return try getCollaborator(call, .gateway, state)
        case ("GatewayAccess", "SetCollaborator"): return try setCollaborator(call, .gateway, &state)
        case ("GatewayAccess", "ListCollaborators"): return try listCollaborators(call, .gateway, state)
        case ("GatewayAccess", "DeleteCollaborator"): return try deleteCollaborator(call, .gateway, &state)

        case ("EndDeviceRegistry", "Create"): return try createDevice(call, &state)
        case ("EndDeviceRegistry", "Get"): return try getDevice(call, state)
        case ("EndDeviceRegistry", "List") where call.route.method == "GET": return try listDevices(call, state)
        case ("EndDeviceRegistry", "Update"): return try updateDevice(call, &state)
        case ("EndDeviceRegistry", "Delete"): return try deleteDevice(call, &state)

        case ("JsEndDeviceRegistry", "Get"): return try getClusterDevice(call, .joinServer, state)
        case ("JsEndDeviceRegistry", "Set"): return try setJoinServerDevice(call, &state)
        case ("JsEndDeviceRegistry", "Delete"): return try deleteClusterDevice(call, .joinServer, &state)
        case ("NsEndDeviceRegistry", "Get"): return try getClusterDevice(call, .networkServer, state)
        case ("NsEndDeviceRegistry", "Set"): return try setNetworkServerDevice(call, &state)
        case ("NsEndDeviceRegistry", "Delete"): return try deleteClusterDevice(call, .networkServer, &state)
        case ("AsEndDeviceRegistry", "Get"): return try getClusterDevice(call, .applicationServer, state)
        case ("AsEndDeviceRegistry", "Set"): return try setApplicationServerDevice(call, &state)
        case ("AsEndDeviceRegistry", "Delete"): return try deleteClusterDevice(call, .applicationServer, &state)
        case ("As", "GetLink"): return try getLink(call, state)
        case ("As", "SetLink"): return try setLink(call, &state)
        case ("As", "DeleteLink"): return try deleteLink(call, &state)
        default:
            throw V3Failure.notImplemented(call.route.fullMethod)
        }
    }

    // MARK: Authentication (pkg/identityserver/entity_access.go, pkg/auth/auth.go; reference/v3-api.md §11)

    /// The caller's API key, from `Authorization: Bearer <token>` (scheme case-insensitive).
    func authenticate(_ call: V3Call, _ state: V3State) throws(V3Failure) -> V3APIKeyRecord {
        guard let header = call.headers["authorization"], !header.isEmpty else { throw V3Failure.unauthenticated }
        guard let space = header.firstIndex(of: " ") else { throw V3Failure.unsupportedAuthorization }
        guard header[..<space].lowercased() == "bearer" else { throw V3Failure.unsupportedAuthorization }
        let token = header[header.index(after: space)...].drop(while: { $0 == " " })
        // Dots are ASCII: split on the bytes, not on Characters.
        let parts = token.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).map { Substring($0) }
        // A known key is checked first (its format is valid by construction); only a miss needs the format check
        // that decides between `token` (400) and `api_key_not_found` (401).
        if parts.count == 3, parts[0] == V3Token.apiKeyType, let key = state.apiKeys[String(parts[1])] {
            guard key.secret == parts[2] else { throw V3Failure.invalidAuthorization }
            if let expires = key.expiresAt, expires <= now() { throw V3Failure.apiKeyExpired }
            return key
        }
        guard parts.count == 3, V3Token.isBase32(parts[1]), V3Token.isBase32(parts[2]) else { throw V3Failure.invalidToken }
        switch parts[0] {
        case Substring(V3Token.apiKeyType):
            throw V3Failure.apiKeyNotFound
        case Substring(V3Token.accessTokenType), Substring(V3Token.sessionType):
            throw V3Failure(code: 16, namespace: "pkg/identityserver", name: "token_not_found", format: "access token not found")
        default:
            throw V3Failure.invalidToken
        }
    }

    /// The caller's rights on an entity (pkg/identityserver/rights.go `getRights`): direct and organization
    /// memberships, expanded one level, intersected with the key's rights and the entity type's rights. Empty for
    /// an entity that does not exist (or is deleted, unless `includeDeleted`).
    /// `scoped: false` keeps the rights that are not of the target's kind (a user key's RIGHT_USER_* on an
    /// application): pkg/identityserver/rights.go getRights intersects the memberships with the key's rights
    /// only, which is what setApplicationCollaborator's "caller has the removed rights" check sees.
    func callerRights(_ key: V3APIKeyRecord, on target: V3KeyOwner, _ state: V3State, includeDeleted: Bool = false, scoped: Bool = true) -> V3Rights {
        let keyRights = rights.implied(key.rights)
        switch key.owner.kind {
        case .user:
            let user = key.owner.id
            switch target.kind {
            case .user:
                return target.id == user ? keyRights.intersection(rights.allUser) : .none
            case .organization:
                return isOrganizationMember(user, target.id, state) ? keyRights.intersection(rights.allOrganization) : .none
            case .application, .gateway:
                guard let entity = target.kind == .application ? state.applications[target.id] : state.gateways[target.id],
                      includeDeleted || !entity.isDeleted else { return .none }
                var membership = V3Rights.none
                for (account, granted) in entity.collaborators {
                    switch account.kind {
                    case .user where account.id == user:
                        membership = membership.union(rights.implied(granted))
                    case .organization where isOrganizationMember(user, account.id, state):
                        membership = membership.union(rights.implied(granted))
                    default:
                        break
                    }
                }
                let all = target.kind == .application ? rights.allApplication : rights.allGateway
                return scoped ? membership.intersection(keyRights).intersection(all) : membership.intersection(keyRights)
            }
        case .application, .gateway:
            guard target == key.owner else { return .none }
            let entity = target.kind == .application ? state.applications[target.id] : state.gateways[target.id]
            guard let entity, includeDeleted || !entity.isDeleted else { return .none }
            return keyRights.intersection(target.kind == .application ? rights.allApplication : rights.allGateway)
        case .organization:
            return .none
        }
    }

    /// The first configured user (the configured key's owner) is a member of every configured organization with
    /// all rights.
    func isOrganizationMember(_ user: String, _ organization: String, _ state: V3State) -> Bool {
        state.users.first == user && state.organizations.contains(organization)
    }

    /// `rights.Require<Entity>` (pkg/auth/rights/require.go): no rights at all → `no_<entity>_rights`;
    /// some missing → `insufficient_<entity>_rights` with attribute `missing`.
    func require(_ key: V3APIKeyRecord, _ target: V3KeyOwner, _ needed: V3Rights, _ state: V3State, includeDeleted: Bool = false,
                 scoped: Bool = true) throws(V3Failure) {
        let have = callerRights(key, on: target, state, includeDeleted: includeDeleted, scoped: scoped)
        if have.isEmpty { throw V3Failure.noRights(target.kind, uid: target.id) }
        let missing = needed.subtracting(have)
        if !missing.isEmpty { throw V3Failure.insufficientRights(target.kind, uid: target.id, missing: rights.names(missing)) }
    }

    // MARK: Field masks (pkg/rpcmiddleware/validator/validator.go; reference/v3-api.md §1, §2)

    /// A body field mask: `{"paths":[…]}` or `"a,b"`; nil when absent.
    func bodyFieldMask(_ call: V3Call) throws(V3Failure) -> [String]? {
        guard let value = call.body["field_mask"] ?? call.body["fieldMask"] else { return nil }
        switch value {
        case .null:
            return nil
        case .string(let text):
            return V3Engine.splitPaths(text)
        case .object(let fields):
            if let other = fields.keys.first(where: { $0 != "paths" }) {
                throw V3Failure.malformedBody("invalid field mask: unexpected key \"\(other)\" (only \"paths\" is allowed)")
            }
            guard let paths = fields["paths"] else { return [] }
            if paths == .null { return [] }
            guard case .array(let items) = paths else { throw V3Failure.malformedBody("invalid field mask: \"paths\" must be a list of strings") }
            var result: [String] = []
            for item in items {
                guard case .string(let path) = item else { throw V3Failure.malformedBody("invalid field mask: \"paths\" must be a list of strings") }
                result.append(path)
            }
            return result
        default:
            throw V3Failure.malformedBody("invalid field mask: expected an object with \"paths\" or a comma-separated string")
        }
    }

    /// A query field mask (`?field_mask=a,b`).
    func queryFieldMask(_ call: V3Call) -> [String] {
        V3Engine.splitPaths(call.query["field_mask"] ?? call.query["field_mask.paths"] ?? "")
    }

    static func splitPaths(_ text: String) -> [String] {
        // ASCII (every real mask): split and trim on the bytes. Otherwise Foundation's idea of whitespace.
        guard text.utf8.allSatisfy({ $0 < 0x80 }) else {
            return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        return text.utf8.split(separator: UInt8(ascii: ",")).compactMap { part in
            guard let first = part.firstIndex(where: { !isBlank($0) }), let last = part.lastIndex(where: { !isBlank($0) }) else { return nil }
            return String(Substring(part[first...last]))
        }
    }

    /// Every requested path must be in the RPC's allowed set (exact match) → else `field_mask_paths`.
    func checkAllowed(_ paths: [String], rpc: String) throws(V3Failure) {
        let allowed = tables.allowedFieldMaskPaths[rpc] ?? []
        var forbidden: [String] = []
        for path in paths where !allowed.contains(path) && !forbidden.contains(path) { forbidden.append(path) }
        if !forbidden.isEmpty { throw V3Failure.forbiddenPaths(forbidden) }
    }

    /// For Set RPCs: sub-paths of requested paths that must be zero (`non_zero_path`, §2.3).
    func checkZeroRules(_ paths: [String], rpc: String, message: V3JSON, schema: V3MessageSchema) throws(V3Failure) {
        guard let rules = tables.zeroSubPaths[rpc] else { return }
        for path in paths {
            for subPath in rules[path] ?? [] {
                if let value = message[path: schema.storagePath(subPath)], !value.isZero {
                    throw V3Failure.nonZeroPath(subPath)
                }
            }
        }
    }

    /// The simulator's strictness: every non-zero body field must be covered by the mask (or, for a Create,
    /// be a field the RPC stores). A field the RPC cannot set at all → `field_mask_paths`; one it could set
    /// but the mask leaves out → `non_zero_path`. Identifier fields are exempt.
    /// `mask: nil` is a Create: no mask, so only ownership is checked (against `ownedBy`, the Update RPC).
    func checkCoverage(_ message: V3JSON, schema: V3MessageSchema, mask: [String]?, ownedBy rpc: String, exempt: (String) -> Bool) throws(V3Failure) {
        let ownable = allowedWithAncestors[rpc] ?? []
        let allowed = tables.allowedFieldMaskPaths[rpc] ?? []
        let maskPaths = mask?.map(schema.storagePath)
        var notOwned: [String] = []
        var unmasked: [String] = []
        for leaf in schema.nonZeroLeaves(message) where !exempt(leaf) {
            if let maskPaths, maskPaths.contains(where: { V3Engine.overlaps(leaf, $0) }) { continue }
            if maskPaths == nil, V3Engine.isCovered(leaf, by: allowed, schema: schema) { continue }
            if ownable.contains(leaf) || isOwnable(leaf, under: allowed, rpc: rpc) {
                unmasked.append(leaf)
            } else {
                notOwned.append(leaf)
            }
        }
        if !notOwned.isEmpty { throw V3Failure.forbiddenPaths(notOwned) }
        if let first = unmasked.first { throw V3Failure.nonZeroPath(first) }
    }

    /// Whether an allowed ancestor (or the path itself) lets the RPC set `leaf`: not when that ancestor's zero
    /// rule (§2.3) says the leaf, or a path between them, must be zero (AppSKey under the NS's `session.keys`).
    private func isOwnable(_ leaf: String, under allowed: Set<String>, rpc: String) -> Bool {
        let zero = tables.zeroSubPaths[rpc] ?? [:]
        var lineage: [String] = []
        var candidate = Substring(leaf)
        while true {
            let path = String(candidate)
            if allowed.contains(path) || allowed.contains(path + ".value") {
                let mustBeZero = Set(zero[path] ?? [])
                return !lineage.contains(where: mustBeZero.contains)
            }
            lineage.append(path)
            guard let parent = V3JSON.parentPath(candidate) else { return false }
            candidate = parent
        }
    }

    /// Whether `leaf` equals `path`, lies under it, or contains it.
    static func overlaps(_ leaf: String, _ path: String) -> Bool {
        V3JSON.isPath(leaf, within: path) || V3JSON.isPath(path, within: leaf)
    }

    /// Whether `leaf` or one of its ancestors is in `set` (after mapping wrapper `.value` paths).
    static func isCovered(_ leaf: String, by set: Set<String>, schema: V3MessageSchema) -> Bool {
        var candidate = Substring(leaf)
        while true {
            let path = String(candidate)
            if set.contains(path) || set.contains(path + ".value") { return true }
            guard let parent = V3JSON.parentPath(candidate) else { return false }
            candidate = parent
        }
    }

    /// `HasSetField`: the mask sets `path` when it names it or an ancestor (pkg/networkserver `hasAnyField`).
    static func maskSets(_ mask: [String], _ path: String) -> Bool {
        mask.contains { V3JSON.isPath(path, within: $0) }
    }

    /// Applies a Set/Update mask: each path takes the request's value, or is cleared when the request has none.
    func apply(mask: [String], from request: V3JSON, to stored: V3JSON, schema: V3MessageSchema) -> V3JSON {
        var result = stored
        // Parents before children; a path's byte count is a parent's plus more (`count` walks Characters).
        for maskPath in mask.sorted(by: { $0.utf8.count < $1.utf8.count }) {
            let path = schema.storagePath(maskPath)
            let value = request[path: path].flatMap { schema.droppingZeros($0, at: path) }
            result.set(path: path, to: value)
        }
        return result
    }

    /// The fields of `stored` selected by `paths` (a Get's field mask).
    func select(_ stored: V3JSON, paths: [String], schema: V3MessageSchema) -> V3JSON {
        var result = V3JSON.object([:])
        for maskPath in paths {
            let path = schema.storagePath(maskPath)
            if let value = stored[path: path] { result.set(path: path, to: value) }
        }
        return result
    }

    // MARK: Lists

    /// `limit` (default 100, at most 1000) and `page` (1-based; 0 → 1) (§1).
    func page<T>(_ items: [T], _ call: V3Call) throws(V3Failure) -> (items: [T], headers: [String: String]) {
        var limit = 100
        if let text = call.query["limit"] {
            guard let value = Int(text), value >= 0 else { throw V3Failure.malformedBody("invalid value for query parameter `limit`: \(text)") }
            if value > 1000 { throw V3Failure.validation(path: ["limit"], reason: "value must be less than or equal to 1000") }
            if value > 0 { limit = value }
        }
        var page = 1
        if let text = call.query["page"] {
            guard let value = Int(text), value >= 0, value <= 1_000_000_000 else {
                throw V3Failure.malformedBody("invalid value for query parameter `page`: \(text)")
            }
            page = max(value, 1)
        }
        let start = min((page - 1) * limit, items.count)
        let end = min(start + limit, items.count)
        return (Array(items[start..<end]), ["X-Total-Count": String(items.count)])
    }

    func timestamp() -> V3JSON {
        .string(V3Time.format(now()))
    }
}
