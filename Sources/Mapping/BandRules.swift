import Foundation
import V3Model

/// What devices on one frequency plan get from the band: their PHY version and the MAC parameters the NS
/// would give them once configured.
public struct DeviceRadioProfile: Hashable, Sendable {
    /// The plan the profile is for.
    public var frequencyPlanID: String
    /// `PHY_V1_0_2_REV_B` (what v2 devices are), or the closest version the band has.
    public var phyVersion: V3PHYVersion
    /// The plan's channels and RX2 with a 1 s RX1 delay (v2's), for carried sessions; nil when the band's
    /// parameters are not in the embedded table.
    public var parameters: V3MACParameters?

    public init(frequencyPlanID: String, phyVersion: V3PHYVersion, parameters: V3MACParameters?) {
        self.frequencyPlanID = frequencyPlanID
        self.phyVersion = phyVersion
        self.parameters = parameters
    }
}

/// Band and PHY rules of the Network Server, from the embedded band table (`lorawan-bands.json`,
/// lorawan-stack `pkg/band/all.go`; `pkg/networkserver/internal/utils.go` answers `no_band_version` for a
/// version the band does not have).
public enum BandRules {
    /// RX1 delay of TTN v2 sessions (`reference/v2-and-peers.md` §C: the peer sets `RX_DELAY_1`).
    public static let v2RX1Delay = 1

    /// What v2 devices are migrated as (DESIGN.md §4, `reference/v2-and-peers.md` §C).
    public static let preferredPHYVersion = V3PHYVersion.v1_0_2RevB

    /// The outcome of choosing a PHY version for a plan.
    public enum PHYChoice: Hashable, Sendable {
        /// The band has 1.0.2 rev B.
        case preferred
        /// The band lacks it; this is the closest it has (the next newer one, else the newest older one).
        case adjusted(V3PHYVersion, bandID: String)
        /// The plan or its band is not in the table.
        case unknownBand(String)
    }

    /// The PHY version for devices on `planID`.
    public static func phyChoice(planID: String) -> PHYChoice {
        guard let plan = V3Bands.channels(planID: planID) else { return .unknownBand(planID) }
        guard let band = V3Bands.band(id: plan.bandID), !band.phyVersions.isEmpty else { return .unknownBand(plan.bandID) }
        let preferred = V3Bands.canonicalName(preferredPHYVersion)
        if band.phyVersions.contains(preferred) { return .preferred }
        let order = V3Bands.phyVersionOrder
        let preferredIndex = order.firstIndex(of: preferred) ?? 0
        let supported = band.phyVersions.compactMap { version in order.firstIndex(of: version).map { (version, $0) } }
        let chosen = supported.filter { $0.1 > preferredIndex }.min { $0.1 < $1.1 }
            ?? supported.max { $0.1 < $1.1 }
        guard let chosen else { return .unknownBand(plan.bandID) }
        return .adjusted(V3PHYVersion(name: chosen.0), bandID: plan.bandID)
    }

    /// The profile of devices on `planID`: PHY version and, when the band is known, the MAC parameters.
    public static func profile(planID: String) -> DeviceRadioProfile {
        var phyVersion = preferredPHYVersion
        if case .adjusted(let version, _) = phyChoice(planID: planID) { phyVersion = version }
        var parameters: V3MACParameters?
        if let plan = V3Bands.channels(planID: planID), let band = V3Bands.band(id: plan.bandID)?.parameters {
            parameters = V3MACParametersBuilder.desired(band: band, plan: plan, rx1Delay: v2RX1Delay)
        }
        return DeviceRadioProfile(frequencyPlanID: planID, phyVersion: phyVersion, parameters: parameters)
    }

    /// The plan-level warnings for an application's devices with `profile`: a changed PHY version, RX2 that
    /// is not TTN's SF9 for carried sessions, MAC parameters that cannot be derived.
    public static func warnings(profile: DeviceRadioProfile, application: EntityRef, carriesSessions: Bool) -> [MappingWarning] {
        let planID = profile.frequencyPlanID
        var warnings: [MappingWarning] = []
        let subject = "devices of application \"\(application.v2ID)\" (plan \(planID))"
        if case .adjusted(let version, let bandID) = phyChoice(planID: planID) {
            warnings.append(MappingWarning(
                .devicePHYVersionAdjusted, application,
                "\(subject): band \(bandID) has no regional parameters \(V3Bands.canonicalName(preferredPHYVersion)) in v3, so they get \(version.rawValue), the closest it has (a Network Server answers no_band_version otherwise). Check the devices' firmware matches it"))
        }
        guard carriesSessions else { return warnings }
        if profile.parameters == nil {
            warnings.append(MappingWarning(
                .deviceMACStateNotDerived, application,
                "\(subject): the MAC parameters of this plan's band are not known to ttn-migrate, so carried sessions get the Network Server's band defaults (channels, RX2). Check the devices' uplinks after cut-over, or let them join again"))
        }
        if planID == "EU_863_870" {
            warnings.append(MappingWarning(
                .deviceRX2NotTTN, application,
                "\(subject): EU_863_870 uses RX2 SF12, but v2 devices were told SF9 (TTN's RX2). Carried sessions would lose their RX2 downlinks: use EU_863_870_TTN unless these devices were configured for SF12"))
        }
        return warnings
    }
}
