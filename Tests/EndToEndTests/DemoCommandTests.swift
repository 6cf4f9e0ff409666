import Foundation
import Testing
@testable import TTNMigrateCLI

/// `ttn-migrate demo` end to end, in-process: both simulators, the repository's examples/, the real commands.
///
/// The expected counts are derived by hand from examples/v2-estate.json and examples/migrate.yml
/// (owner alice; `users: {bob_smith: bob-smith}`; `include.deleted: false`; the demo's v3 accounts are alice,
/// bob-smith and carol, so dave has none):
///
/// - applications 7: the estate has 8, old-tracker is deleted.
/// - application collaborators 5 done, 2 skipped: the non-owner collaborators of the 7 are weather_station
///   bob_smith and dave, weather-station carol, parking_sensors carol, demo carol, old_app bob_smith, legacy-app
///   dave (7); dave has no v3 account (2 skipped). alice, the owner, is left out by the plan in all 7.
/// - application API keys 8: weather_station 2, weather-station 1, parking_sensors 2, demo 1, old_app 1, legacy-app 1.
/// - payload formatters 5: the applications whose handler was read: weather_station, weather-station,
///   parking_sensors, ab, old_app (demo's devices are unreadable, legacy-app is on no handler).
/// - gateways 15: all of the estate's 15.
/// - gateway collaborators 2 done, 1 skipped: eui-b827ebfffe000001 bob_smith, my-kickstarter carol,
///   eui-b827ebfffe00000c dave (no account). alice is left out by the plan on all 15.
/// - devices 15: 17 read (demo's booth-1 is not readable); p-003 has no keys; weather-station/dup-eui-a shares
///   its EUI pair with parking_sensors/dup-eui-b, which sorts first and keeps it.
/// - gateway link keys 15: one per gateway.
/// - steps 113 done, 3 skipped: 116 planned = 7 + 7 + 8 + 5 + 15 + 3 + 15 + devices 56 (IS, NS and AS for 15, JS for
///   the 11 with an AppKey: ws-otaa-fresh, ws-otaa-session, sensor_1, sensor-1, cayenne-node-1, cayenne-node-2,
///   p-001, dup-eui-b, p-005, node-with-attrs, relay-1); the 3 dave steps are skipped.
/// - target-check requests 27: auth_info 1, the owner 1, the collaborator accounts bob-smith, carol, dave 3, one
///   read per application and gateway to create 7 + 15.
/// - warnings 26: deleted old-tracker; ab too short, its converter/validator, its device's "Installed By"
///   attribute, its device x1 too short; demo blocklisted and its handler unreadable; legacy-app on no handler;
///   parking_sensors' invalid ID, long name, carol's settings:integrations, the key's messages:up:r:all, p-003
///   without keys; device test blocklisted; weather_station's and sensor_1's collisions; ws_abp_16bit fixed;
///   dup-eui-a; Office_GW fixed and without EUI; CN_779_787 without v3 plan; antenna_model and antenna_type
///   keys; dave's gateway:firmware; gw too short and without EUI.
@Suite(.serialized) struct DemoCommandTests {
    @Test func demoMigratesTheExampleEstateAndSummarises() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let out = directory.file("demo")
        let result = await runCLI(["demo", "--out", out, "--examples", examplesDirectory()])
        #expect(result.code == 0, "\(result.out)\n\(result.err)")

        // The files, private.
        for name in ["plan.txt", "plan.json", "journal.sqlite", "v2-token", "v3-api-key", "v2-snapshot.json", "migrate.yml"] {
            let mode = try FileManager.default.attributesOfItem(atPath: out + "/" + name)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(name) has mode \(String(mode ?? 0, radix: 8))")
        }
        let folderMode = try FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as? Int
        #expect(folderMode == 0o700)
        let planJSON = try jsonObject(String(contentsOfFile: out + "/plan.json", encoding: .utf8)) as? NSDictionary
        #expect(planJSON?["format"] as? String == "ttn-migrate/plan")
        #expect(try String(contentsOfFile: out + "/plan.txt", encoding: .utf8).hasPrefix("Migration plan (ttn-migrate/plan v1)"))

