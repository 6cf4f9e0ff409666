import Foundation
import V2Model
import V3Model

/// How a device joins v3.
public enum DeviceActivation: String, Codable, Hashable, Sendable, CaseIterable {
    /// OTAA (AppKey set), joining afresh in v3.
    case otaa
    /// OTAA with its active v2 session and frame counters carried (`devices.with_session`).
    case otaaWithSession = "otaa-with-session"
    /// ABP: DevAddr, NwkSKey and AppSKey; the session is always carried.
    case abp

    /// Whether a session goes to the NS and AS.
    public var carriesSession: Bool { self != .otaa }
}

/// One device split over the four registries (`reference/v3-api.md` §6).
public struct MappedDevice: Hashable, Sendable {
    public var v2ApplicationID: String
    public var v2DeviceID: String
    public var activation: DeviceActivation
    public var identityServer: V3ISEndDevice
    /// Nil for ABP devices: they never go to the JS.
    public var joinServer: V3JSEndDevice?
    public var networkServer: V3NSEndDevice
    public var applicationServer: V3ASEndDevice

    /// `app/dev` with v3 IDs.
    public var v3Path: String { "\(identityServer.ids.applicationIDs.applicationID)/\(identityServer.ids.deviceID)" }
}

/// What the mapping decided for one device.
public enum DeviceMappingOutcome: Hashable, Sendable {
    case mapped(MappedDevice)
    /// Left out: the reason, and the warning code that explains it.
    case skipped(reason: String, code: WarningCode)
}

/// v2 device → IS, JS, NS and AS parts (DESIGN.md §4 "Devices", `reference/v2-and-peers.md` §B, §C).
public enum DeviceMapping {
    /// The context a device is mapped in.
    public struct Context: Hashable, Sendable {
        public var v2ApplicationID: String
        public var v3ApplicationID: String
        public var deviceID: AssignedID
        public var frequencyPlanID: String
        public var withSession: Bool
        public var joinServerAddress: String?
        public var networkServerAddress: String?
        public var applicationServerAddress: String?
        /// The plan's PHY version and MAC parameters, shared by every device of the application (computed
        /// once by the caller; derived from `frequencyPlanID` when nil).
        public var radio: DeviceRadioProfile?

        public init(
            v2ApplicationID: String, v3ApplicationID: String, deviceID: AssignedID, frequencyPlanID: String, withSession: Bool,
            joinServerAddress: String? = nil, networkServerAddress: String? = nil, applicationServerAddress: String? = nil,
            radio: DeviceRadioProfile? = nil
        ) {
            self.radio = radio
            self.v2ApplicationID = v2ApplicationID
            self.v3ApplicationID = v3ApplicationID
            self.deviceID = deviceID
            self.frequencyPlanID = frequencyPlanID
            self.withSession = withSession
            self.joinServerAddress = joinServerAddress
            self.networkServerAddress = networkServerAddress
            self.applicationServerAddress = applicationServerAddress
        }
    }

