import Mapping
import Testing
import V2Model
import V3Model

private func record(
    _ id: String, deleted: String? = nil, status: V2HandlerRecord.Status = .read, devices: [V2Device] = [],
    handler: V2HandlerApplication? = nil
) -> V2ApplicationRecord {
    V2ApplicationRecord(
        application: V2Application(id: id, name: id, euis: [], collaborators: [], accessKeys: [], deleted: deleted),
        handler: V2HandlerRecord(
            status: status, url: status == .unreadable ? "https://eu.thethings.network:8094" : nil,
            reason: status == .unreadable ? "403 Forbidden" : nil, application: handler, devices: devices))
}

private func device(_ app: String, _ id: String, devEUI: String, appEUI: String = appEUIHex) -> V2Device {
    V2Device(appId: app, devId: id, lorawanDevice: V2LoRaWANDevice(appEui: v2EUI(appEUI), devEui: v2EUI(devEUI), appKey: v2Key(appKeyHex)))
}

private func snapshot(_ applications: [V2ApplicationRecord], gateways: [V2Gateway] = []) -> V2Snapshot {
    V2Snapshot(source: V2SnapshotSource(accountServer: "http://127.0.0.1/api/v2", handlers: []), profile: nil, applications: applications, gateways: gateways)
}

@Suite("whole estate (DESIGN.md §2, §4)")
struct EstateMapperTests {
    @Test func deletedApplicationsAreSkippedUnlessIncluded() throws {
        let estate = snapshot([record("alive"), record("gone", deleted: "2020-01-01", status: .skippedDeleted)])
        let mapped = try EstateMapper.map(estate, options: options())
        #expect(mapped.applications.map(\.v3ID) == ["alive"])
        #expect(mapped.warnings.map(\.code) == [.applicationDeletedSkipped])
        #expect(mapped.skipped == [SkippedEntity(EntityRef(kind: .application, v2ID: "gone"), reason: "deleted in v2", warning: .applicationDeletedSkipped)])

        var including = options()
        including.includeDeleted = true
        #expect(try EstateMapper.map(estate, options: including).applications.map(\.v3ID) == ["alive", "gone"])
    }

    @Test func includeListsAndUnknownConfigurationIDs() throws {
        var settings = options()
        settings.includeApplications = .only(["one", "nope"])
        settings.includeGateways = .only([])
        settings.applicationRenames = ["ghost": "ghost-app"]
        settings.gatewayEUIs = ["no-such-gw": "B827EBFFFE000009"]
        let mapped = try EstateMapper.map(snapshot([record("one"), record("two")], gateways: [V2Gateway(id: "eui-b827ebfffe000001")]), options: settings)
        #expect(mapped.applications.map(\.v3ID) == ["one"])
        #expect(mapped.gateways.isEmpty)
        #expect(mapped.skipped.map(\.entity.v2ID) == ["two", "eui-b827ebfffe000001"])
        #expect(mapped.warnings.map(\.entity.v2ID) == ["gateway_euis.no-such-gw", "include.applications.nope", "rename.applications.ghost"])
        #expect(mapped.warnings.allSatisfy { $0.code == .configUnknownID })
    }

    @Test func handlerOutcomesAreWarnings() throws {
        let mapped = try EstateMapper.map(
            snapshot([record("a-found"), record("b-missing", status: .notFound), record("c-locked", status: .unreadable), record("d-none", status: .notConfigured)]),
            options: options())
        #expect(mapped.applications.count == 4)
        #expect(mapped.warnings.map(\.code) == [.handlersNotConfigured, .applicationNoHandler, .applicationHandlerUnreadable])
        #expect(mapped.warnings[2].message.contains("403 Forbidden"))
    }

    @Test func hiddenCollaboratorsAndKeysAreWarned() throws {
        let hidden = V2ApplicationRecord(application: V2Application(id: "hidden"), handler: V2HandlerRecord(status: .read))
        let mapped = try EstateMapper.map(snapshot([hidden]), options: options())
        #expect(mapped.warnings.map(\.code) == [.applicationCollaboratorsHidden, .applicationAccessKeysHidden])
    }

