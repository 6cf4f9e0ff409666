import Foundation
import Simulator
import Testing

/// The target check's reads (owner, collaborator accounts, one per application and gateway to create) are
/// independent: after `auth_info` they go out as one wave, not one after another (issue 12). Checked from the
/// simulator's request log (when each read arrived and was answered), not from a timing.
@Test func targetCheckReadsGoOutAsOneWaveAfterAuthInfo() async throws {
    let fixture = try await MigrationFixture.start(v3Options: V3SimulatorLaunchOptions(server: SimServerOptions(latency: .milliseconds(200))))
    let result = await runCLI(["plan", "--config", fixture.configPath, "--check-target"])
    let log = fixture.v3.identityServer.requestLog
    await fixture.stop()
    #expect(result.code == 0, "\(result.err)")
    let authInfo = try #require(log.first { $0.path == "/api/v3/auth_info" })
    let reads = log.filter { $0.method == "GET" && $0.path != "/api/v3/auth_info" }
    // The owner alice, the collaborator bob-smith, and the application and gateway IDs to create.
    #expect(reads.count >= 4)
    #expect(reads.contains { $0.path == "/api/v3/users/alice" } && reads.contains { $0.path == "/api/v3/users/bob-smith" })
    #expect(reads.allSatisfy { $0.received >= authInfo.finished }, "auth_info comes first: a refused key stops the check")
    let firstAnswer = try #require(reads.map(\.finished).min())
    for read in reads {
        #expect(read.received < firstAnswer, "\(read.path) was sent only after another read was answered: \(reads.map { "\($0.path) \($0.received.timeIntervalSince(authInfo.finished)) \($0.status ?? 0)" })")
    }
}
