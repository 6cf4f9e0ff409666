import Foundation

/// How strictly the v2 simulator checks an estate file when it loads it.
public enum V2EstateValidation: String, Sendable, Hashable, CaseIterable {
    /// Structure (what the simulator needs to serve and authorise) plus the values the v2 API
    /// guarantees: EUIs, DevAddrs and keys as hex of the right length, frame counters as 32-bit
    /// unsigned integers, locations in range. The default.
    case strict
    /// Structure only: every other value is served verbatim, so an estate can carry deliberately
    /// invalid data (a bad EUI, a short key) to test how a client validates what v2 sends.
    case structureOnly = "structure-only"
}

/// The v2 estate a `V2Simulator` serves, read from an estate file with the simulator's own parsing
/// (it never uses the client's `V2Model` types, so a client mistake cannot be mirrored).
///
/// Estate file format (JSON):
///
///     {
///       "users": [ {"username": "alice", "email": "alice@example.com", "name": {"first": "Alice", "last": "A"}} ],
///       "applications": [
///         { "id": "my-app", "name": "…", "euis": ["70B3D57ED0000001"], "created": "2019-04-01T10:00:00Z",
///           "rights": ["settings", "devices", …],
///           "collaborators": [ {"username": "alice", "email": "…", "rights": [ … ]} ],
///           "access_keys": [ {"name": "default key", "key": "ttn-account-v2.…", "rights": [ … ]} ],
///           "deleted": "2021-03-01T00:00:00Z",
///           "handler": { "name": "eu",
///                        "application": {"payload_format": "custom", "decoder": "…", "converter": "…",
///                                        "validator": "…", "encoder": "…"},
///                        "devices": [ {"dev_id": "node-1", "description": "…", "latitude": 52.1, "longitude": 4.3,
///                                      "altitude": 2, "attributes": {"k": "v"},
///                                      "lorawan_device": {"app_eui": "…", "dev_eui": "…", "dev_addr": "…",
///                                                         "nwk_s_key": "…", "app_s_key": "…", "app_key": "…",
///                                                         "f_cnt_up": 70000, "f_cnt_down": 12,
///                                                         "disable_f_cnt_check": false, "uses32_bit_f_cnt": true,
///                                                         "activation_constraints": "local",
///                                                         "last_seen": "1625140800000000000"}} ] } } ],
///       "gateways": [ { "id": "eui-b827ebfffe000001", "frequency_plan": "EU_863_870", …,
///                       "collaborators": [ … ], "key": "ttn-account-v2.…" } ]
///     }
///
/// - `users[0]` is the owner of the bearer token: `GET /api/v2/users/me` returns it.
/// - An application object is served exactly as written (without `handler`) by the account server;
///   its `rights` are the token owner's rights on it, which is also what the handler checks for a
///   bearer token. `deleted` (a date) marks a deleted application, listed only with `?deleted=1`.
/// - `handler` places the application on the named v2 handler (absent: on no handler). Its
///   `application` is the handler's application JSON (`app_id` is added when missing); `devices`
///   are served by the handler, `app_id`/`dev_id` added where missing. The device list leaves out
///   `f_cnt_up`, `f_cnt_down` and `last_seen` (only the per-device GET has them) and no response
///   carries `used_dev_nonces`/`used_app_nonces` (`reference/v2-and-peers.md` §B).
/// - Gateways are served exactly as written, `key` and `token` included.
/// - Object keys starting with `_` are notes: ignored and never served (except inside `attributes`).
///
/// Load-time checks: always the structure (a JSON object; `users` non-empty with usernames; every
/// application, device and gateway with a non-empty ID without `/`, unique in its scope; rights
/// and collaborators as arrays of strings and objects; access keys with a name and a key, each key
/// belonging to one application; `handler` with a name), and with `V2EstateValidation.strict` also
/// the v2 value formats. IDs are never checked against the v2 ID pattern: upper case, underscores
/// and short IDs are what a migration must cope with.
public struct V2Estate: Sendable {
    let users: [V2JSON]
    let applications: [Application]
    let gateways: [Gateway]

