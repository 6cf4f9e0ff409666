import Foundation
import Simulator
import Testing

/// The simulated NS's band rules (issue 11): `no_band_version`, `NewState` from band defaults when a session
/// comes without a MAC state, and band checks of a given MAC state. Expected values are the LoRaWAN regional
/// parameters (EU868: three default channels, RX2 DR0 at 869.525 MHz) and the EU_863_870_TTN plan file.
@Suite("v3 simulator: Network Server band and MAC-state rules (issue 11)")
struct V3NetworkServerMACTests {
    private static let abpBody = """
        {"end_device": {"supports_join": false, "lorawan_version": "MAC_V1_0_2", "lorawan_phy_version": "%PHY%",
          "frequency_plan_id": "%PLAN%", "ids": {"device_id": "dev1", "dev_eui": "70B3D57ED005A1B3"},
          "session": {"keys": {"f_nwk_s_int_key": {"key": "0123456789ABCDEF0123456789ABCDEF"}}, "dev_addr": "260B1234"}%EXTRA%},
         "field_mask": {"paths": ["supports_join", "lorawan_version", "lorawan_phy_version", "frequency_plan_id", "ids.device_id",
                                  "ids.dev_eui", "session.keys.f_nwk_s_int_key.key", "session.dev_addr"%PATHS%]}}
        """

    private func putABP(_ v3: V3Harness, plan: String = "EU_863_870_TTN", phy: String = "PHY_V1_0_2_REV_B", extra: String = "", paths: [String] = []) -> V3Answer {
        let body = Self.abpBody.replacingOccurrences(of: "%PHY%", with: phy).replacingOccurrences(of: "%PLAN%", with: plan)
            .replacingOccurrences(of: "%EXTRA%", with: extra)
            .replacingOccurrences(of: "%PATHS%", with: paths.map { ", \"\($0)\"" }.joined())
        return v3.call("PUT", "/api/v3/ns/applications/app1/devices/dev1", body)
    }

    private func macState(_ v3: V3Harness) -> [String: Any] {
        let answer = v3.call("GET", "/api/v3/ns/applications/app1/devices/dev1", query: ["field_mask": "mac_state"])
        #expect(answer.status == 200, "\(answer.text)")
        return answer.value("mac_state") as? [String: Any] ?? [:]
    }

    private func enabledUplinks(_ parameters: Any?) -> [String] {
        ((parameters as? [String: Any])?["channels"] as? [[String: Any]] ?? [])
            .filter { $0["enable_uplink"] as? Bool == true }.compactMap { $0["uplink_frequency"] as? String }
    }

    @Test func aPHYVersionTheBandDoesNotHaveIsRefused() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        // RU_864_870 starts at RP001 1.0.3 rev A (pkg/band/all.go).
        expectV3Error(putABP(v3, plan: "RU_864_870_TTN"), status: 400, code: 3, namespace: "pkg/networkserver/internal", name: "no_band_version")
        #expect(putABP(v3, plan: "RU_864_870_TTN", phy: "RP001_V1_0_3_REV_A").status == 200)
        // AS923 group 2 exists only from RP002 1.0.1 on.
        expectV3Error(putABP(v3, plan: "AS_923_2", phy: "RP001_V1_0_3_REV_A"), status: 400, code: 3, namespace: "pkg/networkserver/internal", name: "no_band_version")
        #expect(putABP(v3, plan: "AS_923_2", phy: "RP002_V1_0_1").status == 200)
    }

    @Test func aSessionWithoutMACStateGetsTheBandDefaults() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        #expect(putABP(v3).status == 200)
        let state = macState(v3)
        // What the real NS does (mac.NewState): EU868's three default channels and RX2 SF12 (DR0) now …
        #expect(enabledUplinks(state["current_parameters"]) == ["868100000", "868300000", "868500000"])
        #expect((state["current_parameters"] as? [String: Any])?["rx2_data_rate_index"] as? Int == 0)
        #expect((state["current_parameters"] as? [String: Any])?["rx2_frequency"] as? String == "869525000")
        // … and the plan's eight channels with SF9 RX2 only once the device has accepted MAC commands.
        #expect(enabledUplinks(state["desired_parameters"]) == [
            "868100000", "868300000", "868500000", "867100000", "867300000", "867500000", "867700000", "867900000",
        ])
        #expect((state["desired_parameters"] as? [String: Any])?["rx2_data_rate_index"] as? Int == 3)
    }

    @Test func factoryPresetsAndRX2SettingsMakeTheCurrentParameters() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let answer = putABP(v3, extra: """
            , "mac_settings": {"rx2_data_rate_index": 3, "rx2_frequency": "869525000",
              "factory_preset_frequencies": ["868100000", "868300000", "868500000", "867100000", "867300000", "867500000", "867700000", "867900000"]}
            """, paths: ["mac_settings.rx2_data_rate_index", "mac_settings.rx2_frequency", "mac_settings.factory_preset_frequencies"])
        #expect(answer.status == 200, "\(answer.text)")
        let current = macState(v3)["current_parameters"]
        #expect(enabledUplinks(current) == [
            "868100000", "868300000", "868500000", "867100000", "867300000", "867500000", "867700000", "867900000",
        ])
        #expect((current as? [String: Any])?["rx2_data_rate_index"] as? Int == 3)
    }

    @Test func aGivenMACStateIsKeptAndCheckedAgainstTheBand() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        func channels(_ count: Int, maxDataRate: Int = 5) -> String {
            (0..<count).map { #"{"uplink_frequency": "\#(867_100_000 + 200_000 * $0)", "downlink_frequency": "\#(867_100_000 + 200_000 * $0)", "min_data_rate_index": 0, "max_data_rate_index": \#(maxDataRate), "enable_uplink": true}"# }
                .joined(separator: ", ")
        }
        func state(_ channelList: String, rx2: Int = 3) -> String {
            let parameters = #"{"max_eirp": 16, "adr_nb_trans": 1, "rx1_delay": 1, "rx2_data_rate_index": \#(rx2), "rx2_frequency": "869525000", "channels": [\#(channelList)]}"#
            return #", "mac_state": {"current_parameters": \#(parameters), "desired_parameters": \#(parameters), "device_class": "CLASS_A", "lorawan_version": "MAC_V1_0_2"}"#
        }
        let paths = ["mac_state.current_parameters", "mac_state.desired_parameters", "mac_state.device_class", "mac_state.lorawan_version"]
        // EU868 allows at most 16 channels and has no DR9.
        expectV3Error(putABP(v3, extra: state(channels(17)), paths: paths), status: 400, code: 3, namespace: "pkg/networkserver", name: "field_value")
        expectV3Error(putABP(v3, extra: state(channels(2, maxDataRate: 9)), paths: paths), status: 400, code: 3, namespace: "pkg/networkserver", name: "field_value")
        expectV3Error(putABP(v3, extra: state(channels(2), rx2: 9), paths: paths), status: 400, code: 3, namespace: "pkg/networkserver", name: "field_value")
        #expect(putABP(v3, extra: state(channels(5)), paths: paths).status == 200)
        let current = macState(v3)["current_parameters"]
        #expect(enabledUplinks(current) == ["867100000", "867300000", "867500000", "867700000", "867900000"])
        #expect((current as? [String: Any])?["rx1_delay"] as? Int == 1)
    }
}
