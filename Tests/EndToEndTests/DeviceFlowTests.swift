import Executor
import Foundation
import HTTP
import Journal
import Simulator
import Testing
@testable import TTNMigrateCLI

@Suite struct DeviceFlowTests {
    static let clusterDown = "503=1.0@/api/v3/js/,503=1.0@/api/v3/ns/,503=1.0@/api/v3/as/"
    static let fastRetry = RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(5), maxDelay: .milliseconds(10))

    /// JS, NS and AS down while the IS is up: devices are registered in the IS only, reported as
    /// failed, and completed by the next run once the cluster is back.
    @Test func clusterDownLeavesDevicesHalfRegisteredUntilResume() async throws {
        let fixture = try await MigrationFixture.start(
            v3Options: V3SimulatorLaunchOptions(split: true, server: SimServerOptions(faults: try FaultSpec(parsing: Self.clusterDown))))
        defer { Task { await fixture.stop() } }
        let first = try await fixture.run(retry: Self.fastRetry)
        // Failed: sensors link, dev-1 js/ns/as, dev-2 ns/as.
        #expect(first.summary.failed.map(\.stepID) == [
            "application:sensors:link", "device:sensors/dev-1:as", "device:sensors/dev-1:js", "device:sensors/dev-1:ns",
            "device:sensors/dev-2:as", "device:sensors/dev-2:ns",
        ])
        let journal = try JournalStore.openForReading(at: fixture.journal)
        #expect(try await journal.step("device:sensors/dev-1:is")?.state == .done)
        #expect(try await journal.step("device:sensors/dev-2:is")?.state == .done)
        try await journal.close()

        fixture.v3.cluster.setFaults(.none)
        let resumed = try await fixture.run(retry: Self.fastRetry)
        #expect(resumed.summary.failed.isEmpty)
        #expect(try normalizedState(fixture, tag: journalTag(fixture.journal)) == goldenState())
    }

    /// `--on-device-failure rollback` removes a device that could not be completed (AS, NS, JS, IS in
    /// that order); the next run migrates it again.
    @Test func rollbackRemovesHalfRegisteredDevicesInReverseOrder() async throws {
        let fixture = try await MigrationFixture.start(
            v3Options: V3SimulatorLaunchOptions(server: SimServerOptions(faults: try FaultSpec(parsing: "503=1.0@/api/v3/ns/"))))
        defer { Task { await fixture.stop() } }
        let first = try await fixture.run(retry: Self.fastRetry, onDeviceFailure: .rollback)
        #expect(first.summary.rolledBack.sorted() == ["device:sensors/dev-1:as", "device:sensors/dev-1:is", "device:sensors/dev-1:js", "device:sensors/dev-2:as", "device:sensors/dev-2:is"])
        let deletes = fixture.v3.identityServer.requestLog.filter { $0.method == "DELETE" }.map(\.path)
        let dev1 = deletes.filter { $0.hasSuffix("/devices/dev-1") }
        #expect(dev1 == [
            "/api/v3/as/applications/sensors/devices/dev-1", "/api/v3/js/applications/sensors/devices/dev-1",
            "/api/v3/applications/sensors/devices/dev-1",
        ])
        #expect(!fixture.state.contains("\"dev-1\""))
        #expect(!fixture.state.contains("\"dev-2\""))

        fixture.v3.identityServer.setFaults(.none)
        let resumed = try await fixture.run(retry: Self.fastRetry)
        #expect(resumed.summary.failed.isEmpty)
        #expect(try normalizedState(fixture, tag: journalTag(fixture.journal)) == goldenState())
    }

    /// 429 from the Network Server only: the run paces itself and finishes in the golden state.
    @Test func rateLimitOfOneComponentOnly() async throws {
        let fixture = try await MigrationFixture.start(
            v3Options: V3SimulatorLaunchOptions(server: SimServerOptions(faults: try FaultSpec(parsing: "429=0.7@/api/v3/ns/,seed=4"))))
        defer { Task { await fixture.stop() } }
        // One request at a time keeps the seeded draws the same on every run.
        let outcome = try await fixture.run(retry: RetryPolicy(maxAttempts: 12, baseDelay: .milliseconds(5), maxDelay: .milliseconds(20)), concurrency: 1)
        #expect(outcome.summary.failed.isEmpty)
        let limited = fixture.v3.identityServer.requestLog.filter { $0.fault == .tooManyRequests }
        #expect(!limited.isEmpty)
        #expect(limited.allSatisfy { $0.path.hasPrefix("/api/v3/ns/") })
        #expect(try normalizedState(fixture, tag: journalTag(fixture.journal)) == goldenState())
    }

    /// One request at a time makes the order fixed (depth first: a device's JS, NS and AS right after
    /// its IS step), so every kill point, including between a device's IS and its other steps, is hit.
    @Test(arguments: 1...11) func killBetweenTheStepsOfOneDeviceThenResume(after steps: Int) async throws {
        let fixture = try await MigrationFixture.start()
        defer { Task { await fixture.stop() } }
        _ = try await fixture.run(crashAfterSteps: steps, concurrency: 1)
        let resumed = try await fixture.run(concurrency: 1)
        #expect(resumed.summary.failed.isEmpty)
        #expect(try normalizedState(fixture, tag: journalTag(fixture.journal)) == goldenState())
    }
}