    struct Application: Sendable {
        let id: String
        /// The account server's JSON (without `handler`).
        let json: V2JSON
        let isDeleted: Bool
        /// The token owner's rights on the application (its `rights`).
        let callerRights: Set<String>
        let accessKeys: [AccessKey]
        let handler: Handler?
    }

    struct AccessKey: Sendable {
        let name: String
        let key: String
        let rights: Set<String>
    }

    struct Handler: Sendable {
        let name: String
        let application: V2JSON
        let devices: [Device]
    }

    struct Device: Sendable {
        let id: String
        /// As the per-device GET returns it (with frame counters).
        let full: V2JSON
        /// As the device list returns it (without frame counters and last_seen).
        let listed: V2JSON
    }

    struct Gateway: Sendable {
        let id: String
        let json: V2JSON
    }

    /// The username of `users[0]`, the bearer token's owner.
    public var ownerUsername: String { users.first?["username"]?.stringValue ?? "" }
    /// Application IDs in file order, deleted ones included.
    public var applicationIDs: [String] { applications.map(\.id) }
    /// Gateway IDs in file order.
    public var gatewayIDs: [String] { gateways.map(\.id) }
    /// Names of the handlers the estate places applications on, in order of first appearance.
    public var handlerNames: [String] {
        var seen: Set<String> = []
        return applications.compactMap(\.handler?.name).filter { seen.insert($0).inserted }
    }
    /// Devices on all handlers.
    public var deviceCount: Int { applications.reduce(0) { $0 + ($1.handler?.devices.count ?? 0) } }

    /// Reads and checks an estate file.
    public static func load(file path: String, validation: V2EstateValidation = .strict) throws(V2EstateError) -> V2Estate {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let reason: String
            if !FileManager.default.fileExists(atPath: path) {
                reason = "no such file"
            } else {
                reason = (error as NSError).localizedDescription
            }
            throw .unreadable(file: path, reason: reason)
        }
        return try parse(data, source: path, validation: validation)
    }

    /// Parses and checks estate JSON; `source` names it in errors (a file path).
    public static func parse(_ data: Data, source: String = "estate", validation: V2EstateValidation = .strict) throws(V2EstateError) -> V2Estate {
        let root: V2JSON
        do {
            root = try V2JSON.parse(data)
        } catch {
            throw .malformedJSON(file: source, detail: error.detail)
        }
        var checker = V2EstateChecker(source: source, strict: validation == .strict)
        return try checker.estate(from: root.strippingNotes())
    }
}

/// Why an estate file cannot be served. Messages name the file, the entity and the field, never a
/// secret value, and say what to do.
public enum V2EstateError: Error, Hashable, CustomStringConvertible, LocalizedError {
    case unreadable(file: String, reason: String)
    case malformedJSON(file: String, detail: String)
    case unknownKey(file: String, key: String)
    case noUsers(file: String)
    /// `entity` e.g. `application "my-app"` or `applications[3]`; `field` a path inside it.
    case invalidField(file: String, entity: String, field: String, problem: String)
    case duplicateID(file: String, kind: String, id: String)
    case duplicateAccessKey(file: String, application: String, keyName: String, otherApplication: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason):
            return "estate file \(file): cannot read it (\(reason)); check the path given to --v2-data"
        case .malformedJSON(let file, let detail):
            return "estate file \(file): malformed JSON: \(detail); fix the file (it must be one JSON object)"
        case .unknownKey(let file, let key):
            return "estate file \(file): unknown top-level key \"\(key)\"; the estate has only \"users\", \"applications\" and \"gateways\" (keys starting with _ are notes)"
        case .noUsers(let file):
            return "estate file \(file): \"users\" must list at least one user; users[0] owns the bearer token (GET /api/v2/users/me)"
        case .invalidField(let file, let entity, let field, let problem):
            let place = field.isEmpty ? entity : "\(entity), field \"\(field)\""
            return "estate file \(file): \(place): \(problem); fix the value, or load the estate with structure-only validation to serve it as it is"
        case .duplicateID(let file, let kind, let id):
            return "estate file \(file): two \(kind)s have the ID \"\(id)\"; IDs must be unique, rename one"
        case .duplicateAccessKey(let file, let application, let keyName, let otherApplication):
            return "estate file \(file): access key \"\(keyName)\" of application \"\(application)\" has the same secret as a key of application \"\(otherApplication)\"; every access key belongs to one application, give it another secret"
        }
    }

    public var errorDescription: String? { description }
}