    @Test func devicePlansPerApplicationAndMissingPlans() throws {
        var settings = options(deviceFrequencyPlan: nil)
        settings.deviceFrequencyPlansByApplication = ["parking": "US_902_928_FSB_2"]
        let mapped = try EstateMapper.map(snapshot([
            record("parking", devices: [device("parking", "park-1", devEUI: "0004A30B00000001")]),
            record("wx-stations", devices: [device("wx-stations", "wx-1", devEUI: "0004A30B00000002"), device("wx-stations", "wx-2", devEUI: "0004A30B00000003")]),
        ]), options: settings)
        #expect(mapped.applications[0].devices.map(\.networkServer.frequencyPlanID) == ["US_902_928_FSB_2"])
        #expect(mapped.applications[1].devices.isEmpty)
        #expect(mapped.warnings.map(\.code) == [.deviceNoFrequencyPlan])
        #expect(mapped.skipped.map(\.entity.v2ID) == ["wx-stations/wx-1", "wx-stations/wx-2"])
        #expect(mapped.skipped.allSatisfy { $0.reason == "no device frequency plan for application \"wx-stations\"" })

        settings.deviceFrequencyPlan = "EU_863_870_TTN"
        let withDefault = try EstateMapper.map(snapshot([
            record("parking", devices: [device("parking", "park-1", devEUI: "0004A30B00000001")]),
            record("wx-stations", devices: [device("wx-stations", "wx-1", devEUI: "0004A30B00000002")]),
        ]), options: settings)
        #expect(withDefault.applications.flatMap(\.devices).map(\.networkServer.frequencyPlanID) == ["US_902_928_FSB_2", "EU_863_870_TTN"])
    }

