import Foundation
import Mapping
import Testing
import V2Model
import V3Model

/// What each device kind sends to the NS, per plan family (issue 11). The expectations are written by hand
/// from the plans' YAML files (TheThingsNetwork/lorawan-frequency-plans) and the LoRaWAN regional
/// parameters as lorawan-stack's `pkg/band` has them, not computed by the code under test.
@Suite("devices per plan family: PHY version, channels, RX2 (issue 11)")
struct PlanFamilyDeviceTests {
    struct Family: Sendable, CustomTestStringConvertible {
        var plan: String
        var phyVersion: String
        /// The uplink frequencies the device uses (Hz), in the order the NS lists them.
        var uplinks: [UInt64]
        var rx2DataRate: Int
        var rx2Frequency: UInt64
        /// All channels in the MAC state (mask bands list the band's 72 or 96, enabling the plan's).
        var channelCount: Int
        var testDescription: String { plan }
    }

    static let families: [Family] = [
        // EU868 TTN: the eight TTN channels, RX2 SF9 (DR3) at 869.525 MHz.
        Family(plan: "EU_863_870_TTN", phyVersion: "PHY_V1_0_2_REV_B",
               uplinks: [868_100_000, 868_300_000, 868_500_000, 867_100_000, 867_300_000, 867_500_000, 867_700_000, 867_900_000],
               rx2DataRate: 3, rx2Frequency: 869_525_000, channelCount: 8),
        // US915 FSB 2: channels 8–15 (903.9–905.3 MHz) and the 500 kHz channel 65 (904.6 MHz); RX2 DR8 at 923.3 MHz.
        Family(plan: "US_902_928_FSB_2", phyVersion: "PHY_V1_0_2_REV_B",
               uplinks: [903_900_000, 904_100_000, 904_300_000, 904_500_000, 904_700_000, 904_900_000, 905_100_000, 905_300_000, 904_600_000],
               rx2DataRate: 8, rx2Frequency: 923_300_000, channelCount: 72),
        // AU915 FSB 2: channels 8–15 (916.8–918.2 MHz) and channel 65 (917.5 MHz); RX2 DR8 at 923.3 MHz.
        Family(plan: "AU_915_928_FSB_2", phyVersion: "PHY_V1_0_2_REV_B",
               uplinks: [916_800_000, 917_000_000, 917_200_000, 917_400_000, 917_600_000, 917_800_000, 918_000_000, 918_200_000, 917_500_000],
               rx2DataRate: 8, rx2Frequency: 923_300_000, channelCount: 72),
        // AS923 group 1: the two default channels; RX2 DR2 at 923.2 MHz.
        Family(plan: "AS_923", phyVersion: "PHY_V1_0_2_REV_B", uplinks: [923_200_000, 923_400_000],
               rx2DataRate: 2, rx2Frequency: 923_200_000, channelCount: 2),
        // RU864: no 1.0.2 rev B in v3, so RP001 1.0.3 rev A; two default channels plus five; RX2 DR0 at 869.1 MHz.
        Family(plan: "RU_864_870_TTN", phyVersion: "PHY_V1_0_3_REV_A",
               uplinks: [868_900_000, 869_100_000, 864_100_000, 864_300_000, 864_500_000, 864_700_000, 864_900_000],
               rx2DataRate: 0, rx2Frequency: 869_100_000, channelCount: 7),
        // IN865: three default channels plus five; RX2 DR2 at 866.55 MHz.
        Family(plan: "IN_865_867", phyVersion: "PHY_V1_0_2_REV_B",
               uplinks: [865_062_500, 865_402_500, 865_985_000, 865_232_500, 866_185_000, 866_385_000, 866_585_000, 866_785_000],
               rx2DataRate: 2, rx2Frequency: 866_550_000, channelCount: 8),
        // KR920 TTN: three default channels plus four; RX2 DR0 at 921.9 MHz.
        Family(plan: "KR_920_923_TTN", phyVersion: "PHY_V1_0_2_REV_B",
               uplinks: [922_100_000, 922_300_000, 922_500_000, 922_700_000, 922_900_000, 923_100_000, 923_300_000],
               rx2DataRate: 0, rx2Frequency: 921_900_000, channelCount: 7),
        // CN470 FSB 11: channels 80–87 (486.3–487.7 MHz) of 96; RX2 DR0 at 505.3 MHz.
        Family(plan: "CN_470_510_FSB_11", phyVersion: "PHY_V1_0_2_REV_B",
               uplinks: [486_300_000, 486_500_000, 486_700_000, 486_900_000, 487_100_000, 487_300_000, 487_500_000, 487_700_000],
               rx2DataRate: 0, rx2Frequency: 505_300_000, channelCount: 96),
    ]

    private func context(_ plan: String, device: String, withSession: Bool) -> DeviceMapping.Context {
        DeviceMapping.Context(
            v2ApplicationID: "my_app", v3ApplicationID: "my-app", deviceID: AssignedID(id: device, reasons: []),
            frequencyPlanID: plan, withSession: withSession)
    }

    @Test(arguments: families) func otaaWithoutSessionSendsOnlyThePlanAndVersions(_ family: Family) throws {
        var warnings: [MappingWarning] = []
        guard case .mapped(let device) = DeviceMapping.map(otaaDevice(), context: context(family.plan, device: "dev-1", withSession: false), warnings: &warnings)
        else { Issue.record("not mapped"); return }
        let ns = device.networkServer
        #expect(ns.frequencyPlanID == family.plan)
        #expect(ns.lorawanPHYVersion?.rawValue == family.phyVersion)
        #expect(ns.macState == nil)
        #expect(ns.macSettings?.factoryPresetFrequencies == nil)
        #expect(ns.macSettings?.rx1Delay == nil)
        #expect(ns.macSettings?.rx2DataRateIndex == nil)
    }

