import Foundation

/// The devices the simulated v2 handlers serve, as they change under SetDevice.
///
/// SetDevice (`POST|PUT /applications/{app}/devices/{dev}`) follows TTN `core/handler/manager_server.go`
/// @6a0c198 in the read-only mode v2 clusters run since July 2021 (`DISABLE_DEVICE_REGISTRATIONS`, TTN
/// commit 500bf74a, PR #792): the body replaces the device as `device.FromPb` does, and only the fields
/// `AppKey`, `DevAddr`, `NwkSKey`, `AppSKey` and `FCntUp` may differ from what is stored; any other change,
/// and any new device, is refused with "V2 clusters are now read-only…" (gRPC 7). A key or address given
/// as `""` is cleared; one left out keeps its value (`FromLoRaWANPb` only copies non-nil keys). The
/// frame counters of the body go to the broker as given (`lorawanPb.FCntUp/FCntDown = lorawan.…`), so
/// a body without them resets them to 0. A cleared key reads back as `""` (`AES128Key.String()`).
final class V2HandlerDevices: Sendable {
    /// One device: its JSON as the per-device GET returns it, and the two encoded answers.
    private struct Record {
        var full: [String: V2JSON]
        var fullBody: Data
        var listedBody: Data

        init(_ full: [String: V2JSON]) {
            self.full = full
            fullBody = V2JSON.object(full).data
            var listed = full
            if case .object(var lorawan)? = full["lorawan_device"] {
                for counter in ["f_cnt_up", "f_cnt_down", "last_seen"] { lorawan.removeValue(forKey: counter) }
                listed["lorawan_device"] = .object(lorawan)
            }
            listedBody = V2JSON.object(listed).data
        }
    }

    /// Why a SetDevice is refused: the gRPC code's name and the handler's message.
    enum Refusal: Error, Equatable {
        case invalidArgument(String)
        case permissionDenied(String)
    }

    /// The handler's read-only refusal, verbatim (TTN commit 500bf74a).
    static let readOnlyMessage =
        "V2 clusters are now read-only. Migrate your devices to a The Things Stack (V3) cluster now! V2 clusters will permanently shut down in December 2021."

    /// Fields SetDevice may change in read-only mode (TTN manager_server.go: "Allow changing the AppKey
    /// for OTAA and the session data for ABP", "Allow updating the frame counters").
    static let changeableLoRaWANFields: Set<String> = ["app_key", "dev_addr", "nwk_s_key", "app_s_key", "f_cnt_up"]

    private let order: [String: [String]]
    private let records: SimLocked<[String: Record]>

    /// `applications`: application ID → its devices in list order (device ID, per-device GET JSON).
    init(applications: [String: [(id: String, full: V2JSON)]]) {
        var order: [String: [String]] = [:]
        var records: [String: Record] = [:]
        for (application, devices) in applications {
            order[application] = devices.map(\.id)
            for device in devices { records[Self.key(application, device.id)] = Record(device.full.objectValue ?? [:]) }
        }
        self.order = order
        self.records = SimLocked(records)
    }

    private static func key(_ application: String, _ device: String) -> String { application + "\u{0}" + device }

    /// The per-device GET answer, or nil for an unknown device.
    func fullBody(application: String, device: String) -> Data? {
        records.withLock { $0[Self.key(application, device)]?.fullBody }
    }

    /// One page of the device list (answers without counters, in list order) and the total count;
    /// `limit` 0 means all from `offset`.
    func listedPage(application: String, offset: Int, limit: Int) -> (total: Int, page: [Data]) {
        let ids = order[application] ?? []
        let start = min(offset, ids.count)
        let end = limit == 0 ? ids.count : min(ids.count, start + limit)
        return records.withLock { records in
            (ids.count, ids[start..<end].compactMap { records[Self.key(application, $0)]?.listedBody })
        }
    }

    /// The device as stored now (tests and state dumps).
    func device(application: String, device: String) -> [String: V2JSON]? {
        records.withLock { $0[Self.key(application, device)]?.full }
    }

    /// Applies a SetDevice body to a stored device, or says why the handler refuses it.
    func set(application: String, device: String, body: Data) throws(Refusal) {
        let parsed: V2JSON
        do {
            parsed = try V2JSON.parse(body)
        } catch {
            throw .invalidArgument("invalid JSON in the request body: \(error.detail)")
        }
        guard let given = parsed.objectValue else { throw .invalidArgument("the request body must be a JSON object (a Device)") }
        for (field, value) in given where field == "app_id" || field == "dev_id" {
            if value.stringValue != (field == "app_id" ? application : device) {
                throw .invalidArgument("Invalid Device: \(field) does not match the URL")
            }
        }
        guard case .object(let lorawan)? = given["lorawan_device"] else { throw .invalidArgument("No LoRaWAN Device") }
        try Self.validate(lorawan)
        let refusal: Refusal? = records.withLock { records in
            let key = Self.key(application, device)
            // A new device is a registration, which read-only v2 refuses.
            guard let stored = records[key] else { return .permissionDenied(Self.readOnlyMessage) }
            let updated = Self.replaced(stored.full, by: given, lorawan: lorawan)
            if Self.changedFields(stored.full, updated).contains(where: { !Self.changeableLoRaWANFields.contains($0) }) {
                return .permissionDenied(Self.readOnlyMessage)
            }
            records[key] = Record(updated)
            return nil
        }
        if let refusal { throw refusal }
    }

