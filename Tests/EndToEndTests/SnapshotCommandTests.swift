import Foundation
import Simulator
import Testing
@testable import TTNMigrateCLI
import V2Model

@Suite struct SnapshotCommandTests {
    @Test func snapshotOfSmallEstateMatchesHandWrittenExpectation() async throws {
        let fixture = try await V2Fixture.start()
        defer { Task { await fixture.stop() } }
        let out = fixture.directory.file("v2.json")
        let result = await runCLI(["snapshot", "--config", try fixture.config(), "--out", out])
        #expect(result.code == 0, "\(result.err)")
        #expect(result.out.hasPrefix("wrote \(out): 2 applications (1 deleted), 1 gateways, 2 devices"))
        // The time beside its ideal: every request the v2 simulator answered is counted.
        let requests = fixture.simulator.server.requestLog.count
        #expect(result.out.contains("read \(requests) requests in "), "\(result.out)")
        #expect(result.out.contains("× the ideal"), "\(result.out)")

        let written = try String(contentsOfFile: out, encoding: .utf8)
        let expected = try String(contentsOfFile: golden("small-estate.snapshot.json"), encoding: .utf8)
            .replacingOccurrences(of: "{{BASE}}", with: fixture.simulator.baseURL)
        #expect(try jsonObject(written) == jsonObject(expected))

        let mode = try FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // Secrets never reach the console.
        #expect(!result.out.contains("ttn-account-v2") && !result.err.contains("ttn-account-v2"))
        #expect(!result.out.contains(V2Fixture.token) && !result.err.contains(V2Fixture.token))
    }

    @Test func listedDevicesAreEachReadForTheirFrameCounters() async throws {
        let fixture = try await V2Fixture.start()
        defer { Task { await fixture.stop() } }
        let out = fixture.directory.file("v2.json")
        #expect(await runCLI(["snapshot", "--config", try fixture.config(), "--out", out]).code == 0)
        let paths = fixture.simulator.server.requestLog.map(\.path)
        #expect(paths.contains("/handlers/eu/applications/sensors/devices"))
        #expect(paths.contains("/handlers/eu/applications/sensors/devices/dev-1"))
        #expect(paths.contains("/handlers/eu/applications/sensors/devices/dev_2"))
        // The deleted application is never asked of a handler.
        #expect(!paths.contains { $0.hasPrefix("/handlers/eu/applications/old") })
    }

    @Test func aSnapshotRereadsToTheSameValue() async throws {
        let fixture = try await V2Fixture.start()
        defer { Task { await fixture.stop() } }
        let out = fixture.directory.file("v2.json")
        #expect(await runCLI(["snapshot", "--config", try fixture.config(), "--out", out]).code == 0)
        let snapshot = try SnapshotFile.read(path: out)
        #expect(try SnapshotFile.encode(snapshot) == Data(contentsOf: URL(fileURLWithPath: out)))
        #expect(snapshot.applications.map(\.application.id) == ["old", "sensors"])
        let dev1 = snapshot.applications[1].handler.devices[0].lorawanDevice
        #expect(dev1?.fCntUp == 70000)
        #expect(dev1?.isOTAA == true)
        #expect(String(describing: dev1!.appKey!) == "<redacted key>")
    }
}

