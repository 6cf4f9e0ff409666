import Foundation
import Mapping
import Plan
import Testing

/// A plan fingerprint changes with every input the plan is made from, and only with those.
@Suite struct PlanFingerprintTests {
    let snapshot = Data(#"{"format": "ttn-migrate-v2-snapshot", "version": 1, "applications": []}"#.utf8)
    let options = MappingOptions(owner: .user("alice"))

    func fingerprint(
        _ snapshot: Data? = nil, _ options: MappingOptions? = nil, devices: [String]? = nil, version: String = "1.0.0"
    ) throws -> String {
        try PlanFingerprint(snapshot: snapshot ?? self.snapshot, options: options ?? self.options, devices: devices, toolVersion: version).text
    }

    @Test func theSameInputsGiveTheSameFingerprint() throws {
        let text = try fingerprint()
        #expect(text == (try fingerprint()))
        #expect(text.count == 32 && text.allSatisfy { $0.isHexDigit && !$0.isUppercase })
    }

    @Test func oneByteOfTheSnapshotChangesIt() throws {
        var changed = snapshot
        changed[changed.count - 2] = UInt8(ascii: " ")
        #expect(try fingerprint(changed) != fingerprint())
        #expect(try fingerprint(snapshot + Data("\n".utf8)) != fingerprint())
    }

    @Test func everyKindOfOptionChangesIt() throws {
        var organization = options
        organization.owner = .organization("alice")
        var renamed = options
        renamed.applicationRenames = ["app_1": "app-1"]
        var session = options
        session.withSession.toggle()
        var selected = options
        selected.includeGateways = .only(["gw-1"])
        var tag = options
        tag.runTag = "other"
        let all = try [fingerprint(), fingerprint(nil, organization), fingerprint(nil, renamed), fingerprint(nil, session),
                       fingerprint(nil, selected), fingerprint(nil, tag)]
        #expect(Set(all).count == all.count)
    }

    /// Maps are encoded with sorted keys: the order a configuration lists them in does not matter.
    @Test func mapsAndDeviceListsAreCanonical() throws {
        var first = options
        first.users = ["bob": "bob-3", "carol": "carol-3", "dave": "dave-3"]
        var second = options
        second.users = ["dave": "dave-3", "carol": "carol-3", "bob": "bob-3"]
        #expect(try fingerprint(nil, first) == fingerprint(nil, second))
        #expect(try fingerprint(devices: ["app/b", "app/a"]) == fingerprint(devices: ["app/a", "app/b"]))
    }

    @Test func theDeviceSelectionAndTheToolVersionChangeIt() throws {
        let all = try [fingerprint(), fingerprint(devices: []), fingerprint(devices: ["app/a"]), fingerprint(version: "1.0.1")]
        #expect(Set(all).count == all.count)
    }
}
