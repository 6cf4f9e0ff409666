import Foundation
import Simulator
import Testing
@testable import TTNMigrateCLI

@Suite struct PlanCommandTests {
    @Test func planIsByteIdenticalTwiceAndTheSameLiveAsFromASnapshot() async throws {
        let fixture = try await V2Fixture.start()
        defer { Task { await fixture.stop() } }
        let config = try fixture.config(extra: "devices: { frequency_plan: EU_863_870_TTN }")
        let live1 = await runCLI(["plan", "--config", config, "--format", "json"])
        let live2 = await runCLI(["plan", "--config", config, "--format", "json"])
        #expect(live1.code == 0, "\(live1.err)")
        #expect(live1.out == live2.out)
        let snapshot = fixture.directory.file("v2.json")
        #expect(await runCLI(["snapshot", "--config", config, "--out", snapshot]).code == 0)
        let fromSnapshot = await runCLI(["plan", "--config", config, "--snapshot", snapshot, "--format", "json"])
        #expect(fromSnapshot.out == live1.out)
        let table = await runCLI(["plan", "--config", config, "--snapshot", snapshot])
        #expect(table.out.hasPrefix("Migration plan (ttn-migrate/plan v1)\nOwner: user alice"))
        // The plan holds no secret: no device key, no access key, no token.
        for secret in ["000102030405060708090A0B0C0D0E0F", "202122232425262728292A2B2C2D2E2F", "ttn-account-v2.", V2Fixture.token] {
            #expect(!live1.out.contains(secret) && !table.out.contains(secret))
        }
        // Nothing was written: the directory holds only what the test put there.
        let files = try FileManager.default.contentsOfDirectory(atPath: fixture.directory.path).sorted()
        #expect(files == ["migrate.yml", "v2-token", "v2.json"])
    }

    @Test func planWritesToOutAtomically() async throws {
        let fixture = try await V2Fixture.start()
        defer { Task { await fixture.stop() } }
        let out = fixture.directory.file("plan.json")
        let result = await runCLI(["plan", "--config", try fixture.config(extra: "devices: { frequency_plan: EU_863_870_TTN }"), "--format", "json", "--out", out])
        #expect(result.code == 0)
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(text.hasPrefix("{\n  \"format\": \"ttn-migrate/plan\",\n  \"version\": 1,"))
        let mode = try FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test(arguments: [
        ("frequency_plans: { EU_863_870: EU_999_TTN }", "frequency_plans.EU_863_870"),
        ("devices: { frequency_plan: NOPE_PLAN }", "devices.frequency_plan"),
        ("rename: { applications: { sensors: Bad_ID } }", "Bad_ID"),
        ("rename: { applications: { sensors: admin } }", "admin"),
        ("rename: { applications: { sensors: same-id, old: same-id } }", "same-id"),
        ("users: { bob_smith: Bob_Smith }", "Bob_Smith"),
    ])
    func badMappingSettingsAreRefusedBeforeAnything(setting: String, named: String) async throws {
        let fixture = try await V2Fixture.start()
        defer { Task { await fixture.stop() } }
        let result = await runCLI(["plan", "--config", try fixture.config(extra: setting)])
        #expect(result.code == 2)
        #expect(result.err.hasPrefix("error: "))
        #expect(result.err.contains(named), "\(result.err)")
        #expect(result.out.isEmpty)
    }

    @Test func ownerMustBeUserOrOrganization() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let config = try directory.write("m.yml", "target:\n  url: http://127.0.0.1:9\n  owner: { team: x }\n")
        let result = await runCLI(["plan", "--config", config, "--snapshot", directory.file("none.json")])
        #expect(result.code == 2)
        #expect(result.err == "error: configuration \(config) line 3: unknown key `team` in target.owner; known keys: user, organization")
    }

    @Test func checkTargetReadsV3AndWritesNothing() async throws {
        let fixture = try await MigrationFixture.start(users: ["alice"])
        defer { Task { await fixture.stop() } }
        let result = await runCLI(["plan", "--config", fixture.configPath, "--check-target"])
        // A collaborator without a v3 account is skipped by `run`, which still exits 0: the check agrees.
        #expect(result.code == 0, "\(result.err)")
        #expect(result.err.contains("will be skipped: application:sensors:collaborator:user:bob-smith: user bob-smith has no v3 account"))
        #expect(!result.err.contains("will fail"))
        #expect(fixture.v3.identityServer.requestLog.allSatisfy { $0.method == "GET" })
        #expect(!fixture.v3.identityServer.requestLog.isEmpty)
        let run = await runCLI(["run", "--config", fixture.configPath, "--journal", fixture.journal])
        #expect(run.code == 0, "\(run.err)")
        #expect(run.err.contains("skipped: application:sensors:collaborator:user:bob-smith"))
    }

    @Test func checkTargetFailsWhenStepsWaitOnASkippedOne() async throws {
        let fixture = try await MigrationFixture.start()
        defer { Task { await fixture.stop() } }
        // The application ID already holds another application: its create is skipped and everything under it waits.
        let created = try await fixture.v3Request(
            "POST", "/api/v3/users/alice/applications", body: #"{"application":{"ids":{"application_id":"sensors"},"name":"Somebody else's"}}"#)
        #expect(created.status == 200)
        let result = await runCLI(["plan", "--config", fixture.configPath, "--check-target"])
        #expect(result.code == 1, "\(result.err)")
        #expect(result.err.contains("will be skipped: application:sensors:create"))
        #expect(result.err.contains("will fail: device:sensors/dev-1:is: waits on a skipped step"))
        let run = await runCLI(["run", "--config", fixture.configPath, "--journal", fixture.journal])
        #expect(run.code == 1)
    }
}