/// The load-time checks of an estate, building the served model as it goes.
struct V2EstateChecker {
    let source: String
    let strict: Bool

    private static let hexDigits = Set("0123456789abcdefABCDEF")

    mutating func estate(from root: V2JSON) throws(V2EstateError) -> V2Estate {
        guard let members = root.objectValue else {
            throw .malformedJSON(file: source, detail: "the top level is \(root.typeName), not an object")
        }
        for key in members.keys.sorted() where !["users", "applications", "gateways"].contains(key) {
            throw .unknownKey(file: source, key: key)
        }
        let users = try list(members["users"], entity: "the estate", field: "users")
        guard !users.isEmpty else { throw .noUsers(file: source) }
        for (index, user) in users.enumerated() {
            let entity = "users[\(index)]"
            let object = try requireObject(user, entity: entity, field: "")
            _ = try requireID(object["username"], entity: entity, field: "username")
        }
        var applications: [V2Estate.Application] = []
        var applicationIDs: Set<String> = []
        var keyOwners: [String: String] = [:]
        for (index, value) in try list(members["applications"], entity: "the estate", field: "applications").enumerated() {
            let application = try application(value, index: index)
            guard applicationIDs.insert(application.id).inserted else {
                throw .duplicateID(file: source, kind: "application", id: application.id)
            }
            for key in application.accessKeys {
                if let owner = keyOwners[key.key] {
                    throw .duplicateAccessKey(file: source, application: application.id, keyName: key.name, otherApplication: owner)
                }
                keyOwners[key.key] = application.id
            }
            applications.append(application)
        }
        var gateways: [V2Estate.Gateway] = []
        var gatewayIDs: Set<String> = []
        for (index, value) in try list(members["gateways"], entity: "the estate", field: "gateways").enumerated() {
            let gateway = try gateway(value, index: index)
            guard gatewayIDs.insert(gateway.id).inserted else {
                throw .duplicateID(file: source, kind: "gateway", id: gateway.id)
            }
            gateways.append(gateway)
        }
        return V2Estate(users: users, applications: applications, gateways: gateways)
    }

    // MARK: entities

    private func application(_ value: V2JSON, index: Int) throws(V2EstateError) -> V2Estate.Application {
        var object = try requireObject(value, entity: "applications[\(index)]", field: "")
        let id = try requireID(object["id"], entity: "applications[\(index)]", field: "id")
        let entity = "application \"\(id)\""
        if let name = object["name"] { try requireString(name, entity: entity, field: "name") }
        if let created = object["created"] { try requireString(created, entity: entity, field: "created") }
        var isDeleted = false
        if let deleted = object["deleted"], deleted != .null {
            isDeleted = !(try requireString(deleted, entity: entity, field: "deleted")).isEmpty
        }
        for (position, eui) in try list(object["euis"], entity: entity, field: "euis").enumerated() {
            let text = try requireString(eui, entity: entity, field: "euis[\(position)]")
            if strict { try requireHex(text, digits: 16, allowEmpty: false, entity: entity, field: "euis[\(position)]") }
        }
        let rights = try stringList(object["rights"], entity: entity, field: "rights")
        for (position, collaborator) in try list(object["collaborators"], entity: entity, field: "collaborators").enumerated() {
            try self.collaborator(collaborator, entity: entity, field: "collaborators[\(position)]")
        }
        var accessKeys: [V2Estate.AccessKey] = []
        var keyNames: Set<String> = []
        for (position, key) in try list(object["access_keys"], entity: entity, field: "access_keys").enumerated() {
            let field = "access_keys[\(position)]"
            let keyObject = try requireObject(key, entity: entity, field: field)
            let name = try requireString(keyObject["name"], entity: entity, field: "\(field).name")
            let secret = try requireString(keyObject["key"], entity: entity, field: "\(field).key")
            if secret.isEmpty || secret.contains(where: \.isWhitespace) {
                throw .invalidField(file: source, entity: entity, field: "\(field).key", problem: "an access key must be a non-empty string without spaces")
            }
            guard keyNames.insert(name).inserted else {
                throw .invalidField(file: source, entity: entity, field: "\(field).name", problem: "two access keys are named \"\(name)\"; key names are unique per application")
            }
            let keyRights = try stringList(keyObject["rights"], entity: entity, field: "\(field).rights")
            accessKeys.append(V2Estate.AccessKey(name: name, key: secret, rights: Set(keyRights)))
        }
        var handler: V2Estate.Handler?
        if let handlerValue = object.removeValue(forKey: "handler"), handlerValue != .null {
            handler = try self.handler(handlerValue, applicationID: id, entity: entity)
        }
        return V2Estate.Application(
            id: id, json: .object(object), isDeleted: isDeleted, callerRights: Set(rights), accessKeys: accessKeys,
            handler: handler
        )
    }

