import Foundation
import Testing
@testable import TTNMigrateCLI

/// After `run`, what the simulated Network Server holds makes each device behave as on v2 (issue 11): the
/// eight TTN channels and RX2 SF9 for EU868, the band's PHY version elsewhere. Read back over HTTP through
/// libcurl, as an operator's tooling would.
@Suite("migrated devices on the network (issue 11)")
struct MigratedDeviceNetworkTests {
    private static let ttnEU868 = ["868100000", "868300000", "868500000", "867100000", "867300000", "867500000", "867700000", "867900000"]

    private func nsDevice(_ fixture: MigrationFixture, _ device: String, mask: String) async throws -> [String: Any] {
        let response = try await fixture.v3Request("GET", "/api/v3/ns/applications/sensors/devices/\(device)?field_mask=\(mask)")
        #expect(response.status == 200, "\(String(decoding: response.body, as: UTF8.self))")
        return try JSONSerialization.jsonObject(with: response.body) as? [String: Any] ?? [:]
    }

    private func current(_ device: [String: Any]) -> [String: Any] {
        (device["mac_state"] as? [String: Any])?["current_parameters"] as? [String: Any] ?? [:]
    }

    private func enabledUplinks(_ parameters: [String: Any]) -> [String] {
        (parameters["channels"] as? [[String: Any]] ?? []).filter { $0["enable_uplink"] as? Bool == true }
            .compactMap { $0["uplink_frequency"] as? String }
    }

    @Test func euDevicesAnswerOnTheEightTTNChannelsWithRX2SF9() async throws {
        let fixture = try await MigrationFixture.start(estate: "session-estate.json")
        defer { Task { await fixture.stop() } }
        let outcome = try await fixture.run()
        #expect(outcome.summary.failed.isEmpty)

        let diff = await runCLI(["diff", "--config", fixture.configPath, "--journal", fixture.journal])
        #expect(diff.code == 0, "\(diff.out)\(diff.err)")

        // dev-1: OTAA with its v2 session carried; dev-2: ABP.
        for device in ["dev-1", "dev-2"] {
            let ns = try await nsDevice(fixture, device, mask: "mac_state,mac_settings,lorawan_phy_version")
            let parameters = current(ns)
            #expect(enabledUplinks(parameters) == Self.ttnEU868, "\(device)")
            #expect(parameters["rx2_data_rate_index"] as? Int == 3, "\(device): RX2 SF9 is DR3")
            #expect(parameters["rx2_frequency"] as? String == "869525000", "\(device)")
            #expect(parameters["rx1_delay"] as? Int == 1, "\(device): v2's RX1 delay")
            #expect(ns["lorawan_phy_version"] as? String == "PHY_V1_0_2_REV_B")
        }
        // The OTAA device's 1 s RX1 delay is in its session's MAC state only: a rejoin uses v3's default.
        let otaa = try await nsDevice(fixture, "dev-1", mask: "mac_settings")
        #expect((otaa["mac_settings"] as? [String: Any])?["rx1_delay"] == nil)
        // DevStatusReq off on both.
        let abp = try await nsDevice(fixture, "dev-2", mask: "mac_settings")
        #expect((abp["mac_settings"] as? [String: Any])?["status_count_periodicity"] as? Int == 0)
        #expect((abp["mac_settings"] as? [String: Any])?["status_time_periodicity"] as? String == "0s")

        // The AppSKeys (dev-1 404142…, dev-2 202122…) are held by the AS and nowhere else.
        let state = try JSONSerialization.jsonObject(with: Data(fixture.state.utf8)) as? [String: Any] ?? [:]
        let devices = ((state["applications"] as? [String: Any])?["sensors"] as? [String: Any])?["devices"] as? [String: Any] ?? [:]
        for (device, appSKey) in [("dev-1", "404142434445464748494A4B4C4D4E4F"), ("dev-2", "202122232425262728292A2B2C2D2E2F")] {
            let parts = devices[device] as? [String: Any] ?? [:]
            for (component, record) in parts {
                let text = String(decoding: try JSONSerialization.data(withJSONObject: record), as: UTF8.self)
                #expect(text.contains(appSKey) == (component == "as"), "\(device) \(component)")
            }
        }
    }

    @Test func aBandWithoutRevBGetsTheClosestVersionAndRegisters() async throws {
        let fixture = try await MigrationFixture.start(estate: "session-estate.json", devicePlan: "RU_864_870_TTN")
        defer { Task { await fixture.stop() } }
        let outcome = try await fixture.run()
        // RP001 1.0.2 rev B would be refused with no_band_version; the closest RU version is accepted.
        #expect(outcome.summary.failed.isEmpty)
        let ns = try await nsDevice(fixture, "dev-1", mask: "mac_state,lorawan_phy_version")
        // RP001_V1_0_3_REV_A, by the name v3 writes for it.
        #expect(ns["lorawan_phy_version"] as? String == "PHY_V1_0_3_REV_A")
        #expect(enabledUplinks(current(ns)) == ["868900000", "869100000", "864100000", "864300000", "864500000", "864700000", "864900000"])
        #expect(current(ns)["rx2_frequency"] as? String == "869100000")
        let diff = await runCLI(["diff", "--config", fixture.configPath, "--journal", fixture.journal])
        #expect(diff.code == 0, "\(diff.out)\(diff.err)")
    }
}
