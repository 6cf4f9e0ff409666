import Foundation

/// End devices in the four registries (reference/v3-api.md §6, §15–§17) and the AS application link (§16).
extension V3Engine {
    private var deviceSchema: V3MessageSchema { schemas.endDevice }

    private static let deviceRPCService: [V3Component: String] = [
        .joinServer: "JsEndDeviceRegistry", .networkServer: "NsEndDeviceRegistry", .applicationServer: "AsEndDeviceRegistry",
    ]

    private func rpc(_ component: V3Component, _ name: String) -> String {
        "/ttn.lorawan.v3.\(V3Engine.deviceRPCService[component] ?? "EndDeviceRegistry")/\(name)"
    }

    /// Field validation of an end device (end_device.proto, identifiers.proto).
    private func validateDevice(_ device: V3JSON) throws(V3Failure) {
        let root = "end_device"
        guard device[path: "ids"] != nil else { throw V3Failure.validation(path: [root, "ids"], reason: "value is required") }
        try V3Validate.id(device[path: "ids.device_id"], path: [root, "ids", "device_id"])
        try V3Validate.id(device[path: "ids.application_ids.application_id"], path: [root, "ids", "application_ids", "application_id"])
        try V3Validate.maxRunes(device[path: "name"], 50, path: [root, "name"])
        try V3Validate.maxRunes(device[path: "description"], 2000, path: [root, "description"])
        try V3Validate.attributes(device[path: "attributes"], path: [root, "attributes"])
        for field in ["network_server_address", "application_server_address", "join_server_address"] {
            try V3Validate.hostAddress(device[path: field], path: [root, field])
        }
        for (name, location) in (device[path: "locations"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            try V3Validate.location(location, path: [root, "locations[\(name)]"])
        }
        try V3Validate.versionIDs(device[path: "version_ids"], path: [root, "version_ids"])
        try V3Validate.maxRunes(device[path: "frequency_plan_id"], 64, path: [root, "frequency_plan_id"])
        try V3Validate.maxRunes(device[path: "serial_number"], 64, path: [root, "serial_number"])
    }

    private func deviceKey(_ device: V3JSON) -> V3DeviceKey {
        V3DeviceKey(applicationID: device[path: "ids.application_ids.application_id"]?.stringValue ?? "",
                    deviceID: device[path: "ids.device_id"]?.stringValue ?? "")
    }

    private func applicationOwner(_ applicationID: String) -> V3KeyOwner {
        V3KeyOwner(kind: .application, id: applicationID)
    }

    private func checkEUIs(_ device: V3JSON, _ key: V3DeviceKey, _ component: V3Component, namespace: String, _ state: V3State) throws(V3Failure) {
        if let holder = state.euiHolder(component, device, excluding: key) {
            throw V3Failure.endDeviceEUIsTaken(namespace: namespace,
                                               joinEUI: device[path: "ids.join_eui"]?.stringValue ?? "",
                                               devEUI: device[path: "ids.dev_eui"]?.stringValue ?? "",
                                               deviceID: holder.deviceID, applicationID: holder.applicationID)
        }
    }

    private func requestDevice(_ call: V3Call) throws(V3Failure) -> V3JSON {
        try deviceSchema.normalize(call.body["end_device"] ?? call.body["endDevice"] ?? .object([:]))
    }

    // MARK: Identity Server (EndDeviceRegistry; end_device_registry.go)

    func createDevice(_ call: V3Call, _ state: inout V3State) throws(V3Failure) -> V3Reply {
        var device = try requestDevice(call)
        device.set(path: "ids.application_ids.application_id", to: .string(call.parameter("end_device.ids.application_ids.application_id")))
        try checkCoverage(device, schema: deviceSchema, mask: nil, ownedBy: "/ttn.lorawan.v3.EndDeviceRegistry/Update",
                          exempt: { $0.hasPrefix("ids.") && $0 != "ids.dev_addr" })
        try validateDevice(device)
        let key = try authenticate(call, state)
        let id = deviceKey(device)
        if tables.idBlocklist.contains(id.deviceID) { throw V3Failure.forbiddenID(id.deviceID) }
        try require(key, applicationOwner(id.applicationID), need("RIGHT_APPLICATION_DEVICES_WRITE"), state)
        if state.isDevices[id] != nil { throw V3Failure.idTaken }
        var body = deviceSchema.droppingZeros(device) ?? .object([:])
        try checkEUIs(body, id, .identityServer, namespace: "pkg/identityserver", state)
        let now = timestamp()
        body.set(path: "created_at", to: now)
        body.set(path: "updated_at", to: now)
        state.putDevice(.identityServer, id, body)
        return V3Reply(body: body)
    }

    func getDevice(_ call: V3Call, _ state: V3State) throws(V3Failure) -> V3Reply {
        let id = V3DeviceKey(applicationID: call.parameter("end_device_ids.application_ids.application_id"),
                             deviceID: call.parameter("end_device_ids.device_id"))
        let mask = queryFieldMask(call)
        try checkAllowed(mask, rpc: "/ttn.lorawan.v3.EndDeviceRegistry/Get")
        let key = try authenticate(call, state)
        try require(key, applicationOwner(id.applicationID), need("RIGHT_APPLICATION_DEVICES_READ"), state)
        guard let device = state.isDevices[id] else { throw V3Failure.endDeviceNotFound(applicationID: id.applicationID, deviceID: id.deviceID) }
        return V3Reply(body: select(device, paths: ["ids", "created_at", "updated_at"] + mask, schema: deviceSchema))
    }

    func listDevices(_ call: V3Call, _ state: V3State) throws(V3Failure) -> V3Reply {
        let applicationID = call.parameter("application_ids.application_id")
        let mask = queryFieldMask(call)
        try checkAllowed(mask, rpc: "/ttn.lorawan.v3.EndDeviceRegistry/List")
        let key = try authenticate(call, state)
        try require(key, applicationOwner(applicationID), need("RIGHT_APPLICATION_DEVICES_READ"), state)
        let devices = state.isDevices(of: applicationID)
        let (items, headers) = try page(devices, call)
        let listed = items.map { select($0.value, paths: ["ids", "created_at", "updated_at"] + mask, schema: deviceSchema) }
        return V3Reply(body: listed.isEmpty ? .object([:]) : .object(["end_devices": .array(listed)]), headers: headers)
    }

    func updateDevice(_ call: V3Call, _ state: inout V3State) throws(V3Failure) -> V3Reply {
        let id = V3DeviceKey(applicationID: call.parameter("end_device.ids.application_ids.application_id"),
                             deviceID: call.parameter("end_device.ids.device_id"))
        var device = try requestDevice(call)
        device.set(path: "ids.application_ids.application_id", to: .string(id.applicationID))
        device.set(path: "ids.device_id", to: .string(id.deviceID))
        let mask = try bodyFieldMask(call) ?? []
        let rpc = "/ttn.lorawan.v3.EndDeviceRegistry/Update"
        try checkAllowed(mask, rpc: rpc)
        try checkZeroRules(mask, rpc: rpc, message: device, schema: deviceSchema)
        try checkCoverage(device, schema: deviceSchema, mask: mask, ownedBy: rpc, exempt: { $0.hasPrefix("ids.") })
        try validateDevice(device)
        let key = try authenticate(call, state)
        try require(key, applicationOwner(id.applicationID), need("RIGHT_APPLICATION_DEVICES_WRITE"), state)
        guard let stored = state.isDevices[id] else { throw V3Failure.endDeviceNotFound(applicationID: id.applicationID, deviceID: id.deviceID) }
        let effective = mask.filter { !["ids", "created_at", "updated_at"].contains($0) }
        var body = apply(mask: effective, from: device, to: stored, schema: deviceSchema)
        body.set(path: "updated_at", to: timestamp())
        state.putDevice(.identityServer, id, body)
        return V3Reply(body: select(body, paths: ["ids", "created_at", "updated_at"] + effective, schema: deviceSchema))
    }

    func deleteDevice(_ call: V3Call, _ state: inout V3State) throws(V3Failure) -> V3Reply {
        let id = V3DeviceKey(applicationID: call.parameter("application_ids.application_id"), deviceID: call.parameter("device_id"))
        let key = try authenticate(call, state)
        try require(key, applicationOwner(id.applicationID), need("RIGHT_APPLICATION_DEVICES_WRITE"), state)
        guard state.isDevices[id] != nil else { throw V3Failure.endDeviceNotFound(applicationID: id.applicationID, deviceID: id.deviceID) }
        state.putDevice(.identityServer, id, nil)
        return V3Reply.empty
    }

    // MARK: Join, Network and Application Server registries

    /// Paths whose reading needs `RIGHT_APPLICATION_DEVICES_READ_KEYS` / writing `…_WRITE_KEYS` per component.
    private func keyPaths(_ component: V3Component) -> [String] {
        switch component {
        case .joinServer:
            return ["root_keys.app_key.key", "root_keys.nwk_key.key", "root_keys.root_key_id"]
        case .networkServer:
            return ["session.keys.f_nwk_s_int_key.key", "session.keys.s_nwk_s_int_key.key", "session.keys.nwk_s_enc_key.key",
                    "session.keys.session_key_id", "pending_session.keys.f_nwk_s_int_key.key",
                    "pending_session.keys.s_nwk_s_int_key.key", "pending_session.keys.nwk_s_enc_key.key",
                    "pending_session.keys.session_key_id"]
        case .applicationServer:
            return ["session.keys.app_s_key.key", "session.keys.session_key_id", "pending_session.keys.app_s_key.key",
                    "pending_session.keys.session_key_id"]
        case .identityServer, .otherCluster:
            return []
        }
    }

    /// `ttnpb.HasAnyField(mask, paths…)`: a path or one of its ancestors is in the mask.
    private func touches(_ mask: [String], _ paths: [String]) -> Bool {
        paths.contains { V3Engine.maskSets(mask, $0) }
    }

    func getClusterDevice(_ call: V3Call, _ component: V3Component, _ state: V3State) throws(V3Failure) -> V3Reply {
        let id = V3DeviceKey(applicationID: call.parameter("end_device_ids.application_ids.application_id"),
                             deviceID: call.parameter("end_device_ids.device_id"))
        let mask = queryFieldMask(call)
        try checkAllowed(mask, rpc: rpc(component, "Get"))
        let key = try authenticate(call, state)
        var needed = need("RIGHT_APPLICATION_DEVICES_READ")
        if touches(mask, keyPaths(component)) { needed = needed.union(need("RIGHT_APPLICATION_DEVICES_READ_KEYS")) }
        try require(key, applicationOwner(id.applicationID), needed, state)
        guard let device = state.registry(component)[id] else { throw V3Failure.deviceNotFound(component) }
        return V3Reply(body: select(device, paths: ["ids"] + mask, schema: deviceSchema))
    }

    func deleteClusterDevice(_ call: V3Call, _ component: V3Component, _ state: inout V3State) throws(V3Failure) -> V3Reply {
        let id = V3DeviceKey(applicationID: call.parameter("application_ids.application_id"), deviceID: call.parameter("device_id"))
        let key = try authenticate(call, state)
        try require(key, applicationOwner(id.applicationID), need("RIGHT_APPLICATION_DEVICES_WRITE"), state)
        if state.registry(component)[id] == nil {
            // The AS deletes idempotently; the JS and NS answer device_not_found (grpc_deviceregistry.go).
            if component == .applicationServer { return V3Reply.empty }
            throw V3Failure.deviceNotFound(component)
        }
        state.putDevice(component, id, nil)
        return V3Reply.empty
    }

    /// The common front of a JS/NS/AS Set: the body read and bound to the URL, the mask checked against the
    /// tables (allowed paths, zero rules) and the body's fields against the mask.
    private func setPrelude(_ call: V3Call, _ component: V3Component) throws(V3Failure) -> (device: V3JSON, mask: [String], key: V3DeviceKey) {
        var device = try requestDevice(call)
        device.set(path: "ids.application_ids.application_id", to: .string(call.parameter("end_device.ids.application_ids.application_id")))
        if let deviceID = call.parameters["end_device.ids.device_id"] {
            device.set(path: "ids.device_id", to: .string(deviceID))
        }
        let mask = try bodyFieldMask(call) ?? []
        let setRPC = rpc(component, "Set")
        try checkAllowed(mask, rpc: setRPC)
        try checkZeroRules(mask, rpc: setRPC, message: device, schema: deviceSchema)
        try checkCoverage(device, schema: deviceSchema, mask: mask, ownedBy: setRPC, exempt: { $0.hasPrefix("ids.") })
        try validateDevice(device)
        return (device, mask.map(deviceSchema.storagePath), deviceKey(device))
    }

    /// The identifier paths a create stores whatever the mask says (registries `SetByID` on create).
    private func creationIDPaths(_ device: V3JSON) -> [String] {
        var paths = ["ids.application_ids.application_id", "ids.device_id"]
        if device[path: "ids.join_eui"] != nil { paths.append("ids.join_eui") }
        if let dev = device[path: "ids.dev_eui"]?.stringValue, !V3Hex.isZero(dev) { paths.append("ids.dev_eui") }
        return paths
    }

    private func stamped(_ device: V3JSON, created: Bool) -> V3JSON {
        var result = device
        let now = timestamp()
        if created { result.set(path: "created_at", to: now) }
        result.set(path: "updated_at", to: now)
        return result
    }

    /// JS Set (pkg/joinserver/grpc_deviceregistry.go): JoinEUI present, DevEUI non-zero, AppKey non-zero when in
    /// the mask, root keys only with `…_WRITE_KEYS`, no DevAddr on create.
    func setJoinServerDevice(_ call: V3Call, _ state: inout V3State) throws(V3Failure) -> V3Reply {
        let (device, mask, id) = try setPrelude(call, .joinServer)
        guard device[path: "ids.join_eui"] != nil else { throw V3Failure.noJoinEUI }
        guard !V3Hex.isZero(device[path: "ids.dev_eui"]?.stringValue) else { throw V3Failure.noDevEUI }
        if touches(mask, ["root_keys.app_key.key"]), V3Hex.isZero(device[path: "root_keys.app_key.key"]?.stringValue) {
            throw V3Failure.fieldValue(.joinServer, field: "root_keys.app_key.key")
        }
        let key = try authenticate(call, state)
        var needed = need("RIGHT_APPLICATION_DEVICES_WRITE")
        if touches(mask, keyPaths(.joinServer)) { needed = needed.union(need("RIGHT_APPLICATION_DEVICES_WRITE_KEYS")) }
        try require(key, applicationOwner(id.applicationID), needed, state)
        let stored = state.jsDevices[id]
        var effective = mask
        if stored != nil {
            if touches(mask, ["ids.dev_addr"]) { throw V3Failure.invalidFieldMask(.joinServer) }
        } else {
            if !V3Hex.isZero(device[path: "ids.dev_addr"]?.stringValue) { throw V3Failure.fieldValue(.joinServer, field: "ids.dev_addr") }
            effective += creationIDPaths(device)
        }
        let updated = stamped(apply(mask: effective, from: device, to: stored ?? .object([:]), schema: deviceSchema), created: stored == nil)
        try checkEUIs(updated, id, .joinServer, namespace: "pkg/internal/registry", state)
        state.putDevice(.joinServer, id, updated)
        return V3Reply(body: select(updated, paths: ["ids"] + mask, schema: deviceSchema))
    }

    /// NS Set (pkg/networkserver/grpc_deviceregistry.go): known frequency plan, valid MAC/PHY versions, the
    /// OTAA/ABP implications of `supports_join`, no `session_key_id` on ABP, `supports_join`/`multicast`
    /// immutable, FNwkSIntKey copied to SNwkSIntKey and NwkSEncKey below LoRaWAN 1.1.
    func setNetworkServerDevice(_ call: V3Call, _ state: inout V3State) throws(V3Failure) -> V3Reply {
        let (device, mask, id) = try setPrelude(call, .networkServer)
        let key = try authenticate(call, state)
        var needed = need("RIGHT_APPLICATION_DEVICES_WRITE")
        if touches(mask, keyPaths(.networkServer)) { needed = needed.union(need("RIGHT_APPLICATION_DEVICES_WRITE_KEYS")) }
        try require(key, applicationOwner(id.applicationID), needed, state)
        let stored = state.nsDevices[id]

        func sets(_ path: String) -> Bool { V3Engine.maskSets(mask, path) }
        var effectiveMask = mask
        if stored == nil { effectiveMask += creationIDPaths(device) }
        /// The device as this Set would leave it: the request's values where the mask sets them, else the stored ones.
        let effective = apply(mask: effectiveMask, from: device, to: stored ?? .object([:]), schema: deviceSchema)
        func value(_ path: String) -> V3JSON? { effective[path: path] }
        func isZero(_ path: String) -> Bool {
            guard let value = value(path) else { return true }
            if case .string(let text) = value, V3Engine.isBytesPath(path) { return V3Hex.isZero(text) }
            return value.isZero
        }
        let ns = V3Component.networkServer

        if sets("frequency_plan_id"), (device[path: "frequency_plan_id"]?.stringValue ?? "").isEmpty {
            throw V3Failure.fieldValue(ns, field: "frequency_plan_id")
        }
        for (path, unknown) in [("lorawan_phy_version", "PHY_UNKNOWN"), ("lorawan_version", "MAC_UNKNOWN")] where sets(path) {
            let version = device[path: path]?.stringValue ?? unknown
            if version == unknown { throw V3Failure.fieldValue(ns, field: path, cause: V3Failure.fieldIsZero(path)) }
        }
        // Simulator strictness: a new NS device needs its plan and versions (the real NS would store a device it
        // cannot serve).
        if stored == nil {
            for path in ["frequency_plan_id", "lorawan_version", "lorawan_phy_version"] where !sets(path) {
                throw V3Failure.fieldValue(ns, field: path, cause: V3Failure.fieldIsZero(path))
            }
        }

        let supportsJoin = value("supports_join")?.boolValue ?? false
        if sets("supports_join") {
            if supportsJoin {
                // !FieldIsZero(supports_join) → ids.dev_eui, ids.join_eui not zero.
                for path in ["ids.dev_eui", "ids.join_eui"] where V3Hex.isZero(device[path: path]?.stringValue) {
                    throw V3Failure.fieldValue(ns, field: path, cause: V3Failure.fieldIsZero(path))
                }
            } else {
                // FieldIsZero(supports_join) → session_key_id zero; DevAddr and FNwkSIntKey not zero (ABP).
                if !isZero("session.keys.session_key_id") {
                    throw V3Failure.fieldValue(ns, field: "session.keys.session_key_id", cause: V3Failure.fieldNotZero("session.keys.session_key_id"))
                }
                for path in ["session.dev_addr", "session.keys.f_nwk_s_int_key.key"] where isZero(path) {
                    throw V3Failure.fieldValue(ns, field: path, cause: V3Failure.fieldIsZero(path))
                }
            }
        } else if sets("session.keys.session_key_id"), !isZero("session.keys.session_key_id"), !supportsJoin {
            throw V3Failure.fieldValue(ns, field: "supports_join", cause: V3Failure.fieldIsZero("supports_join"))
        }

        // FrequencyPlanAndBand (pkg/networkserver/internal/utils.go): the plan must exist and its band must have
        // the PHY version; then the PHY-dependent fields are checked against the band.
        var band: V3SimBand?
        var planChannels: V3SimPlanChannels?
        let phyDependent = mask.contains { $0.hasPrefix("mac_settings.") || $0.hasPrefix("mac_state") || $0 == "frequency_plan_id" || $0 == "lorawan_phy_version" }
        if phyDependent || (sets("session") && stored == nil) {
            let planID = value("frequency_plan_id")?.stringValue ?? ""
            guard let plan = tables.frequencyPlans[planID] else { throw V3Failure.frequencyPlanNotFound(planID) }
            let phyValue = value("lorawan_phy_version") ?? .string("PHY_UNKNOWN")
            let phyNumber = V3EnumType.phyVersion.number(of: phyValue) ?? 0
            guard let planBand = tables.bands[plan.bandID], planBand.phyVersions.contains(phyNumber) else {
                throw V3NetworkServerMAC.noBandVersion(version: phyValue.stringValue ?? "\(phyNumber)", bandID: plan.bandID)
            }
            try V3NetworkServerMAC.validate(effective, mask: mask, band: planBand)
            band = planBand
            planChannels = tables.planChannels[planID]
        }

        let macVersion = value("lorawan_version")?.stringValue ?? "MAC_UNKNOWN"
        let usesNwkKey = macVersion == "MAC_V1_1"
        let touchesSession = mask.contains { $0 == "session" || $0.hasPrefix("session.") || $0 == "lorawan_version" || $0 == "supports_join" || $0 == "multicast" }
        if touchesSession, let session = value("session"), !session.isZero {
            for path in ["session.dev_addr", "session.keys.f_nwk_s_int_key.key"] where isZero(path) {
                throw V3Failure.fieldValue(ns, field: path)
            }
            if usesNwkKey {
                for path in ["session.keys.nwk_s_enc_key.key", "session.keys.s_nwk_s_int_key.key"] where isZero(path) {
                    throw V3Failure.fieldValue(ns, field: path)
                }
            } else {
                for path in ["session.keys.nwk_s_enc_key.key", "session.keys.s_nwk_s_int_key.key"]
                where sets(path) && device[path: path] != nil && device[path: path] != device[path: "session.keys.f_nwk_s_int_key.key"] {
                    throw V3Failure.fieldValue(ns, field: path)
                }
            }
            // OTAA with a session: the session key ID must be set by this request or come with a stored session
            // (the NS checks the path is present, not that it is non-zero).
            if supportsJoin, !sets("session.keys.session_key_id"), stored?[path: "session"] == nil {
                throw V3Failure.fieldValue(ns, field: "session.keys.session_key_id")
            }
        }

        if let stored {
            for path in ["supports_join", "multicast"] where sets(path) {
                if (device[path: path]?.boolValue ?? false) != (stored[path: path]?.boolValue ?? false) {
                    throw V3Failure.fieldValue(ns, field: path)
                }
            }
        }

        var updated = effective
        if sets("session.keys.f_nwk_s_int_key.key"), !usesNwkKey, let fNwkSIntKey = updated[path: "session.keys.f_nwk_s_int_key.key"] {
            updated.set(path: "session.keys.s_nwk_s_int_key.key", to: fNwkSIntKey)
            updated.set(path: "session.keys.nwk_s_enc_key.key", to: fNwkSIntKey)
        }
        if sets("session.dev_addr") { updated.set(path: "ids.dev_addr", to: updated[path: "session.dev_addr"]) }
        // A session without a stored or given MAC state gets NewState's: current parameters from the band's
        // defaults (pkg/networkserver/grpc_deviceregistry.go Set, mac.NewState).
        if updated[path: "session"] != nil, updated[path: "mac_state"] == nil, !mask.contains(where: { $0.hasPrefix("mac_state") }),
           let band, let planChannels, let state = V3NetworkServerMAC.newState(updated, band: band, plan: planChannels) {
            updated.set(path: "mac_state", to: state)
        }
        if updated[path: "session"] != nil, updated[path: "session.started_at"] == nil {
            updated.set(path: "session.started_at", to: timestamp())
        }
        updated = stamped(updated, created: stored == nil)
        try checkEUIs(updated, id, .networkServer, namespace: "pkg/internal/registry", state)
        state.putDevice(.networkServer, id, updated)
        return V3Reply(body: select(updated, paths: ["ids"] + mask, schema: deviceSchema))
    }

    static func isBytesPath(_ path: String) -> Bool {
        path.hasSuffix("dev_addr") || path.hasSuffix("_eui") || path.hasSuffix(".key")
    }

    /// AS Set (pkg/applicationserver/grpc_deviceregistry.go): DevAddr and AppSKey non-zero when in the mask,
    /// key paths only with `…_WRITE_KEYS`, no DevAddr in the identifiers on create.
    func setApplicationServerDevice(_ call: V3Call, _ state: inout V3State) throws(V3Failure) -> V3Reply {
        let (device, mask, id) = try setPrelude(call, .applicationServer)
        let appServer = V3Component.applicationServer
        for path in ["session.dev_addr", "session.keys.app_s_key.key"]
        where touches(mask, [path]) && V3Hex.isZero(device[path: path]?.stringValue) {
            throw V3Failure.fieldValue(appServer, field: path)
        }
        let key = try authenticate(call, state)
        var needed = need("RIGHT_APPLICATION_DEVICES_WRITE")
        if touches(mask, keyPaths(.applicationServer)) { needed = needed.union(need("RIGHT_APPLICATION_DEVICES_WRITE_KEYS")) }
        try require(key, applicationOwner(id.applicationID), needed, state)
        let stored = state.asDevices[id]
        var effective = mask
        if stored != nil {
            if mask.contains("ids.dev_addr") { throw V3Failure.invalidFieldMask(appServer) }
        } else {
            if !V3Hex.isZero(device[path: "ids.dev_addr"]?.stringValue) { throw V3Failure.fieldValue(appServer, field: "ids.dev_addr") }
            effective += ["ids.application_ids.application_id", "ids.device_id"]
            for path in ["ids.join_eui", "ids.dev_eui"] where !V3Hex.isZero(device[path: path]?.stringValue) { effective.append(path) }
        }
        var updated = apply(mask: effective, from: device, to: stored ?? .object([:]), schema: deviceSchema)
        if touches(mask, ["session.dev_addr"]) { updated.set(path: "ids.dev_addr", to: updated[path: "session.dev_addr"]) }
        updated = stamped(updated, created: stored == nil)
        try checkEUIs(updated, id, .applicationServer, namespace: "pkg/internal/registry", state)
        state.putDevice(.applicationServer, id, updated)
        return V3Reply(body: select(updated, paths: ["ids"] + mask, schema: deviceSchema))
    }

    // MARK: Application link (As/GetLink, SetLink, DeleteLink; §16)

    private var linkNotFound: V3Failure {
        V3Failure(code: 5, namespace: "pkg/applicationserver", name: "link_not_found", format: "link not found")
    }

    func getLink(_ call: V3Call, _ state: V3State) throws(V3Failure) -> V3Reply {
        let applicationID = call.parameter("application_ids.application_id")
        let mask = queryFieldMask(call)
        try checkAllowed(mask, rpc: "/ttn.lorawan.v3.As/GetLink")
        let key = try authenticate(call, state)
        try require(key, applicationOwner(applicationID), need("RIGHT_APPLICATION_LINK"), state)
        guard let link = state.links[applicationID] else { throw linkNotFound }
        return V3Reply(body: select(link, paths: mask, schema: schemas.link))
    }

    func setLink(_ call: V3Call, _ state: inout V3State) throws(V3Failure) -> V3Reply {
        let applicationID = call.parameter("application_ids.application_id")
        let link = try schemas.link.normalize(call.body["link"] ?? .object([:]))
        let mask = try bodyFieldMask(call) ?? []
        let rpc = "/ttn.lorawan.v3.As/SetLink"
        try checkAllowed(mask, rpc: rpc)
        try checkCoverage(link, schema: schemas.link, mask: mask, ownedBy: rpc, exempt: { _ in false })
        for field in ["up_formatter_parameter", "down_formatter_parameter"] {
            // messages.proto MessagePayloadFormatters: max_len = 40960 (characters).
            try V3Validate.maxRunes(link[path: "default_formatters.\(field)"], 40960, path: ["link", "default_formatters", field])
        }
        try V3Validate.hostAddress(link[path: "network_server_address"], path: ["link", "network_server_address"])
        let key = try authenticate(call, state)
        try require(key, applicationOwner(applicationID), need("RIGHT_APPLICATION_LINK"), state)
        let updated = apply(mask: mask, from: link, to: state.links[applicationID] ?? .object([:]), schema: schemas.link)
        state.links[applicationID] = updated
        return V3Reply(body: select(updated, paths: mask, schema: schemas.link))
    }

    func deleteLink(_ call: V3Call, _ state: inout V3State) throws(V3Failure) -> V3Reply {
        let applicationID = call.parameter("application_id")
        let key = try authenticate(call, state)
        try require(key, applicationOwner(applicationID), need("RIGHT_APPLICATION_LINK"), state)
        state.links[applicationID] = nil
        return V3Reply.empty
    }
}
