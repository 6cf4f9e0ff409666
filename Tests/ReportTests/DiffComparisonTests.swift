import Mapping
import Report
import Testing
import V3Client
import V3Model

/// One application with a collaborator, an API key, a link and an OTAA device; one gateway with a
/// collaborator; two skipped entities. All JSON hand-written.
func sampleIntended(runTag: String? = "run1") -> IntendedState {
    let keyName = runTag.map { "v2: default key [\($0)]" } ?? "v2: default key [ttnmig]"
    return IntendedState(
        owner: .user("alice"), runTag: runTag,
        applications: [IntendedApplication(
            record: IntendedRecord(
                v2ID: "my_app", v3ID: "my-app",
                expected: json(#"{"ids": {"application_id": "my-app"}, "name": "My app", "attributes": {"v2-id": "my_app"}}"#)),
            collaborators: [IntendedCollaborator(
                account: .user("bob"),
                record: IntendedRecord(
                    v2ID: "my_app/bob", v3ID: "my-app/bob",
                    expected: json(#"{"ids": {"user_ids": {"user_id": "bob"}}, "rights": ["RIGHT_APPLICATION_INFO", "RIGHT_APPLICATION_TRAFFIC_READ"]}"#)))],
            apiKeys: [IntendedAPIKey(
                v2Name: "default key", name: keyName,
                record: IntendedRecord(
                    v2ID: "my_app/default key", v3ID: "my-app/\(keyName)",
                    expected: json(#"{"name": "\#(keyName)", "rights": ["RIGHT_APPLICATION_INFO"]}"#)))],
            link: IntendedRecord(
                v2ID: "my_app", v3ID: "my-app",
                expected: json(#"{"default_formatters": {"up_formatter": "FORMATTER_CAYENNELPP", "down_formatter": "FORMATTER_CAYENNELPP"}}"#)),
            devices: [IntendedDevice(
                v2ID: "my_app/dev_1", v3ID: "my-app/dev-1", deviceID: "dev-1",
                parts: [
                    IntendedDevicePart(
                        server: .identityServer, readPath: "/applications/my-app/devices/dev-1",
                        expected: json(#"{"ids": {"device_id": "dev-1", "dev_eui": "0004A30B001C0530", "join_eui": "70B3D57ED0000001"}, "name": "dev_1"}"#)),
                    IntendedDevicePart(
                        server: .joinServer, readPath: "/js/applications/my-app/devices/dev-1",
                        expected: json(#"{"network_server_address": "ns.example.com", "root_keys": {"app_key": {"key": "0123456789ABCDEF0123456789ABCDEF"}}}"#)),
                    IntendedDevicePart(
                        server: .networkServer, readPath: "/ns/applications/my-app/devices/dev-1",
                        expected: json(#"{"frequency_plan_id": "EU_863_870_TTN", "supports_join": true, "mac_settings": {"supports_32_bit_f_cnt": false}}"#)),
                    IntendedDevicePart(
                        server: .applicationServer, readPath: "/as/applications/my-app/devices/dev-1",
                        expected: json(#"{"ids": {"device_id": "dev-1"}}"#)),
                ])])],
        gateways: [IntendedGateway(
            record: IntendedRecord(
                v2ID: "gw_1", v3ID: "gw-1",
                expected: json(#"{"ids": {"gateway_id": "gw-1", "eui": "B827EBFFFE000001"}, "name": "Roof", "enforce_duty_cycle": true}"#)),
            collaborators: [IntendedCollaborator(
                account: .user("carol"),
                record: IntendedRecord(
                    v2ID: "gw_1/carol", v3ID: "gw-1/carol", expected: json(#"{"ids": {"user_ids": {"user_id": "carol"}}, "rights": ["RIGHT_GATEWAY_INFO"]}"#)))])],
        skipped: [
            DiffSkip(kind: .application, v2ID: "old", v3ID: "old", reason: "deleted in v2"),
            DiffSkip(kind: .device, v2ID: "my_app/dev_9", v3ID: "my-app/dev-9", reason: "no AppKey and no session"),
        ])
}

/// What v3 returns when it holds exactly `sampleIntended()` (hex in upper case, zero values omitted), plus
/// the owner as collaborator and the skipped application and device, which are not reported.
func sampleObserved(keyName: String = "v2: default key [run1]") -> ObservedState {
    ObservedState(
        applications: [
            "my-app": json(#"{"ids": {"application_id": "my-app"}, "created_at": "2024-01-01T00:00:00Z", "name": "My app", "attributes": {"v2-id": "my_app"}}"#),
            "old": json(#"{"ids": {"application_id": "old"}}"#),
        ],
        gateways: ["gw-1": json(#"{"ids": {"gateway_id": "gw-1", "eui": "B827EBFFFE000001"}, "name": "Roof", "enforce_duty_cycle": true}"#)],
        applicationContents: [
            "my-app": ObservedApplication(
                devices: [
                    "dev-1": json(#"{"ids": {"device_id": "dev-1", "application_ids": {"application_id": "my-app"}, "dev_eui": "0004A30B001C0530", "join_eui": "70B3D57ED0000001"}, "name": "dev_1"}"#),
                    "dev-9": json(#"{"ids": {"device_id": "dev-9"}}"#),
                ],
                deviceParts: ["dev-1": [
                    .joinServer: json(#"{"ids": {"device_id": "dev-1"}, "network_server_address": "ns.example.com", "root_keys": {"app_key": {"key": "0123456789ABCDEF0123456789ABCDEF"}}}"#),
                    .networkServer: json(#"{"ids": {"device_id": "dev-1"}, "frequency_plan_id": "EU_863_870_TTN", "supports_join": true}"#),
                    .applicationServer: json(#"{"ids": {"device_id": "dev-1"}}"#),
                ]],
                collaborators: [
                    json(#"{"ids": {"user_ids": {"user_id": "alice"}}, "rights": ["RIGHT_APPLICATION_ALL"]}"#),
                    json(#"{"ids": {"user_ids": {"user_id": "bob"}}, "rights": ["RIGHT_APPLICATION_TRAFFIC_READ", "RIGHT_APPLICATION_INFO"]}"#),
                ],
                apiKeys: [json(#"{"id": "KEYID1", "name": "\#(keyName)", "rights": ["RIGHT_APPLICATION_INFO"]}"#)],
                link: json(#"{"default_formatters": {"up_formatter": "FORMATTER_CAYENNELPP", "down_formatter": "FORMATTER_CAYENNELPP"}}"#))
        ],
        gatewayCollaborators: ["gw-1": [
            json(#"{"ids": {"user_ids": {"user_id": "alice"}}, "rights": ["RIGHT_GATEWAY_ALL"]}"#),
            json(#"{"ids": {"user_ids": {"user_id": "carol"}}, "rights": ["RIGHT_GATEWAY_INFO"]}"#),
        ]])
}

@Suite struct DiffComparisonTests {
    @Test func v3HoldingExactlyTheIntendedStateIsEqualEverywhere() {
        let diff = DiffComparison.compare(intended: sampleIntended(), observed: sampleObserved())
        #expect(diff.entries == [
            DiffEntry(kind: .application, entity: "my-app", v2ID: "my_app", status: .equal),
            DiffEntry(kind: .applicationCollaborator, entity: "my-app/bob", v2ID: "my_app/bob", status: .equal),
            DiffEntry(kind: .applicationAPIKey, entity: "my-app/v2: default key [run1]", v2ID: "my_app/default key", status: .equal),
            DiffEntry(kind: .applicationLink, entity: "my-app", v2ID: "my_app", status: .equal),
            DiffEntry(kind: .device, entity: "my-app/dev-1", v2ID: "my_app/dev_1", status: .equal),
            DiffEntry(kind: .gateway, entity: "gw-1", v2ID: "gw_1", status: .equal),
            DiffEntry(kind: .gatewayCollaborator, entity: "gw-1/carol", v2ID: "gw_1/carol", status: .equal),
        ])
        #expect(diff.skipped == [
            DiffSkip(kind: .application, v2ID: "old", v3ID: "old", reason: "deleted in v2"),
            DiffSkip(kind: .device, v2ID: "my_app/dev_9", v3ID: "my-app/dev-9", reason: "no AppKey and no session"),
        ])
        #expect(!diff.hasDifferences)
        #expect(diff.summary == DiffSummary(equal: 7, differs: 0, missingInV3: 0, onlyInV3: 0, skipped: 2))
        #expect(diff.owner == .user("alice"))
        #expect(diff.runTag == "run1")
    }

    @Test func changesMissingAndUnknownEntitiesAreReported() {
        var observed = sampleObserved()
        observed.applications["my-app"] = json(#"{"ids": {"application_id": "my-app"}, "name": "Renamed", "attributes": {"v2-id": "my_app"}}"#)
        observed.applications["extra-app"] = json(#"{"ids": {"application_id": "extra-app"}}"#)
        observed.gateways["gw-extra"] = json(#"{"ids": {"gateway_id": "gw-extra"}}"#)
        var contents = observed.applicationContents["my-app"]!
        contents.collaborators = [
            json(#"{"ids": {"user_ids": {"user_id": "alice"}}, "rights": ["RIGHT_APPLICATION_ALL"]}"#),
            json(#"{"ids": {"user_ids": {"user_id": "dave"}}, "rights": ["RIGHT_APPLICATION_INFO"]}"#),
        ]
        contents.apiKeys = [
            json(#"{"id": "KEYID1", "name": "v2: default key [run1]", "rights": ["RIGHT_APPLICATION_ALL"]}"#),
            json(#"{"id": "KEYID2", "name": "my own key", "rights": ["RIGHT_APPLICATION_INFO"]}"#),
            json(#"{"id": "KEYID3", "rights": ["RIGHT_APPLICATION_INFO"]}"#),
        ]
        contents.link = nil
        contents.devices["dev-x"] = json(#"{"ids": {"device_id": "dev-x"}}"#)
        contents.deviceParts["dev-1"]![.networkServer] = nil
        contents.deviceParts["dev-1"]![.joinServer] = json(#"{"network_server_address": "ns.example.com", "root_keys": {"app_key": {"key": "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"}}}"#)
        observed.applicationContents["my-app"] = contents
        observed.gateways["gw-1"] = nil

        let diff = DiffComparison.compare(intended: sampleIntended(), observed: observed)
        #expect(diff.entries == [
            DiffEntry(kind: .application, entity: "my-app", v2ID: "my_app", status: .differs, fields: [
                FieldDifference(path: "name", expected: .value(.string("My app")), actual: .value(.string("Renamed")))
            ]),
            DiffEntry(kind: .applicationCollaborator, entity: "my-app/bob", v2ID: "my_app/bob", status: .missingInV3),
            DiffEntry(kind: .applicationAPIKey, entity: "my-app/v2: default key [run1]", v2ID: "my_app/default key", status: .differs, fields: [
                FieldDifference(path: "rights", expected: .value(.array([.string("RIGHT_APPLICATION_INFO")])), actual: .value(.array([.string("RIGHT_APPLICATION_ALL")])))
            ]),
            DiffEntry(kind: .applicationLink, entity: "my-app", v2ID: "my_app", status: .missingInV3),
            DiffEntry(kind: .device, entity: "my-app/dev-1", v2ID: "my_app/dev_1", status: .differs, fields: [
                FieldDifference(component: .joinServer, path: "root_keys.app_key.key", expected: .hidden, actual: .hidden),
                FieldDifference(component: .networkServer, path: "", expected: .present, actual: .none),
            ]),
            DiffEntry(kind: .device, entity: "my-app/dev-x", v2ID: nil, status: .onlyInV3),
            DiffEntry(kind: .applicationCollaborator, entity: "my-app/dave", v2ID: nil, status: .onlyInV3),
            DiffEntry(kind: .applicationAPIKey, entity: "my-app/(unnamed key KEYID3)", v2ID: nil, status: .onlyInV3),
            DiffEntry(kind: .applicationAPIKey, entity: "my-app/my own key", v2ID: nil, status: .onlyInV3),
            DiffEntry(kind: .gateway, entity: "gw-1", v2ID: "gw_1", status: .missingInV3),
            DiffEntry(kind: .gatewayCollaborator, entity: "gw-1/carol", v2ID: "gw_1/carol", status: .missingInV3),
            DiffEntry(kind: .application, entity: "extra-app", v2ID: nil, status: .onlyInV3),
            DiffEntry(kind: .gateway, entity: "gw-extra", v2ID: nil, status: .onlyInV3),
        ])
        #expect(diff.hasDifferences)
        #expect(diff.summary == DiffSummary(equal: 0, differs: 3, missingInV3: 4, onlyInV3: 6, skipped: 2))
    }

    @Test func aSkippedApplicationWithoutV3IDIsKnownByItsFixedID() {
        var intended = sampleIntended()
        intended.skipped.append(DiffSkip(kind: .application, v2ID: "Old_Stuff", v3ID: nil, reason: "not selected by include.applications"))
        var observed = sampleObserved()
        observed.applications["old-stuff"] = json(#"{"ids": {"application_id": "old-stuff"}}"#)
        observed.applications["other-app"] = json(#"{"ids": {"application_id": "other-app"}}"#)
        let diff = DiffComparison.compare(intended: intended, observed: observed)
        #expect(diff.entries.filter { $0.status == .onlyInV3 } == [DiffEntry(kind: .application, entity: "other-app", v2ID: nil, status: .onlyInV3)])
    }

    @Test func everythingUnderAMissingApplicationIsMissing() {
        var observed = sampleObserved()
        observed.applications["my-app"] = nil
        let diff = DiffComparison.compare(intended: sampleIntended(), observed: observed)
        #expect(diff.entries.prefix(5).map(\.status) == [.missingInV3, .missingInV3, .missingInV3, .missingInV3, .missingInV3])
        #expect(diff.entries.prefix(5).map(\.entity) == ["my-app", "my-app/bob", "my-app/v2: default key [run1]", "my-app", "my-app/dev-1"])
        #expect(diff.entries.count == 7)
    }

    @Test func aCollaboratorWithoutAV3AccountIsListedApart() {
        var observed = sampleObserved()
        observed.missingAccounts = [.user("carol")]
        observed.gatewayCollaborators["gw-1"] = [json(#"{"ids": {"user_ids": {"user_id": "alice"}}, "rights": ["RIGHT_GATEWAY_ALL"]}"#)]
        let diff = DiffComparison.compare(intended: sampleIntended(), observed: observed)
        #expect(!diff.entries.contains { $0.kind == .gatewayCollaborator })
        #expect(diff.skipped.last == DiffSkip(
            kind: .gatewayCollaborator, v2ID: "gw_1/carol", v3ID: "gw-1/carol",
            reason: "user carol has no v3 account: map the v2 username with `users:` or create the account first"))
        #expect(!diff.hasDifferences)
    }

    @Test func withoutARunTagTheKeyIsNamedAsV3NamesIt() {
        let found = DiffComparison.compare(intended: sampleIntended(runTag: nil), observed: sampleObserved(keyName: "v2: default key [x7y8z9]"))
        #expect(found.entries[2] == DiffEntry(kind: .applicationAPIKey, entity: "my-app/v2: default key [x7y8z9]", v2ID: "my_app/default key", status: .equal))
        #expect(found.runTag == nil)

        var observed = sampleObserved()
        observed.applicationContents["my-app"]!.apiKeys = []
        let missing = DiffComparison.compare(intended: sampleIntended(runTag: nil), observed: observed)
        #expect(missing.entries[2] == DiffEntry(kind: .applicationAPIKey, entity: "my-app/v2: default key", v2ID: "my_app/default key", status: .missingInV3))
    }

    @Test func ofTwoKeysOfTheSameNameTheOneWithTheIntendedRightsMatches() {
        var observed = sampleObserved(keyName: "v2: default key [aaa]")
        observed.applicationContents["my-app"]!.apiKeys = [
            json(#"{"id": "KEYID1", "name": "v2: default key [aaa]", "rights": ["RIGHT_APPLICATION_ALL"]}"#),
            json(#"{"id": "KEYID2", "name": "v2: default key [bbb]", "rights": ["RIGHT_APPLICATION_INFO"]}"#),
        ]
        let diff = DiffComparison.compare(intended: sampleIntended(runTag: nil), observed: observed)
        #expect(diff.entries[2] == DiffEntry(kind: .applicationAPIKey, entity: "my-app/v2: default key [bbb]", v2ID: "my_app/default key", status: .equal))
        #expect(diff.entries.contains(DiffEntry(kind: .applicationAPIKey, entity: "my-app/v2: default key [aaa]", v2ID: nil, status: .onlyInV3)))
    }

    @Test func aDeviceNoComponentHoldsIsMissingAndOneOnlyTheNetworkServerHoldsDiffers() {
        var observed = sampleObserved()
        observed.applicationContents["my-app"]!.devices["dev-1"] = nil
        observed.applicationContents["my-app"]!.deviceParts["dev-1"] = nil
        let missing = DiffComparison.compare(intended: sampleIntended(), observed: observed)
        #expect(missing.entries[4] == DiffEntry(kind: .device, entity: "my-app/dev-1", v2ID: "my_app/dev_1", status: .missingInV3))

        observed.applicationContents["my-app"]!.deviceParts["dev-1"] = [
            .networkServer: json(#"{"frequency_plan_id": "EU_863_870_TTN", "supports_join": true}"#)
        ]
        let partial = DiffComparison.compare(intended: sampleIntended(), observed: observed)
        #expect(partial.entries[4] == DiffEntry(kind: .device, entity: "my-app/dev-1", v2ID: "my_app/dev_1", status: .differs, fields: [
            FieldDifference(component: .identityServer, path: "", expected: .present, actual: .none),
            FieldDifference(component: .joinServer, path: "", expected: .present, actual: .none),
            FieldDifference(component: .applicationServer, path: "", expected: .present, actual: .none),
        ]))
    }
}