    @Test(arguments: families) func otaaWithSessionCarriesTheMACStateOfItsPlan(_ family: Family) throws {
        var warnings: [MappingWarning] = []
        guard case .mapped(let device) = DeviceMapping.map(otaaDevice(), context: context(family.plan, device: "dev-1", withSession: true), warnings: &warnings)
        else { Issue.record("not mapped"); return }
        let state = try #require(device.networkServer.macState)
        #expect(device.networkServer.lorawanPHYVersion?.rawValue == family.phyVersion)
        #expect(state.currentParameters == state.desiredParameters)
        #expect(state.deviceClass == "CLASS_A")
        #expect(state.lorawanVersion == .v1_0_2)
        #expect(state.currentParameters.rx1Delay == 1)
        #expect(state.currentParameters.adrNbTrans == 1)
        #expect(state.currentParameters.enabledUplinkFrequencies == family.uplinks)
        #expect(state.currentParameters.channels.count == family.channelCount)
        #expect(state.currentParameters.rx2DataRateIndex == family.rx2DataRate)
        #expect(state.currentParameters.rx2Frequency == family.rx2Frequency)
        #expect(device.networkServer.macSettings?.rx1Delay == nil)
        #expect(device.networkServer.macSettings?.factoryPresetFrequencies == nil)
    }

    @Test(arguments: families) func abpGetsThePlanAsFactoryPresetsAndRX2(_ family: Family) throws {
        var warnings: [MappingWarning] = []
        guard case .mapped(let device) = DeviceMapping.map(abpDevice(), context: context(family.plan, device: "dev-2", withSession: false), warnings: &warnings)
        else { Issue.record("not mapped"); return }
        let settings = try #require(device.networkServer.macSettings)
        #expect(device.networkServer.lorawanPHYVersion?.rawValue == family.phyVersion)
        #expect(device.networkServer.macState == nil)
        #expect(settings.rx1Delay == 1)
        #expect(settings.factoryPresetFrequencies == family.uplinks)
        #expect(settings.rx2DataRateIndex == family.rx2DataRate)
        #expect(settings.rx2Frequency == family.rx2Frequency)
        #expect(settings.statusTimePeriodicity == "0s")
        #expect(settings.statusCountPeriodicity == 0)
    }

    @Test func everyPathSentIsInTheNetworkServersSetMask() throws {
        for family in Self.families {
            for (v2, withSession) in [(otaaDevice(), false), (otaaDevice(), true), (abpDevice(), false)] {
                var warnings: [MappingWarning] = []
                guard case .mapped(let device) = DeviceMapping.map(v2, context: context(family.plan, device: "dev-1", withSession: withSession), warnings: &warnings)
                else { Issue.record("not mapped"); continue }
                let allowed = V3FieldMasks.allowedPaths(for: "/ttn.lorawan.v3.NsEndDeviceRegistry/Set") ?? []
                #expect(!allowed.isEmpty)
                let outside = device.networkServer.fieldMask.filter { !allowed.contains($0) }
                #expect(outside.isEmpty, "\(family.plan): \(outside)")
            }
        }
    }

    @Test func theAppSKeyGoesOnlyToTheApplicationServer() throws {
        var warnings: [MappingWarning] = []
        for (v2, withSession) in [(otaaDevice(), true), (abpDevice(), false)] {
            guard case .mapped(let device) = DeviceMapping.map(v2, context: context("EU_863_870_TTN", device: "dev-1", withSession: withSession), warnings: &warnings)
            else { Issue.record("not mapped"); continue }
            let appSKey = appSKeyHex.uppercased()
            func text<T: Encodable>(_ value: T) throws -> String { String(decoding: try JSONEncoder().encode(value), as: UTF8.self).uppercased() }
            #expect(try text(device.applicationServer).contains(appSKey))
            #expect(try !text(device.networkServer).contains(appSKey))
            #expect(try !text(device.identityServer).contains(appSKey))
            if let js = device.joinServer { #expect(try !text(js).contains(appSKey)) }
        }
    }

    @Test func plansWithAChangedVersionOrSF12RX2AreWarnedOnce() {
        let application = EntityRef(kind: .application, v2ID: "my_app", v3ID: "my-app")
        let ru = BandRules.warnings(profile: BandRules.profile(planID: "RU_864_870_TTN"), application: application, carriesSessions: true)
        #expect(ru.map(\.code) == [.devicePHYVersionAdjusted])
        #expect(ru.first?.message.contains("PHY_V1_0_3_REV_A") == true)
        let euSF12 = BandRules.warnings(profile: BandRules.profile(planID: "EU_863_870"), application: application, carriesSessions: true)
        #expect(euSF12.map(\.code) == [.deviceRX2NotTTN])
        #expect(euSF12.first?.message.contains("EU_863_870_TTN") == true)
        #expect(BandRules.warnings(profile: BandRules.profile(planID: "EU_863_870"), application: application, carriesSessions: false).isEmpty)
        #expect(BandRules.warnings(profile: BandRules.profile(planID: "EU_863_870_TTN"), application: application, carriesSessions: true).isEmpty)
        // AS923 groups 2–4 exist only from RP002 on: the closest newer version is chosen.
        #expect(BandRules.phyChoice(planID: "AS_923_2") == .adjusted(V3PHYVersion(rawValue: "RP002_V1_0_1"), bandID: "AS_923_2"))
        #expect(BandRules.phyChoice(planID: "IL_917_920_TTN") == .adjusted(V3PHYVersion(rawValue: "RP002_V1_0_3"), bandID: "AS_923_4"))
        #expect(BandRules.phyChoice(planID: "NO_SUCH_PLAN") == .unknownBand("NO_SUCH_PLAN"))
    }
}