    /// Hex fields must have their length or be `""` (`types.ParseHEX`), counters be 32-bit whole numbers.
    private static func validate(_ lorawan: [String: V2JSON]) throws(Refusal) {
        let hexFields: [(String, Int)] = [
            ("app_eui", 16), ("dev_eui", 16), ("dev_addr", 8), ("nwk_s_key", 32), ("app_s_key", 32), ("app_key", 32),
        ]
        for (field, digits) in hexFields {
            guard let value = lorawan[field] else { continue }
            guard let text = value.stringValue, text.isEmpty || (text.count == digits && text.allSatisfy(\.isHexDigit)) else {
                throw .invalidArgument("Invalid Device: \(field) must be \(digits) hexadecimal digits or empty")
            }
        }
        for field in ["f_cnt_up", "f_cnt_down"] {
            guard let value = lorawan[field] else { continue }
            guard case .integer(let count) = value, count >= 0, count <= Int64(UInt32.max) else {
                throw .invalidArgument("Invalid Device: \(field) must be a whole number from 0 to 4294967295")
            }
        }
    }

    /// The stored device after `device.FromPb(body)`: every handler field from the body (zero when
    /// absent), keys and address only where the body has them, counters from the body, `last_seen` kept.
    private static func replaced(_ stored: [String: V2JSON], by body: [String: V2JSON], lorawan: [String: V2JSON]) -> [String: V2JSON] {
        var device: [String: V2JSON] = ["app_id": stored["app_id"] ?? .null, "dev_id": stored["dev_id"] ?? .null]
        for field in ["description", "latitude", "longitude", "altitude", "attributes"] { device[field] = body[field] }
        let storedLoRaWAN = stored["lorawan_device"]?.objectValue ?? [:]
        var updated: [String: V2JSON] = [:]
        for field in ["app_id", "dev_id", "last_seen"] { updated[field] = storedLoRaWAN[field] }
        for field in ["app_eui", "dev_eui", "f_cnt_up", "f_cnt_down", "disable_f_cnt_check", "uses32_bit_f_cnt", "activation_constraints"] {
            updated[field] = lorawan[field]
        }
        for field in ["dev_addr", "app_key", "app_s_key", "nwk_s_key"] { updated[field] = lorawan[field] ?? storedLoRaWAN[field] }
        device["lorawan_device"] = .object(updated.filter { $0.value != .null })
        return device.filter { $0.value != .null }
    }

    /// The handler fields that differ, as `dev.ChangedFields()` names them here (JSON names; absent and
    /// zero are the same, hex compares without case, coordinates as float32).
    private static func changedFields(_ before: [String: V2JSON], _ after: [String: V2JSON]) -> [String] {
        var changed: [String] = []
        for field in ["description", "attributes", "latitude", "longitude", "altitude"]
        where normalized(before[field], field: field) != normalized(after[field], field: field) {
            changed.append(field)
        }
        let old = before["lorawan_device"]?.objectValue ?? [:]
        let new = after["lorawan_device"]?.objectValue ?? [:]
        for field in ["app_eui", "dev_eui", "dev_addr", "app_key", "app_s_key", "nwk_s_key", "f_cnt_up", "disable_f_cnt_check",
                      "uses32_bit_f_cnt", "activation_constraints"]
        where normalized(old[field], field: field) != normalized(new[field], field: field) {
            changed.append(field)
        }
        return changed
    }

    /// A comparable form: zero values and absence become nil, hex upper-cased, coordinates float32.
    private static func normalized(_ value: V2JSON?, field: String) -> V2JSON? {
        switch value {
        case nil, .null?, .bool(false)?, .integer(0)?: return nil
        case .number(let number)?:
            let single = Float(number)
            return single == 0 ? nil : .number(Double(single))
        case .integer(let number)? where ["latitude", "longitude"].contains(field):
            return .number(Double(Float(number)))
        case .string(let text)?:
            if text.isEmpty { return nil }
            return ["app_eui", "dev_eui", "dev_addr", "app_key", "app_s_key", "nwk_s_key"].contains(field)
                ? (text.allSatisfy { $0 == "0" } ? nil : .string(text.uppercased())) : .string(text)
        case .object(let members)? where members.isEmpty: return nil
        case .array(let elements)? where elements.isEmpty: return nil
        default: return value
        }
    }
}