        // The summary, counted from the journal.
        let lines = result.out.split(separator: "\n").map(String.init)
        #expect(lines.contains("  applications                     7       0       0       0"))
        #expect(lines.contains("  application collaborators        5       2       0       0"))
        #expect(lines.contains("  application API keys             8       0       0       0"))
        #expect(lines.contains("  payload formatters (links)       5       0       0       0"))
        #expect(lines.contains("  gateways                        15       0       0       0"))
        #expect(lines.contains("  gateway collaborators            2       1       0       0"))
        #expect(lines.contains("  gateway link keys               15       0       0       0"))
        #expect(lines.contains("  devices                         15       0       0       0"))
        #expect(lines.contains("  warnings: 26 in the plan, each with what to do about it (\(out)/plan.txt)"))
        #expect(lines.contains("  not migrated, by the plan (25):"))
        #expect(lines.contains("    15 gateway collaborators: alice is the owner and already holds all rights (RIGHT_GATEWAY_ALL)"))
        #expect(lines.contains("    7 application collaborators: alice is the owner and already holds all rights (RIGHT_APPLICATION_ALL)"))
        #expect(lines.contains("    application old-tracker: deleted in v2"))
        #expect(lines.contains("  skipped when run (3):"))
        #expect(lines.contains {
            $0.hasPrefix("    gateway:eui-b827ebfffe00000c:collaborator:user:dave: user dave has no v3 account")
        })
        #expect(lines.contains { $0.contains("to v3 (run: 113 for the steps, 27 to check the target first)") })
        #expect(lines.contains("Result: the migration finished: 113 steps done, 3 skipped, 0 failed."))
        #expect(lines.contains("Reports in \(out):"))
        // The cut-over stage: every device switched, each gateway told where to connect.
        #expect(lines.contains { $0.hasPrefix("[5/5] cutover: switch the migrated devices to v3 only") })
        #expect(lines.filter { $0.contains("] switched device ") }.count == 15)
        #expect(lines.contains("    - gateway my-kickstarter, EUI B827EBFFFE123456, frequency plan EU_863_870"))

        // No secret in the output or in the configuration it wrote.
        let token = try String(contentsOfFile: out + "/v2-token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let key = try String(contentsOfFile: out + "/v3-api-key", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.hasPrefix("v2sim.") && key.hasPrefix("NNSXS."))
        let configuration = try String(contentsOfFile: out + "/migrate.yml", encoding: .utf8)
        for secret in [token, key] {
            #expect(!result.out.contains(secret) && !result.err.contains(secret) && !configuration.contains(secret))
        }
        #expect(!result.out.contains("ttn-account-v2.") && !result.err.contains("ttn-account-v2."))
        #expect(configuration.contains("token_file: \(out)/v2-token") && configuration.contains("api_key_file: \(out)/v3-api-key"))
        #expect(!configuration.contains("token_env") && !configuration.contains("api_key_env"))

        if TTNMigrate.configuration.subcommands.contains(where: { $0._commandName == "diff" }) {
            #expect(FileManager.default.fileExists(atPath: out + "/diff.md"))
            #expect(FileManager.default.fileExists(atPath: out + "/diff.html"))
        } else {
            #expect(lines.contains("[4/5] diff: not available: this build of ttn-migrate has no `diff` command"))
        }

        // A second demo into the same folder replaces the first one's files (its journal is bound to the old simulators).
        let again = await runCLI(["demo", "--out", out, "--examples", examplesDirectory()])
        #expect(again.code == 0, "\(again.err)")
        #expect(again.out.contains("  replaced the files of an earlier demo in \(out) ("))
        #expect(again.out.contains("Result: the migration finished: 113 steps done, 3 skipped, 0 failed."))
        let newToken = try String(contentsOfFile: out + "/v2-token", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(newToken != token)
    }

    @Test func examplesFolderWithoutTheEstateIsRefused() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        _ = try directory.write("migrate.yml", "target: {}\n")
        let result = await runCLI(["demo", "--out", directory.file("out"), "--examples", directory.path])
        #expect(result.code == 2)
        #expect(result.err == "error: --examples \(directory.path) lacks v2-estate.json; give the folder that holds v2-estate.json and migrate.yml (the repository's examples/)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("out")))
    }

    @Test func outputThatIsAFileIsRefused() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let file = try directory.write("taken", "not a folder\n")
        let result = await runCLI(["demo", "--out", file, "--examples", examplesDirectory()])
        #expect(result.code == 2)
        #expect(result.err == "error: --out \(file) exists and is not a folder; choose another --out")
    }

    @Test func brokenExampleEstateNamesTheFile() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        _ = try directory.write("migrate.yml", try String(contentsOfFile: examplesDirectory() + "/migrate.yml", encoding: .utf8))
        let estate = try directory.write("v2-estate.json", #"{"users": []}"#)
        let result = await runCLI(["demo", "--out", directory.file("out"), "--examples", directory.path])
        #expect(result.code == 2)
        #expect(result.err.hasPrefix("error: estate file \(estate): \"users\" must list at least one user"))
    }

    @Test func examplesAreFoundAboveTheExecutable() throws {
        // From a directory without examples/, the search climbs from the executable to the repository.
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let repository = URL(fileURLWithPath: examplesDirectory()).deletingLastPathComponent().path
        let found = try DemoExamples.locate(
            explicit: nil, currentDirectory: directory.path, executablePath: repository + "/.build/debug/ttn-migrate")
        #expect(found.directory == repository + "/examples")
        #expect(throws: DemoError.self) {
            try DemoExamples.locate(explicit: nil, currentDirectory: directory.path, executablePath: directory.file("bin/ttn-migrate"))
        }
    }
}

/// The repository's examples/ (this file is Tests/EndToEndTests/DemoCommandTests.swift).
func examplesDirectory() -> String {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples").path
}
