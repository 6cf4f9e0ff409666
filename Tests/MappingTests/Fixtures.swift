import Foundation
import Mapping
import V2Model
import V3Model

// Hand-chosen test values. Keys are test material, not secrets.
let appKeyHex = "0123456789ABCDEF0123456789ABCDEF"
let nwkSKeyHex = "11111111111111111111111111111111"
let appSKeyHex = "22222222222222222222222222222222"
let devEUIHex = "0004A30B001C0530"
let appEUIHex = "70B3D57ED0000001"
let devAddrHex = "26011F2A"

func v2EUI(_ hex: String) -> V2EUI { try! V2EUI(hex: hex) }
func v2Key(_ hex: String) -> V2AESKey { try! V2AESKey(hex: hex) }
func v2DevAddr(_ hex: String) -> V2DevAddr { try! V2DevAddr(hex: hex) }
func v3EUI(_ hex: String) -> V3EUI { try! V3EUI(hex: hex) }
func v3Key(_ hex: String) -> V3AESKey { try! V3AESKey(hex: hex) }
func v3DevAddr(_ hex: String) -> V3DevAddr { try! V3DevAddr(hex: hex) }

/// Options with a user owner and nothing else unless given.
func options(
    owner: MappingOptions.Owner = .user("alice"), deviceFrequencyPlan: String? = "EU_863_870_TTN",
    withSession: Bool = false
) -> MappingOptions {
    MappingOptions(owner: owner, deviceFrequencyPlan: deviceFrequencyPlan, withSession: withSession, runTag: "run1")
}

/// A v2 OTAA device of application `my_app` with a full session and counters.
func otaaDevice(id: String = "dev-1", withSessionParts: Bool = true) -> V2Device {
    var lorawan = V2LoRaWANDevice(
        appEui: v2EUI(appEUIHex), devEui: v2EUI(devEUIHex), appKey: v2Key(appKeyHex), fCntUp: 10, fCntDown: 3,
        disableFCntCheck: false, uses32BitFCnt: true)
    if withSessionParts {
        lorawan.devAddr = v2DevAddr(devAddrHex)
        lorawan.nwkSKey = v2Key(nwkSKeyHex)
        lorawan.appSKey = v2Key(appSKeyHex)
    }
    return V2Device(
        appId: "my_app", devId: id, description: "Kitchen", latitude: 52.375, longitude: 4.887, altitude: 3,
        attributes: ["room": "kitchen"], lorawanDevice: lorawan)
}

/// A v2 ABP device of application `my_app`: no AppKey, a session, 16-bit counters, counters absent.
func abpDevice(id: String = "dev-2") -> V2Device {
    V2Device(
        appId: "my_app", devId: id,
        lorawanDevice: V2LoRaWANDevice(
            appEui: v2EUI(appEUIHex), devEui: v2EUI("0004A30B001C0531"), devAddr: v2DevAddr("26011F2B"),
            nwkSKey: v2Key(nwkSKeyHex), appSKey: v2Key(appSKeyHex), disableFCntCheck: true))
}

func deviceContext(
    deviceID: AssignedID = AssignedID(id: "dev-1", reasons: []), withSession: Bool = false
) -> DeviceMapping.Context {
    DeviceMapping.Context(
        v2ApplicationID: "my_app", v3ApplicationID: "my-app", deviceID: deviceID, frequencyPlanID: "EU_863_870_TTN",
        withSession: withSession, joinServerAddress: "js.example.com", networkServerAddress: "ns.example.com",
        applicationServerAddress: "as.example.com")
}