    @Test func euiPairsAreUniqueOverTheWholeEstate() throws {
        let mapped = try EstateMapper.map(snapshot([
            record("north", devices: [device("north", "dev-a1", devEUI: "0004A30B00000001"), device("north", "dev-a2", devEUI: "0004A30B00000002")]),
            // Same pair as north/dev-a1: skipped. Same DevEUI with another JoinEUI: allowed.
            record("south", devices: [
                device("south", "dev-b1", devEUI: "0004A30B00000001"),
                device("south", "dev-b2", devEUI: "0004A30B00000002", appEUI: "70B3D57ED0000002"),
            ]),
        ]), options: options())
        #expect(mapped.applications.map { $0.devices.map(\.v2DeviceID) } == [["dev-a1", "dev-a2"], ["dev-b2"]])
        #expect(mapped.warnings.map(\.code) == [.deviceEUIPairDuplicate])
        #expect(mapped.skipped == [SkippedEntity(
            EntityRef(kind: .device, v2ID: "south/dev-b1", v3ID: "south/dev-b1"), reason: "EUI pair already used by device \"north/dev-a1\"",
            warning: .deviceEUIPairDuplicate)])
    }

    @Test func skippedEntitiesAreNotListedAsRenamed() throws {
        var settings = options()
        settings.gatewayEUIs = ["kick_starter": "B827EBFFFE000001"]
        let mapped = try EstateMapper.map(snapshot(
            [
                record("north", devices: [device("north", "dev-a1", devEUI: "0004A30B00000001")]),
                record("south", devices: [device("south", "Dev_B1", devEUI: "0004A30B00000001")]),
            ],
            gateways: [V2Gateway(id: "eui-b827ebfffe000001", frequencyPlan: "EU_863_870"), V2Gateway(id: "kick_starter", frequencyPlan: "EU_863_870")]),
            options: settings)
        #expect(mapped.renames == [])
        #expect(mapped.warnings.map(\.code) == [.deviceEUIPairDuplicate, .gatewayEUIDuplicate])
        #expect(mapped.skipped.map(\.entity.v2ID) == ["south/Dev_B1", "kick_starter"])
    }

    @Test func renamesCoverApplicationsGatewaysAndDevices() throws {
        var settings = options()
        settings.applicationRenames = ["old_app": "new-app"]
        let mapped = try EstateMapper.map(snapshot(
            [record("old_app", devices: [device("old_app", "Dev_1", devEUI: "0004A30B00000001")]), record("admin")],
            gateways: [V2Gateway(id: "My_GW", frequencyPlan: "EU_863_870")]), options: settings)
        #expect(mapped.renames == [
            IDRename(kind: .application, v2ID: "admin", v3ID: "admin-v2", reasons: [.blocklisted]),
            IDRename(kind: .application, v2ID: "old_app", v3ID: "new-app", reasons: [.renamed]),
            IDRename(kind: .gateway, v2ID: "My_GW", v3ID: "my-gw", reasons: [.invalidCharacters]),
            IDRename(kind: .device, v2ID: "old_app/Dev_1", v3ID: "new-app/dev-1", reasons: [.invalidCharacters]),
        ])
        #expect(mapped.warnings.map(\.code) == [.idBlocklisted, .idInvalidFixed, .idInvalidFixed, .gatewayNoEUI])
        #expect(mapped.warnings[0].message == "application \"admin\" becomes \"admin-v2\" in v3: its ID is reserved by The Things Stack. To choose the ID yourself, add `rename: {applications: {admin: <new-id>}}` to the configuration.")
    }

    @Test func gatewayEUIsFromIDsOrTheMapAndDuplicatesSkipped() throws {
        var settings = options()
        settings.gatewayEUIs = ["gw-kickstarter": "B827EBFFFE000001", "gw-other": "B827EBFFFE0000FF"]
        let mapped = try EstateMapper.map(snapshot([], gateways: [
            V2Gateway(id: "eui-b827ebfffe000001", frequencyPlan: "EU_863_870"),
            V2Gateway(id: "gw-kickstarter", frequencyPlan: "EU_863_870"),
            V2Gateway(id: "gw-other", frequencyPlan: "EU_863_870"),
        ]), options: settings)
        #expect(mapped.gateways.map(\.v3ID) == ["eui-b827ebfffe000001", "gw-other"])
        #expect(mapped.gateways.map(\.gateway.ids.eui) == [v3EUI("B827EBFFFE000001"), v3EUI("B827EBFFFE0000FF")])
        #expect(mapped.warnings.map(\.code) == [.gatewayEUIDuplicate])
        #expect(mapped.skipped.map(\.entity.v2ID) == ["gw-kickstarter"])
    }

    @Test func duplicateIDsInADamagedSnapshotAreSkipped() throws {
        // Identical records, so the outcome does not depend on which of the two sorting keeps first.
        let twice = record("twice", devices: [device("twice", "dev-x", devEUI: "0004A30B00000001"), device("twice", "dev-x", devEUI: "0004A30B00000001")])
        let mapped = try EstateMapper.map(snapshot(
            [twice, twice],
            gateways: [V2Gateway(id: "eui-b827ebfffe000001"), V2Gateway(id: "eui-b827ebfffe000001")]), options: options())
        #expect(mapped.applications.map(\.v3ID) == ["twice"])
        #expect(mapped.applications[0].devices.map(\.identityServer.ids.devEUI) == [v3EUI("0004A30B00000001")])
        #expect(mapped.gateways.count == 1)
        #expect(mapped.skipped.map(\.entity) == [
            EntityRef(kind: .application, v2ID: "twice"), EntityRef(kind: .device, v2ID: "twice/dev-x"),
            EntityRef(kind: .gateway, v2ID: "eui-b827ebfffe000001"),
        ])
        #expect(mapped.warnings.filter { $0.code == .snapshotDuplicateID }.count == 3)
    }

    @Test func invalidOptionsStopTheMapping() {
        #expect(throws: MappingOptionsError(problems: [.unknownFrequencyPlan(setting: "devices.frequency_plan", planID: "EU")])) {
            try EstateMapper.map(snapshot([]), options: options(deviceFrequencyPlan: "EU"))
        }
    }
}