    private func collaborator(_ value: V2JSON, entity: String, field: String) throws(V2EstateError) {
        let object = try requireObject(value, entity: entity, field: field)
        _ = try requireID(object["username"], entity: entity, field: "\(field).username")
        _ = try stringList(object["rights"], entity: entity, field: "\(field).rights")
        if let email = object["email"] { try requireString(email, entity: entity, field: "\(field).email") }
    }

    private func handler(_ value: V2JSON, applicationID: String, entity: String) throws(V2EstateError) -> V2Estate.Handler {
        let object = try requireObject(value, entity: entity, field: "handler")
        let name = try requireID(object["name"], entity: entity, field: "handler.name")
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw .invalidField(file: source, entity: entity, field: "handler.name", problem: "a handler name may hold only letters, digits, -, _ and . (it becomes part of the handler URL)")
        }
        var application = try requireObject(object["application"] ?? .object([:]), entity: entity, field: "handler.application")
        if let appID = application["app_id"] {
            guard appID.stringValue == applicationID else {
                throw .invalidField(file: source, entity: entity, field: "handler.application.app_id", problem: "must be the application's ID \"\(applicationID)\" or absent")
            }
        }
        application["app_id"] = .string(applicationID)
        for field in ["payload_format", "decoder", "converter", "validator", "encoder", "register_on_join_access_key"] {
            if let text = application[field] { try requireString(text, entity: entity, field: "handler.application.\(field)") }
        }
        var devices: [V2Estate.Device] = []
        var deviceIDs: Set<String> = []
        for (index, device) in try list(object["devices"], entity: entity, field: "handler.devices").enumerated() {
            let parsed = try self.device(device, index: index, applicationID: applicationID, entity: entity)
            guard deviceIDs.insert(parsed.id).inserted else {
                throw .duplicateID(file: source, kind: "device of application \"\(applicationID)\"", id: parsed.id)
            }
            devices.append(parsed)
        }
        return V2Estate.Handler(name: name, application: .object(application), devices: devices)
    }

    private func device(_ value: V2JSON, index: Int, applicationID: String, entity applicationEntity: String) throws(V2EstateError) -> V2Estate.Device {
        var object = try requireObject(value, entity: applicationEntity, field: "handler.devices[\(index)]")
        let id = try requireID(object["dev_id"], entity: applicationEntity, field: "handler.devices[\(index)].dev_id")
        let entity = "device \"\(id)\" of application \"\(applicationID)\""
        if let appID = object["app_id"], appID.stringValue != applicationID {
            throw .invalidField(file: source, entity: entity, field: "app_id", problem: "must be the application's ID \"\(applicationID)\" or absent")
        }
        object["app_id"] = .string(applicationID)
        if let description = object["description"] { try requireString(description, entity: entity, field: "description") }
        if let attributes = object["attributes"] {
            let map = try requireObject(attributes, entity: entity, field: "attributes")
            for (key, attribute) in map { try requireString(attribute, entity: entity, field: "attributes.\(key)") }
        }
        if strict { try location(object, entity: entity, prefix: "") }
        if let lorawanValue = object["lorawan_device"] {
            var lorawan = try requireObject(lorawanValue, entity: entity, field: "lorawan_device")
            for field in ["app_id", "dev_id"] {
                if let given = lorawan[field], given.stringValue != (field == "app_id" ? applicationID : id) {
                    throw .invalidField(file: source, entity: entity, field: "lorawan_device.\(field)", problem: "must equal the device's \(field) or be absent")
                }
            }
            lorawan["app_id"] = .string(applicationID)
            lorawan["dev_id"] = .string(id)
            lorawan.removeValue(forKey: "used_dev_nonces")
            lorawan.removeValue(forKey: "used_app_nonces")
            if strict { try lorawanValues(lorawan, entity: entity) }
            object["lorawan_device"] = .object(lorawan)
            var listed = lorawan
            for counter in ["f_cnt_up", "f_cnt_down", "last_seen"] { listed.removeValue(forKey: counter) }
            var listedObject = object
            listedObject["lorawan_device"] = .object(listed)
            return V2Estate.Device(id: id, full: .object(object), listed: .object(listedObject))
        }
        return V2Estate.Device(id: id, full: .object(object), listed: .object(object))
    }

    private func lorawanValues(_ lorawan: [String: V2JSON], entity: String) throws(V2EstateError) {
        let hexFields: [(String, Int)] = [
            ("app_eui", 16), ("dev_eui", 16), ("dev_addr", 8), ("nwk_s_key", 32), ("app_s_key", 32), ("app_key", 32),
        ]
        for (field, digits) in hexFields {
            guard let value = lorawan[field] else { continue }
            let text = try requireString(value, entity: entity, field: "lorawan_device.\(field)")
            try requireHex(text, digits: digits, allowEmpty: true, entity: entity, field: "lorawan_device.\(field)")
        }
        for field in ["f_cnt_up", "f_cnt_down"] {
            guard let value = lorawan[field] else { continue }
            guard case .integer(let count) = value, count >= 0, count <= Int64(UInt32.max) else {
                throw .invalidField(file: source, entity: entity, field: "lorawan_device.\(field)", problem: "a frame counter must be a whole number from 0 to 4294967295")
            }
        }
        if let lastSeen = lorawan["last_seen"] {
            switch lastSeen {
            case .integer(let value) where value >= 0: break
            case .string(let text) where !text.isEmpty && text.allSatisfy(\.isASCII) && text.allSatisfy(\.isNumber): break
            default:
                throw .invalidField(file: source, entity: entity, field: "lorawan_device.last_seen", problem: "must be Unix nanoseconds, a whole number or a string of digits")
            }
        }
        for field in ["disable_f_cnt_check", "uses32_bit_f_cnt"] {
            guard let value = lorawan[field] else { continue }
            guard case .bool = value else {
                throw .invalidField(file: source, entity: entity, field: "lorawan_device.\(field)", problem: "must be true or false")
            }
        }
        if let constraints = lorawan["activation_constraints"] {
            try requireString(constraints, entity: entity, field: "lorawan_device.activation_constraints")
        }
    }

    private func gateway(_ value: V2JSON, index: Int) throws(V2EstateError) -> V2Estate.Gateway {
        let object = try requireObject(value, entity: "gateways[\(index)]", field: "")
        let id = try requireID(object["id"], entity: "gateways[\(index)]", field: "id")
        let entity = "gateway \"\(id)\""
        for (position, collaborator) in try list(object["collaborators"], entity: entity, field: "collaborators").enumerated() {
            try self.collaborator(collaborator, entity: entity, field: "collaborators[\(position)]")
        }
        if strict {
            if let plan = object["frequency_plan"] { try requireString(plan, entity: entity, field: "frequency_plan") }
            for field in ["activated", "auto_update", "location_public", "status_public", "owner_public", "beta_updates"] {
                guard let flag = object[field] else { continue }
                guard case .bool = flag else {
                    throw .invalidField(file: source, entity: entity, field: field, problem: "must be true or false")
                }
            }
            if let location = object["antenna_location"], location != .null {
                let locationObject = try requireObject(location, entity: entity, field: "antenna_location")
                try self.location(locationObject, entity: entity, prefix: "antenna_location.")
            }
            if let attributes = object["attributes"] {
                let map = try requireObject(attributes, entity: entity, field: "attributes")
                for (key, attribute) in map { try requireString(attribute, entity: entity, field: "attributes.\(key)") }
            }
        }
        return V2Estate.Gateway(id: id, json: .object(object))
    }

    /// latitude, longitude (numbers in range) and altitude (an integer), each optional.
    private func location(_ object: [String: V2JSON], entity: String, prefix: String) throws(V2EstateError) {
        for (field, limit) in [("latitude", 90.0), ("longitude", 180.0)] {
            guard let value = object[field] else { continue }
            let number: Double
            switch value {
            case .integer(let integer): number = Double(integer)
            case .number(let double): number = double
            default:
                throw .invalidField(file: source, entity: entity, field: prefix + field, problem: "must be a number")
            }
            guard abs(number) <= limit else {
                throw .invalidField(file: source, entity: entity, field: prefix + field, problem: "must be from -\(Int(limit)) to \(Int(limit))")
            }
        }
        if let altitude = object["altitude"] {
            guard case .integer(let metres) = altitude, metres >= Int64(Int32.min), metres <= Int64(Int32.max) else {
                throw .invalidField(file: source, entity: entity, field: prefix + "altitude", problem: "must be a whole number of metres (v2 altitudes are integers)")
            }
        }
    }

    // MARK: primitives

    private func list(_ value: V2JSON?, entity: String, field: String) throws(V2EstateError) -> [V2JSON] {
        guard let value, value != .null else { return [] }
        guard let elements = value.arrayValue else {
            throw .invalidField(file: source, entity: entity, field: field, problem: "must be an array, not \(value.typeName)")
        }
        return elements
    }

    private func stringList(_ value: V2JSON?, entity: String, field: String) throws(V2EstateError) -> [String] {
        var strings: [String] = []
        for (index, element) in try list(value, entity: entity, field: field).enumerated() {
            strings.append(try requireString(element, entity: entity, field: "\(field)[\(index)]"))
        }
        return strings
    }

    private func requireObject(_ value: V2JSON, entity: String, field: String) throws(V2EstateError) -> [String: V2JSON] {
        guard let object = value.objectValue else {
            throw .invalidField(file: source, entity: entity, field: field, problem: "must be an object, not \(value.typeName)")
        }
        return object
    }

    @discardableResult
    private func requireString(_ value: V2JSON?, entity: String, field: String) throws(V2EstateError) -> String {
        guard let value else {
            throw .invalidField(file: source, entity: entity, field: field, problem: "is missing")
        }
        guard let text = value.stringValue else {
            throw .invalidField(file: source, entity: entity, field: field, problem: "must be a string, not \(value.typeName)")
        }
        return text
    }

    /// A non-empty string usable as one URL path segment.
    private func requireID(_ value: V2JSON?, entity: String, field: String) throws(V2EstateError) -> String {
        let text = try requireString(value, entity: entity, field: field)
        guard !text.isEmpty, !text.contains("/"), !text.contains(where: \.isWhitespace), !text.contains("?") else {
            throw .invalidField(file: source, entity: entity, field: field, problem: "must be a non-empty ID without spaces, / or ?")
        }
        return text
    }

    /// Hex of exactly `digits` digits (empty allowed where v2 writes zero values as ""). The value is
    /// never repeated in the message: it may be a key.
    private func requireHex(_ text: String, digits: Int, allowEmpty: Bool, entity: String, field: String) throws(V2EstateError) {
        if text.isEmpty && allowEmpty { return }
        guard text.count == digits else {
            throw .invalidField(file: source, entity: entity, field: field, problem: "must be \(digits) hexadecimal digits, it has \(text.count) characters")
        }
        guard text.allSatisfy({ Self.hexDigits.contains($0) }) else {
            throw .invalidField(file: source, entity: entity, field: field, problem: "must be \(digits) hexadecimal digits, it holds other characters")
        }
    }
}

extension V2JSON {
    /// The value without object members whose key starts with `_` (notes in an estate file), at every
    /// depth except inside `attributes` maps, whose keys are data.
    func strippingNotes() -> V2JSON {
        switch self {
        case .object(let members):
            var kept: [String: V2JSON] = [:]
            for (key, value) in members where !key.hasPrefix("_") {
                kept[key] = key == "attributes" ? value : value.strippingNotes()
            }
            return .object(kept)
        case .array(let elements):
            return .array(elements.map { $0.strippingNotes() })
        default:
            return self
        }
    }
}
