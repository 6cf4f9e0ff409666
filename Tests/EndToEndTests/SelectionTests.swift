import Foundation
import Journal
import Testing
@testable import TTNMigrateCLI

/// Choosing what to migrate: `run --devices` (a set of devices and their applications) and
/// `include.applications` (whole applications), as lorawan-stack-migrate offers both.
@Suite(.serialized) struct SelectionTests {
    @Test func runDevicesMigratesOnlyTheChosenDevicesThenTheRestJoins() async throws {
        let fixture = try await MigrationFixture.start()
        defer { Task { await fixture.stop() } }
        let first = await runCLI(["run", "--config", fixture.configPath, "--journal", fixture.journal, "--devices", "sensors/dev_2"])
        #expect(first.code == 0, "\(first.err)")
        #expect(try await fixture.v3Request("GET", "/api/v3/applications/sensors").status == 200)
        #expect(try await fixture.v3Request("GET", "/api/v3/applications/sensors/devices/dev-2").status == 200)
        #expect(try await fixture.v3Request("GET", "/api/v3/applications/sensors/devices/dev-1").status == 404)
        // v3 answers 403 for an entity the caller holds no rights on, which includes one that does not exist.
        #expect(try await fixture.v3Request("GET", "/api/v3/gateways/eui-b827ebfffe000001").status == 403)
        let store = try JournalStore.openForReading(at: fixture.journal)
        let ids = try await store.steps().map(\.id).sorted()
        try await store.close()
        #expect(ids == ["application:sensors:create", "device:sensors/dev-2:as", "device:sensors/dev-2:is", "device:sensors/dev-2:ns"])

        // The v3 ID selects too; a name the plan does not hold is refused before anything is sent.
        let unknown = await runCLI(["run", "--config", fixture.configPath, "--journal", fixture.journal, "--devices", "sensors/dev-2,sensors/ghost"])
        #expect(unknown.code == 2)
        #expect(unknown.err.contains("--devices names a device this migration's plan does not hold: sensors/ghost"))

        let rest = await runCLI(["run", "--config", fixture.configPath, "--journal", fixture.journal])
        #expect(rest.code == 0, "\(rest.err)")
        #expect(try await fixture.v3Request("GET", "/api/v3/applications/sensors/devices/dev-1").status == 200)
        let diff = await runCLI(["diff", "--config", fixture.configPath, "--journal", fixture.journal])
        #expect(diff.code == 0, "\(diff.out)")
    }

    @Test func includeApplicationsLeavesTheOthersOut() async throws {
        let fixture = try await MigrationFixture.start(extraConfig: "include: { applications: [], gateways: all }")
        defer { Task { await fixture.stop() } }
        let plan = await runCLI(["plan", "--config", fixture.configPath])
        #expect(plan.code == 0, "\(plan.err)")
        #expect(plan.out.contains("not selected by include.applications"))
        let run = await runCLI(["run", "--config", fixture.configPath, "--journal", fixture.journal])
        #expect(run.code == 0, "\(run.err)")
        #expect(try await fixture.v3Request("GET", "/api/v3/applications/sensors").status == 403)
        #expect(try await fixture.v3Request("GET", "/api/v3/gateways/eui-b827ebfffe000001").status == 200)
    }
}
