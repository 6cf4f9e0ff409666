import Foundation
import HTTP
import Journal
import Simulator
import Testing
@testable import TTNMigrateCLI

@Suite struct RunBadInputTests {
    @Test func wrongAPIKeyStopsBeforeWritingWithNextStep() async throws {
        let fixture = try await MigrationFixture.start()
        defer { Task { await fixture.stop() } }
        _ = try fixture.v2.directory.write("v3-api-key", V3SimulatorAPIKey.generate())
        let result = await runCLI(["run", "--config", fixture.configPath, "--journal", fixture.journal])
        #expect(result.code == 2)
        #expect(result.err.contains("check the v3 API key (auth_info): Identity Server answered 401"))
        #expect(result.err.contains("check the v3 API key (the variable or file named by `target.api_key_env`/`api_key_file`)"))
        #expect(fixture.v3.identityServer.requestLog.allSatisfy { $0.method == "GET" })
        #expect(!result.err.contains("NNSXS"))
    }

    @Test func keyLackingRightsIsRefusedNamingTheMissingRights() async throws {
        let fixture = try await MigrationFixture.start(apiKeyRights: ["RIGHT_USER_ALL", "RIGHT_APPLICATION_INFO", "RIGHT_GATEWAY_ALL"])
        defer { Task { await fixture.stop() } }
        let result = await runCLI(["run", "--config", fixture.configPath, "--journal", fixture.journal])
        #expect(result.code == 2)
        #expect(result.err.contains("the v3 target is not ready; nothing was written"))
        #expect(result.err.contains("lacks rights the migration needs or grants: RIGHT_APPLICATION_DEVICES_READ, RIGHT_APPLICATION_DEVICES_READ_KEYS"))
        #expect(fixture.v3.identityServer.requestLog.allSatisfy { $0.method == "GET" })
    }

    @Test func missingOwnerAccountIsABlocker() async throws {
        let fixture = try await MigrationFixture.start(extraConfig: "")
        defer { Task { await fixture.stop() } }
        let config = try String(contentsOfFile: fixture.configPath, encoding: .utf8).replacingOccurrences(of: "owner: { user: alice }", with: "owner: { organization: nobody-org }")
        let path = try fixture.v2.directory.write("other.yml", config)
        let result = await runCLI(["run", "--config", path, "--journal", fixture.journal])
        #expect(result.code == 2)
        #expect(result.err.contains("the owner organization nobody-org has no v3 account; set `target.owner` to an existing user or organization"))
    }

    @Test func collaboratorWithoutAccountIsSkippedWithItsReason() async throws {
        let fixture = try await MigrationFixture.start(users: ["alice"])
        defer { Task { await fixture.stop() } }
        let result = await runCLI(["run", "--config", fixture.configPath, "--journal", fixture.journal])
        #expect(result.code == 0, "\(result.err)")
        #expect(result.err.contains("skipped: application:sensors:collaborator:user:bob-smith: user bob-smith has no v3 account: map the v2 username with `users:` or create the account first"))
        #expect(result.err.contains("12 done, 0 already in v3, 0 failed, 0 waiting on a failed or skipped step, 1 skipped"))
    }

    @Test func idTakenBySomeoneElseFailsNamingItAndBlocksItsChildren() async throws {
        let fixture = try await MigrationFixture.start()
        defer { Task { await fixture.stop() } }
        // bob-smith already owns an application `sensors` and a gateway with the golden gateway's EUI.
        let bobKey = try fixture.v3.simulator.addUserAPIKey(user: "bob-smith", rights: ["RIGHT_ALL"])
        let http = HTTPClient()
        for (path, body) in [
            ("/api/v3/users/bob-smith/applications", #"{"application":{"ids":{"application_id":"sensors"}},"collaborator":{"user_ids":{"user_id":"bob-smith"}}}"#),
            ("/api/v3/users/bob-smith/gateways", #"{"gateway":{"ids":{"gateway_id":"bobs-gateway","eui":"B827EBFFFE000001"},"frequency_plan_ids":["EU_863_870"]},"collaborator":{"user_ids":{"user_id":"bob-smith"}}}"#),
        ] {
            let response = try await http.send(HTTPRequest(
                method: "POST", url: fixture.v3.identityServerURL + path, headers: [("Authorization", "Bearer \(bobKey)")], body: Data(body.utf8)))
            #expect(response.status == 200)
        }
        let result = await runCLI(["run", "--config", fixture.configPath, "--journal", fixture.journal])
        #expect(result.code == 1)
        #expect(result.err.contains("failed: application:sensors:create: create application sensors: v3 says it is taken"))
        #expect(result.err.contains("failed: gateway:eui-b827ebfffe000001:create: create gateway eui-b827ebfffe000001: v3 says it is taken (a gateway with EUI `B827EBFFFE000001` is already registered"))
        #expect(result.err.contains("choose another ID with `rename:`"))
        #expect(result.err.contains("0 done, 0 already in v3, 2 failed, 11 waiting on a failed or skipped step"))
        // bob's entities are untouched: nothing of this migration was adopted or written into them.
        let state = fixture.state
        #expect(!state.contains("v2-euis"))
    }

    @Test func journalOfAnotherTargetIsRefused() async throws {
        let fixture = try await MigrationFixture.start()
        defer { Task { await fixture.stop() } }
        #expect(await runCLI(["run", "--config", fixture.configPath, "--journal", fixture.journal]).code == 0)
        let other = try String(contentsOfFile: fixture.configPath, encoding: .utf8).replacingOccurrences(of: "owner: { user: alice }", with: "owner: { user: bob-smith }")
        let path = try fixture.v2.directory.write("other.yml", other)
        let result = await runCLI(["run", "--config", path, "--journal", fixture.journal])
        #expect(result.code == 2)
        #expect(result.err.contains(fixture.journal))
        #expect(result.err.contains("bob-smith"))
    }

    @Test func corruptOrForeignJournalIsRefused() async throws {
        let fixture = try await MigrationFixture.start()
        defer { Task { await fixture.stop() } }
        let garbage = try fixture.v2.directory.write("garbage.sqlite", String(repeating: "not a database ", count: 100))
        let result = await runCLI(["run", "--config", fixture.configPath, "--journal", garbage])
        #expect(result.code == 2)
        #expect(result.err.contains(garbage))
        #expect(fixture.v3.identityServer.requestLog.isEmpty)
    }

    /// A journal write failing mid-run stops the run cleanly; the same command resumes to the golden state.
    @Test func journalWriteFailureStopsCleanlyAndResumes() async throws {
        let fixture = try await MigrationFixture.start()
        defer { Task { await fixture.stop() } }
        await #expect(throws: JournalError.self) {
            _ = try await fixture.run(journalOptions: JournalOptions(groupCommit: .eachChange, faults: .failWrite(number: 12)))
        }
        let resumed = try await fixture.run()
        #expect(resumed.summary.failed.isEmpty)
        #expect(try normalizedState(fixture, tag: journalTag(fixture.journal)) == goldenState())
    }
}