    /// Maps one device; warnings (kept or skipped) go to `warnings`.
    ///
    /// - OTAA ⇔ a non-zero AppKey; it needs a JoinEUI (v2 `app_eui`). Its session is carried only with
    ///   `withSession` and DevAddr + NwkSKey + AppSKey all set (a partial one: warning, not carried).
    /// - ABP ⇔ no AppKey and DevAddr + NwkSKey + AppSKey; the session is always carried. A device with
    ///   some of the three is skipped (`device-abp-missing-key`); with none (`device-no-keys`).
    /// - The DevEUI must be set and non-zero.
    public static func map(_ device: V2Device, context: Context, warnings: inout [MappingWarning]) -> DeviceMappingOutcome {
        let v2Path = "\(context.v2ApplicationID)/\(device.devId)"
        let entity = EntityRef(kind: .device, v2ID: v2Path, v3ID: "\(context.v3ApplicationID)/\(context.deviceID.id)")
        let lorawan = device.lorawanDevice ?? V2LoRaWANDevice()

        func skip(_ code: WarningCode, _ reason: String, _ advice: String) -> DeviceMappingOutcome {
            warnings.append(MappingWarning(code, entity, "device \"\(v2Path)\" \(reason); it is not migrated. \(advice)"))
            return .skipped(reason: reason, code: code)
        }

        guard let v2DevEUI = lorawan.devEui else {
            return skip(.deviceInvalidDevEUI, "has no DevEUI", "Give it a DevEUI in v2, or register it in v3 by hand")
        }
        guard !v2DevEUI.isZero else {
            return skip(.deviceInvalidDevEUI, "has a zero DevEUI", "Give it its real DevEUI in v2, or register it in v3 by hand")
        }
        let devEUI = V3EUI(validatedHex: v2DevEUI.hex)
        let joinEUI = lorawan.appEui.map { V3EUI(validatedHex: $0.hex) }

        let isOTAA = lorawan.isOTAA
        let devAddr = lorawan.devAddr
        let nwkSKey = lorawan.nwkSKey.flatMap { $0.isZero ? nil : $0 }
        let appSKey = lorawan.appSKey.flatMap { $0.isZero ? nil : $0 }
        let sessionParts = [devAddr != nil, nwkSKey != nil, appSKey != nil]
        let hasFullSession = !sessionParts.contains(false)
        let hasSomeSession = sessionParts.contains(true)

        let activation: DeviceActivation
        if isOTAA {
            guard joinEUI != nil else {
                return skip(.deviceNoJoinEUI, "is OTAA but has no JoinEUI (v2 AppEUI)", "Set its AppEUI in v2, or register it in v3 by hand")
            }
            if context.withSession && hasFullSession {
                activation = .otaaWithSession
            } else {
                activation = .otaa
                if context.withSession && hasSomeSession {
                    warnings.append(MappingWarning(
                        .deviceSessionIncomplete, entity,
                        "device \"\(v2Path)\" has an incomplete session in v2 (missing \(missingSessionParts(sessionParts))); it is migrated without one and must join again"))
                }
            }
        } else if hasFullSession {
            activation = .abp
        } else if hasSomeSession {
            return skip(
                .deviceABPMissingKey, "is ABP but lacks \(missingSessionParts(sessionParts))",
                "Set the missing value in v2, or register it in v3 by hand")
        } else {
            return skip(
                .deviceNoKeys, "has neither an AppKey nor a session (DevAddr, NwkSKey, AppSKey)",
                "Give it an AppKey (OTAA) or a session (ABP) in v2, or register it in v3 by hand")
        }

        let ids = V3EndDeviceIdentifiers(
            deviceID: context.deviceID.id, applicationID: context.v3ApplicationID, devEUI: devEUI, joinEUI: joinEUI)

        // IS: name = v2 device ID (as ttn-lw-migrate does), description, attributes, location, addresses.
        let texts = TextMapping.nameAndDescription(name: device.devId, description: device.description, entity: entity, warnings: &warnings)
        let reserved: [(key: String, value: String)] = context.deviceID.changed ? [(key: "v2-id", value: device.devId)] : []
        let attributes = TextMapping.attributes(reserved: reserved, v2: device.attributes, entity: entity, warnings: &warnings)
        var locations: [String: V3Location]?
        if let latitude = device.latitude, let longitude = device.longitude, latitude != 0 || longitude != 0 {
            locations = ["user": V3Location(latitude: latitude, longitude: longitude, altitude: device.altitude, source: .registry)]
        }
        let identityServer = V3ISEndDevice(
            ids: ids, name: texts.name, description: texts.description, attributes: attributes, locations: locations,
            joinServerAddress: isOTAA ? context.joinServerAddress : nil,
            networkServerAddress: context.networkServerAddress,
            applicationServerAddress: context.applicationServerAddress)

        // JS: OTAA only.
        var joinServer: V3JSEndDevice?
        if isOTAA, let appKey = lorawan.appKey {
            joinServer = V3JSEndDevice(
                ids: ids, networkServerAddress: context.networkServerAddress,
                applicationServerAddress: context.applicationServerAddress,
                rootKeys: V3RootKeys(appKey: V3KeyEnvelope(key: V3AESKey(validatedHex: appKey.hex))))
        }

        // NS: plan, MAC 1.0.2 / PHY 1.0.2 rev B (or the band's closest), activation, MAC settings, session
        // (FNwkSIntKey = NwkSKey) and, for OTAA sessions, the MAC state.
        let carriesSession = activation.carriesSession
        var nsSession: V3NSSession?
        var asSession: V3ASSession?
        if carriesSession, let devAddr, let nwkSKey, let appSKey {
            let address = V3DevAddr(validatedHex: devAddr.hex)
            let sessionKeyID = isOTAA ? Self.sessionKeyID(devEUI: lorawan.devEui?.hex ?? "", devAddr: devAddr.hex, v2ID: device.devId) : nil
            nsSession = V3NSSession(
                devAddr: address,
                keys: V3NSSessionKeys(fNwkSIntKey: V3KeyEnvelope(key: V3AESKey(validatedHex: nwkSKey.hex)), sessionKeyID: sessionKeyID),
                lastFCntUp: lorawan.fCntUp ?? 0, lastNFCntDown: lorawan.fCntDown ?? 0)
            asSession = V3ASSession(
                devAddr: address,
                keys: V3ASSession.Keys(appSKey: V3KeyEnvelope(key: V3AESKey(validatedHex: appSKey.hex)), sessionKeyID: sessionKeyID),
                lastAFCntDown: lorawan.fCntDown ?? 0)
        }
        let radio = context.radio ?? BandRules.profile(planID: context.frequencyPlanID)
        let networkServer = V3NSEndDevice(
            ids: ids, frequencyPlanID: context.frequencyPlanID, lorawanVersion: .v1_0_2, lorawanPHYVersion: radio.phyVersion,
            supportsJoin: isOTAA,
            macSettings: macSettings(lorawan, activation: activation, radio: radio),
            session: nsSession,
            macState: activation == .otaaWithSession ? radio.parameters.map {
                V3MACState(currentParameters: $0, desiredParameters: $0, deviceClass: "CLASS_A", lorawanVersion: .v1_0_2)
            } : nil)

        // AS: EUIs, and the AppSKey session where the NS got one.
        let applicationServer = V3ASEndDevice(ids: ids, session: asSession, skipPayloadCrypto: asSession == nil ? nil : false)

        return .mapped(MappedDevice(
            v2ApplicationID: context.v2ApplicationID, v2DeviceID: device.devId, activation: activation,
            identityServer: identityServer, joinServer: joinServer, networkServer: networkServer,
            applicationServer: applicationServer))
    }