@Suite struct SnapshotBadInputTests {
    @Test func malformedYAMLNamesTheLine() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let config = try directory.write("bad.yml", "source:\n  account_server: [unclosed\ntarget: {}\n")
        let result = await runCLI(["snapshot", "--config", config, "--out", directory.file("v2.json")])
        #expect(result.code == 2)
        #expect(result.err.hasPrefix("error: configuration \(config) line "))
        #expect(result.err.contains("not valid YAML"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("v2.json")))
    }

    @Test func unknownKeyNamesKeyAndLine() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let config = try directory.write("bad.yml", "source:\n  account_server: http://127.0.0.1:9/api/v2\n  handler: []\n")
        let result = await runCLI(["snapshot", "--config", config, "--out", directory.file("v2.json")])
        #expect(result.code == 2)
        #expect(result.err == "error: configuration \(config) line 3: unknown key `handler` in source; known keys: account_server, token_env, token_file, handlers")
    }

    @Test func missingTokenVariableIsNamed() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let config = try directory.write("m.yml", "source:\n  account_server: http://127.0.0.1:9/api/v2\n  token_env: TTN_MIGRATE_TEST_UNSET_VARIABLE\n")
        let result = await runCLI(["snapshot", "--config", config, "--out", directory.file("v2.json")])
        #expect(result.code == 2)
        #expect(result.err == "error: the v2 token is missing: environment variable TTN_MIGRATE_TEST_UNSET_VARIABLE gives nothing (set TTN_MIGRATE_TEST_UNSET_VARIABLE, or name a file with `source.token_file`)")
    }

    @Test func missingTokenFileIsNamed() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let config = try directory.write("m.yml", "source:\n  account_server: http://127.0.0.1:9/api/v2\n  token_file: \(directory.file("nope"))\n")
        let result = await runCLI(["snapshot", "--config", config, "--out", directory.file("v2.json")])
        #expect(result.code == 2)
        #expect(result.err == "error: the v2 token is missing: file \(directory.file("nope")) gives nothing (check that the file exists and is readable)")
    }

    @Test func wrongTokenIsRefusedWithNextStep() async throws {
        let fixture = try await V2Fixture.start()
        defer { Task { await fixture.stop() } }
        let wrong = try fixture.directory.write("wrong-token", "v2sim.wrong")
        let out = fixture.directory.file("v2.json")
        let result = await runCLI(["snapshot", "--config", try fixture.config(tokenFile: wrong), "--out", out])
        #expect(result.code == 2)
        #expect(result.err.hasPrefix("error: v2 refused the credential reading the v2 user profile (\(fixture.simulator.accountServerURL)/users/me: 401"))
        #expect(result.err.contains("Get a new v2 access token"))
        #expect(!result.err.contains("v2sim.wrong"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func unreachableServerFailsAfterRetries() async throws {
        let fixture = try await V2Fixture.start()
        await fixture.simulator.stop()
        defer { fixture.directory.cleanUp() }
        // A port held bound but not listening: a stopped server's port could be taken by a parallel test's server.
        let refusing = try ReservedPort()
        defer { refusing.release() }
        let accountServer = "http://127.0.0.1:\(refusing.port)/api/v2"
        let config = try fixture.directory.write("refusing.yml", String(contentsOfFile: try fixture.config(), encoding: .utf8)
            .replacingOccurrences(of: fixture.simulator.accountServerURL, with: accountServer))
        let out = fixture.directory.file("v2.json")
        let result = await runCLI(["snapshot", "--config", config, "--out", out])
        #expect(result.code == 2)
        #expect(result.err.hasPrefix("error: reading the v2 user profile failed after 6 attempts: cannot connect to \(accountServer)/users/me"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func serverErrorsAndDropsAreRetriedThenReported() async throws {
        let fixture = try await V2Fixture.start(server: SimServerOptions(faults: try FaultSpec(parsing: "503=1.0")))
        defer { Task { await fixture.stop() } }
        let out = fixture.directory.file("v2.json")
        let unavailable = await runCLI(["snapshot", "--config", try fixture.config(), "--out", out])
        #expect(unavailable.code == 2)
        #expect(unavailable.err.hasPrefix("error: v2 answered 503 reading the v2 user profile"))
        #expect(fixture.simulator.server.requestLog.count == 6)

        fixture.simulator.server.setFaults(try FaultSpec(parsing: "drop-before=1.0"))
        let dropped = await runCLI(["snapshot", "--config", try fixture.config(), "--out", out])
        #expect(dropped.code == 2)
        #expect(dropped.err.hasPrefix("error: reading the v2 user profile failed after 6 attempts: connection to"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func transientFaultsAreRiddenOut() async throws {
        let fixture = try await V2Fixture.start(server: SimServerOptions(faults: try FaultSpec(parsing: "503=0.2,drop-before=0.1,drop-after=0.1,seed=3")))
        defer { Task { await fixture.stop() } }
        let out = fixture.directory.file("v2.json")
        let result = await runCLI(["snapshot", "--config", try fixture.config(), "--out", out])
        #expect(result.code == 0, "\(result.err)")
        let expected = try String(contentsOfFile: golden("small-estate.snapshot.json"), encoding: .utf8)
            .replacingOccurrences(of: "{{BASE}}", with: fixture.simulator.baseURL)
        #expect(try jsonObject(String(contentsOfFile: out, encoding: .utf8)) == jsonObject(expected))
    }

    @Test func invalidEUIInV2DataNamesTheDevice() async throws {
        let fixture = try await V2Fixture.start(estate: "invalid-eui-estate.json", validation: .structureOnly)
        defer { Task { await fixture.stop() } }
        let out = fixture.directory.file("v2.json")
        let result = await runCLI(["snapshot", "--config", try fixture.config(), "--out", out])
        #expect(result.code == 2)
        #expect(result.err.hasPrefix("error: v2 sent invalid data for device bad-eui of application sensors"))
        #expect(result.err.contains("(\(fixture.simulator.handlerURLs[0])/applications/sensors/devices/bad-eui): lorawan_device.dev_eui: invalid EUI \"0004A30B001C\": 12 hex digits, expected 16"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func malformedJSONFromV2IsReported() async throws {
        // A "handler" whose application answer is not the JSON the API documents: the account
        // server's profile URL prefix makes every handler path answer a v2 404 or a non-handler body.
        let fixture = try await V2Fixture.start()
        defer { Task { await fixture.stop() } }
        let out = fixture.directory.file("v2.json")
        let handler = fixture.simulator.baseURL + "/api/v2/users/me?"
        let result = await runCLI(["snapshot", "--config", try fixture.config(handlers: [handler]), "--out", out])
        #expect(result.code == 2)
        #expect(result.err.hasPrefix("error: v2 sent invalid data for application sensors on handler"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func unwritableOutputLeavesNothingBehind() async throws {
        let fixture = try await V2Fixture.start()
        defer { Task { await fixture.stop() } }
        let out = fixture.directory.file("missing-dir/v2.json")
        let result = await runCLI(["snapshot", "--config", try fixture.config(), "--out", out])
        #expect(result.code == 2)
        #expect(result.err == "error: cannot write \(out): directory \(fixture.directory.file("missing-dir")) does not exist. Choose a writable path; nothing was written.")
        #expect(fixture.simulator.server.requestLog.isEmpty)
    }

    @Test func snapshotsOfAnotherFormatOrNewerVersionAreRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let other = try directory.write("other.json", #"{"format":"something-else","version":1}"#)
        #expect(throws: SnapshotFileError.self) { try SnapshotFile.read(path: other) }
        do { _ = try SnapshotFile.read(path: other) } catch {
            #expect("\(error)" == "\(other) is not a ttn-migrate v2 snapshot (format \"something-else\", expected \"ttn-migrate/v2-snapshot\"). Pass a file written by `ttn-migrate snapshot`.")
        }
        let newer = try directory.write("newer.json", #"{"format":"ttn-migrate/v2-snapshot","version":2}"#)
        do { _ = try SnapshotFile.read(path: newer); Issue.record("accepted a newer version") } catch {
            #expect("\(error)" == "snapshot \(newer) has format version 2, but this ttn-migrate reads up to version 1. Upgrade ttn-migrate, or take a new snapshot with this version.")
        }
        // Whole snapshots that decode, but carry another format name or a newer version, are refused the same way.
        var whole = V2Snapshot(source: V2SnapshotSource(accountServer: "https://account.thethingsnetwork.org", handlers: []),
                               profile: nil, applications: [], gateways: [])
        whole.format = "something-else"
        let otherWhole = directory.file("other-whole.json")
        try SnapshotFile.write(whole, to: otherWhole)
        do { _ = try SnapshotFile.read(path: otherWhole); Issue.record("accepted another format") } catch {
            #expect("\(error)" == "\(otherWhole) is not a ttn-migrate v2 snapshot (format \"something-else\", expected \"ttn-migrate/v2-snapshot\"). Pass a file written by `ttn-migrate snapshot`.")
        }
        whole.format = V2Snapshot.formatName
        whole.version = 2
        let newerWhole = directory.file("newer-whole.json")
        try SnapshotFile.write(whole, to: newerWhole)
        do { _ = try SnapshotFile.read(path: newerWhole); Issue.record("accepted a newer version") } catch {
            #expect("\(error)" == "snapshot \(newerWhole) has format version 2, but this ttn-migrate reads up to version 1. Upgrade ttn-migrate, or take a new snapshot with this version.")
        }
        whole.version = V2Snapshot.currentVersion
        try SnapshotFile.write(whole, to: newerWhole)
        #expect(try SnapshotFile.read(path: newerWhole) == whole)
        let garbage = try directory.write("garbage.json", "{not json")
        do { _ = try SnapshotFile.read(path: garbage); Issue.record("accepted garbage") } catch {
            #expect("\(error)".hasPrefix("snapshot \(garbage) is not valid: not a JSON object"))
        }
    }
}

/// The ideal of a snapshot: the longest of the latency bound and each rate-limit subject's 5 per second.
@Test func snapshotIdealIsTheLongestBound() throws {
    // 100 handler requests over 10 applications with their own keys, 8 at once, 1 with the user's token.
    let timing = try #require(SnapshotTiming(
        seconds: 3, requests: 104, medianRoundTrip: 0.02, inFlight: 8, pacedRequests: ["key:a": 10, "key:b": 90, "bearer": 1],
        handlerRequestsPerSecond: 5))
    #expect(timing.keyApplicationsAtOnce == 2)
    #expect(abs(timing.keyBoundSeconds - 9.8) < 1e-9)  // (100 − 2 first requests) ÷ (5/s × 2)
    #expect(timing.bearerBoundSeconds == 0)
    #expect(abs(timing.latencyBoundSeconds - 0.26) < 1e-9)
    #expect(abs(timing.idealSeconds - 9.8) < 1e-9)
    #expect(abs(timing.ratio - 3 / 9.8) < 1e-9)
    #expect(SnapshotTiming(seconds: 1, requests: 0, medianRoundTrip: nil, inFlight: 8, pacedRequests: [:], handlerRequestsPerSecond: 5) == nil)
}
