import Foundation
@testable import Report
import Testing
import V3Client

@Suite struct FieldComparisonTests {
    @Test func zeroValuesAndAbsentFieldsAreTheSame() {
        let expected = json(#"{"name": "Sensors", "description": "", "supports_join": false, "count": 0, "list": [], "nested": {"flag": false}}"#)
        let actual = json(#"{"name": "Sensors"}"#)
        #expect(FieldComparison.differences(expected: expected, actual: actual, paths: ["name", "description", "supports_join", "count", "list", "nested"]).isEmpty)
        #expect(FieldComparison.differences(expected: actual, actual: expected, paths: ["name", "description", "supports_join", "count", "list", "nested"]).isEmpty)
    }

    @Test func aChangedScalarNamesThePathAndBothValues() {
        let differences = FieldComparison.differences(
            expected: json(#"{"name": "Sensors", "session": {"last_f_cnt_up": 70000}}"#),
            actual: json(#"{"name": "Other", "session": {"last_f_cnt_up": 69999}}"#),
            paths: ["name", "session.last_f_cnt_up"], component: .networkServer)
        #expect(differences == [
            FieldDifference(component: .networkServer, path: "name", expected: .value(.string("Sensors")), actual: .value(.string("Other"))),
            FieldDifference(component: .networkServer, path: "session.last_f_cnt_up", expected: .value(.number(70000)), actual: .value(.number(69999))),
        ])
    }

    /// A device that ran on v3, or that `cutover` raised, has higher counters than migrated: equal.
    @Test func frameCountersAtOrAboveTheMigratedOnesAreEqual() {
        let expected = json(#"{"session": {"last_f_cnt_up": 5, "last_n_f_cnt_down": 3, "last_a_f_cnt_down": 3}}"#)
        let paths = ["session.last_f_cnt_up", "session.last_n_f_cnt_down", "session.last_a_f_cnt_down"]
        #expect(FieldComparison.differences(expected: expected, actual: json(#"{"session": {"last_f_cnt_up": 910, "last_n_f_cnt_down": 3, "last_a_f_cnt_down": 50}}"#), paths: paths).isEmpty)
        #expect(FieldComparison.differences(expected: json(#"{"session": {}}"#), actual: json(#"{"session": {"last_f_cnt_up": 1}}"#), paths: ["session"]).isEmpty)
        let lower = FieldComparison.differences(expected: expected, actual: json(#"{"session": {"last_f_cnt_up": 5, "last_n_f_cnt_down": 2, "last_a_f_cnt_down": 3}}"#), paths: paths)
        #expect(lower == [FieldDifference(path: "session.last_n_f_cnt_down", expected: .value(.number(3)), actual: .value(.number(2)))])
        // Other numbers still compare exactly.
        #expect(FieldComparison.differences(expected: json(#"{"session": {"last_conf_f_cnt_down": 3}}"#), actual: json(#"{"session": {"last_conf_f_cnt_down": 4}}"#), paths: ["session"]).count == 1)
    }

    @Test func fieldsOnlyOneSideHoldsDifferInBothDirections() {
        let differences = FieldComparison.differences(
            expected: json(#"{"attributes": {"v2-id": "my_app", "v2-euis": "70B3D57ED0001000"}}"#),
            actual: json(#"{"attributes": {"v2-id": "my_app", "owner": "ops"}}"#),
            paths: ["attributes", "description"])
        #expect(differences == [
            FieldDifference(path: "attributes.owner", expected: .none, actual: .value(.string("ops"))),
            FieldDifference(path: "attributes.v2-euis", expected: .value(.string("70B3D57ED0001000")), actual: .none),
        ])
    }

    @Test func hexComparesWithoutCaseOnlyWhereTheFieldIsHex() {
        let euis = FieldComparison.differences(
            expected: json(#"{"ids": {"dev_eui": "0004a30b001c0001", "join_eui": "70b3d57ed0001000"}, "session": {"dev_addr": "26011b01"}}"#),
            actual: json(#"{"ids": {"dev_eui": "0004A30B001C0001", "join_eui": "70B3D57ED0001000"}, "session": {"dev_addr": "26011B01"}}"#),
            paths: ["ids.dev_eui", "ids.join_eui", "session.dev_addr"])
        #expect(euis.isEmpty)
        let names = FieldComparison.differences(expected: json(#"{"name": "cafe"}"#), actual: json(#"{"name": "CAFE"}"#), paths: ["name"])
        #expect(names == [FieldDifference(path: "name", expected: .value(.string("cafe")), actual: .value(.string("CAFE")))])
    }

    @Test func listsOfScalarsCompareAsSetsAndShowSorted() {
        #expect(FieldComparison.differences(
            expected: json(#"{"rights": ["RIGHT_APPLICATION_INFO", "RIGHT_APPLICATION_DEVICES_READ"]}"#),
            actual: json(#"{"rights": ["RIGHT_APPLICATION_DEVICES_READ", "RIGHT_APPLICATION_INFO"]}"#), paths: ["rights"]).isEmpty)
        let differences = FieldComparison.differences(
            expected: json(#"{"rights": ["RIGHT_APPLICATION_INFO", "RIGHT_APPLICATION_DEVICES_READ"]}"#),
            actual: json(#"{"rights": ["RIGHT_APPLICATION_TRAFFIC_READ", "RIGHT_APPLICATION_INFO"]}"#), paths: ["rights"])
        #expect(differences == [FieldDifference(
            path: "rights",
            expected: .value(.array([.string("RIGHT_APPLICATION_DEVICES_READ"), .string("RIGHT_APPLICATION_INFO")])),
            actual: .value(.array([.string("RIGHT_APPLICATION_INFO"), .string("RIGHT_APPLICATION_TRAFFIC_READ")])))])
    }

    @Test func listsOfObjectsCompareItemByItem() {
        let expected = json(#"{"antennas": [{"location": {"latitude": 52.1, "longitude": 5.1, "altitude": 12, "source": "SOURCE_REGISTRY"}, "placement": "OUTDOOR"}]}"#)
        let moved = json(#"{"antennas": [{"location": {"latitude": 52.2, "longitude": 5.1, "altitude": 12, "source": "SOURCE_REGISTRY"}, "placement": "OUTDOOR"}]}"#)
        #expect(FieldComparison.differences(expected: expected, actual: moved, paths: ["antennas"]) == [
            FieldDifference(path: "antennas[0].location.latitude", expected: .value(.number(52.1)), actual: .value(.number(52.2)))
        ])
        let two = json(#"{"antennas": [{"placement": "OUTDOOR"}, {"placement": "INDOOR"}]}"#)
        #expect(FieldComparison.differences(expected: json(#"{"antennas": [{"placement": "OUTDOOR"}]}"#), actual: two, paths: ["antennas"]) == [
            FieldDifference(
                path: "antennas", expected: .value(.array([.object(["placement": .string("OUTDOOR")])])),
                actual: .value(.array([.object(["placement": .string("OUTDOOR")]), .object(["placement": .string("INDOOR")])])))
        ])
    }

    @Test func keysAreComparedButNeverShown() {
        let key = #"{"root_keys": {"app_key": {"key": "000102030405060708090A0B0C0D0E0F"}}}"#
        // Same key in another case: equal.
        #expect(FieldComparison.differences(
            expected: json(key), actual: json(#"{"root_keys": {"app_key": {"key": "000102030405060708090a0b0c0d0e0f"}}}"#),
            paths: ["root_keys.app_key.key"]).isEmpty)
        // Another key, a missing key, a key only v3 holds.
        #expect(FieldComparison.differences(
            expected: json(key), actual: json(#"{"root_keys": {"app_key": {"key": "F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF"}}}"#),
            paths: ["root_keys.app_key.key"], component: .joinServer)
            == [FieldDifference(component: .joinServer, path: "root_keys.app_key.key", expected: .hidden, actual: .hidden)])
        #expect(FieldComparison.differences(expected: json(key), actual: json("{}"), paths: ["root_keys.app_key.key"])
            == [FieldDifference(path: "root_keys.app_key.key", expected: .hidden, actual: .none)])
        #expect(FieldComparison.differences(expected: json("{}"), actual: json(key), paths: ["root_keys.app_key.key"])
            == [FieldDifference(path: "root_keys.app_key.key", expected: .none, actual: .hidden)])
    }

    @Test func aWholeValueShownHidesTheKeysInside() {
        let differences = FieldComparison.differences(
            expected: json(#"{"session": {"dev_addr": "26011B01", "keys": {"app_s_key": {"key": "202122232425262728292A2B2C2D2E2F"}}}}"#),
            actual: json(#"{"session": "unexpected"}"#), paths: ["session"])
        #expect(differences == [FieldDifference(
            path: "session", expected: .value(.object(["dev_addr": .string("26011B01"), "keys": .string("(value hidden)")])),
            actual: .value(.string("unexpected")))])
    }

    @Test func secretPaths() {
        #expect(FieldComparison.isSecret("root_keys.app_key.key"))
        #expect(FieldComparison.isSecret("session.keys.app_s_key.key"))
        #expect(FieldComparison.isSecret("session.keys.f_nwk_s_int_key"))
        #expect(FieldComparison.isSecret("key"))
        #expect(!FieldComparison.isSecret("session.dev_addr"))
        #expect(!FieldComparison.isSecret("ids.dev_eui"))
        #expect(!FieldComparison.isSecret("name"))
        #expect(!FieldComparison.isSecret("attributes.v2-key-name"))
        #expect(FieldComparison.isSecret("antennas[0].keys"))
        #expect(FieldComparison.isSecret("session.keys[1]"))
        #expect(!FieldComparison.isSecret("keyed.name"))
    }

    @Test func hexPathsAreNamedByTheirLastPart() {
        #expect(FieldComparison.isHexPath("ids.dev_eui"))
        #expect(FieldComparison.isHexPath("session.dev_addr"))
        #expect(FieldComparison.isHexPath("root_keys.app_key.key"))
        #expect(FieldComparison.isHexPath("eui"))
        #expect(FieldComparison.isHexPath("ids.eui[0]"))
        #expect(!FieldComparison.isHexPath("ids.dev_eui.name"))
        #expect(!FieldComparison.isHexPath("name"))
        #expect(FieldComparison.lookup("a.b", in: .object(["a": .object(["b": .number(1)])])) == .number(1))
        #expect(FieldComparison.lookup("a.c", in: .object(["a": .object(["b": .number(1)])])) == nil)
    }

    @Test func numbersCompareAsNumbers() {
        #expect(FieldComparison.differences(expected: json(#"{"rx1_delay": 1}"#), actual: json(#"{"rx1_delay": 1.0}"#), paths: ["rx1_delay"]).isEmpty)
        #expect(FieldComparison.differences(expected: json(#"{"altitude": 3}"#), actual: json(#"{"altitude": "3"}"#), paths: ["altitude"])
            == [FieldDifference(path: "altitude", expected: .value(.number(3)), actual: .value(.string("3")))])
    }

    @Test func lookupFollowsDottedPaths() {
        let value = json(#"{"a": {"b": {"c": 1}}, "x": 2}"#)
        #expect(FieldComparison.lookup("a.b.c", in: value) == .number(1))
        #expect(FieldComparison.lookup("x.y", in: value) == nil)
        #expect(FieldComparison.lookup("missing", in: value) == nil)
    }
}