    /// The NS MAC settings of a device (`reference/v2-and-peers.md` §C, issue 11):
    /// - frame-counter settings from v2, set explicitly;
    /// - DevStatusReq off (`status_time_periodicity` 0 s, `status_count_periodicity` 0), as the peer does: v2
    ///   never sent DevStatusReq, and v3's default (every 200 uplinks or 24 h) would add downlinks, airtime
    ///   and duty cycle to every migrated device (README "Devices");
    /// - ABP only: RX1 delay 1 s, the plan's RX2 and uplink channels as factory presets, which the device was
    ///   configured with and keeps after a reset. An OTAA session carries these in its MAC state instead, so a
    ///   later join uses v3's defaults (DESIGN.md §4).
    static func macSettings(_ lorawan: V2LoRaWANDevice, activation: DeviceActivation, radio: DeviceRadioProfile) -> V3MACSettings {
        var settings = V3MACSettings(
            resetsFCnt: lorawan.disableFCntCheck ?? false, supports32BitFCnt: lorawan.uses32BitFCnt ?? false,
            statusTimePeriodicity: "0s", statusCountPeriodicity: 0)
        if activation == .abp {
            settings.rx1Delay = BandRules.v2RX1Delay
            if let parameters = radio.parameters {
                settings.rx2DataRateIndex = parameters.rx2DataRateIndex
                settings.rx2Frequency = parameters.rx2Frequency
                settings.factoryPresetFrequencies = parameters.enabledUplinkFrequencies
            }
        }
        return settings
    }

    /// A session key ID for a carried OTAA session: 16 bytes derived from the device's DevEUI, DevAddr and
    /// v2 ID (FNV-1a), base64. Derived, not random, so the plan is the same on every run and a resumed run
    /// sends the same ID; it only names the session, it protects nothing.
    public static func sessionKeyID(devEUI: String, devAddr: String, v2ID: String) -> String {
        func fnv1a(_ text: String, seed: UInt64) -> UInt64 {
            var hash = seed
            for byte in text.utf8 {
                hash ^= UInt64(byte)
                hash &*= 0x100_0000_01b3
            }
            return hash
        }
        let input = "ttn-migrate/session/\(devEUI)/\(devAddr)/\(v2ID)"
        var bytes: [UInt8] = []
        for seed: UInt64 in [0xcbf2_9ce4_8422_2325, 0x8422_2325_cbf2_9ce4] {
            let value = fnv1a(input, seed: seed)
            bytes += (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
        }
        return Data(bytes).base64EncodedString()
    }

    private static func missingSessionParts(_ parts: [Bool]) -> String {
        zip(["DevAddr", "NwkSKey", "AppSKey"], parts).filter { !$0.1 }.map(\.0).joined(separator: ", ")
    }
}
