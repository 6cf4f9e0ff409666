import Foundation
import Mapping
import Plan
import Report
import Testing
import V2Model
import V3Client
import V3Model

/// A hand-written v2 estate: one application (owner, one collaborator, one access key, a custom decoder,
/// an OTAA and an ABP device) and one gateway with a collaborator. Keys are test material.
let sampleSnapshotJSON = #"""
{
  "format": "ttn-migrate/v2-snapshot",
  "version": 1,
  "source": {"account_server": "http://127.0.0.1:1/api/v2", "handlers": ["http://127.0.0.1:1/handlers/eu"]},
  "profile": {"username": "alice", "email": "alice@example.com"},
  "applications": [
    {
      "application": {
        "id": "my_app", "name": "My app", "euis": ["70B3D57ED0000001"], "created": "2019-03-01T10:00:00Z",
        "rights": ["settings", "collaborators", "delete", "devices"],
        "collaborators": [
          {"username": "alice", "rights": ["settings", "collaborators", "delete", "devices"]},
          {"username": "bob", "rights": ["settings"]}
        ],
        "access_keys": [{"name": "default key", "key": "ttn-account-v2.test-material", "rights": ["settings"]}]
      },
      "handler": {
        "status": "read", "url": "http://127.0.0.1:1/handlers/eu",
        "application": {"app_id": "my_app", "payload_format": "custom", "decoder": "function Decoder(bytes) { return {}; }"},
        "devices": [
          {
            "app_id": "my_app", "dev_id": "dev-1",
            "lorawan_device": {
              "app_eui": "70B3D57ED0000001", "dev_eui": "0004A30B001C0530", "app_key": "0123456789ABCDEF0123456789ABCDEF",
              "f_cnt_up": 10, "f_cnt_down": 3
            }
          },
          {
            "app_id": "my_app", "dev_id": "dev_2",
            "lorawan_device": {
              "app_eui": "70B3D57ED0000001", "dev_eui": "0004A30B001C0531", "dev_addr": "26011F2B",
              "nwk_s_key": "11111111111111111111111111111111", "app_s_key": "22222222222222222222222222222222", "f_cnt_up": 5, "f_cnt_down": 1
            }
          }
        ]
      }
    }
  ],
  "gateways": [
    {
      "id": "eui-b827ebfffe000001", "activated": true, "frequency_plan": "EU_863_870",
      "collaborators": [{"username": "alice", "rights": ["gateway:owner"]}, {"username": "carol", "rights": ["gateway:settings"]}],
      "owner": {"id": "u-1", "username": "alice"}
    }
  ]
}
"""#

func samplePlan() throws -> MigrationPlan {
    let snapshot = try SnapshotFile.decode(Data(sampleSnapshotJSON.utf8), path: "sample")
    return try Planner.plan(
        snapshot: snapshot,
        options: MappingOptions(owner: .user("alice"), deviceFrequencyPlan: "EU_863_870_TTN", withSession: true, runTag: "run1"))
}

@Suite struct IntendedStateTests {
    @Test func thePlanBecomesApplicationsWithTheirChildrenAndGateways() throws {
        let intended = try IntendedState(plan: samplePlan(), runTag: "run1")
        #expect(intended.owner == .user("alice"))
        #expect(intended.runTag == "run1")
        #expect(intended.applications.map(\.id) == ["my-app"])
        let application = try #require(intended.applications.first)
        #expect(application.record.v2ID == "my_app")
        #expect(FieldComparison.lookup("name", in: application.record.expected) == .string("My app"))
        #expect(application.collaborators.map(\.account) == [.user("bob")])
        #expect(application.apiKeys.map(\.name) == ["v2: default key [run1]"])
        #expect(application.apiKeys.map(\.v2Name) == ["default key"])
        #expect(FieldComparison.lookup("default_formatters.up_formatter", in: application.link?.expected) == .string("FORMATTER_JAVASCRIPT"))
        #expect(application.devices.map(\.v3ID) == ["my-app/dev-1", "my-app/dev-2"])
        #expect(application.devices.map(\.v2ID) == ["my_app/dev-1", "my_app/dev_2"])
        #expect(application.devices[0].parts.map(\.server) == [.identityServer, .joinServer, .networkServer, .applicationServer])
        #expect(application.devices[1].parts.map(\.readPath) == [
            "/applications/my-app/devices/dev-2", "/ns/applications/my-app/devices/dev-2", "/as/applications/my-app/devices/dev-2",
        ])
        #expect(FieldComparison.lookup("root_keys.app_key.key", in: application.devices[0].parts[1].expected) == .string("0123456789ABCDEF0123456789ABCDEF"))
        #expect(FieldComparison.lookup("session.last_f_cnt_up", in: application.devices[1].parts[1].expected) == .number(5))
        #expect(intended.gateways.map(\.id) == ["eui-b827ebfffe000001"])
        #expect(intended.gateways[0].collaborators.map(\.account) == [.user("carol")])
        #expect(intended.collaboratorAccounts == [.user("bob"), .user("carol")])
        #expect(intended.skipped == [
            DiffSkip(kind: .applicationCollaborator, v2ID: "my_app/alice", v3ID: "my-app/alice",
                     reason: "alice is the owner and already holds all rights (RIGHT_APPLICATION_ALL)"),
            DiffSkip(kind: .gatewayCollaborator, v2ID: "eui-b827ebfffe000001/alice", v3ID: "eui-b827ebfffe000001/alice",
                     reason: "alice is the owner and already holds all rights (RIGHT_GATEWAY_ALL)"),
        ])
    }

    @Test func aSkippedApplicationTakesItsChildrenAlongAndASkippedCollaboratorGoesAlone() throws {
        let intended = try IntendedState(plan: samplePlan(), runTag: "run1", skippedSteps: [
            "application:my-app:create": "the ID is taken by someone else",
            "gateway:eui-b827ebfffe000001:collaborator:user:carol": "user carol has no v3 account",
        ])
        #expect(intended.applications.isEmpty)
        #expect(intended.gateways.map(\.id) == ["eui-b827ebfffe000001"])
        #expect(intended.gateways[0].collaborators.isEmpty)
        let cascade = "application my-app is skipped: the ID is taken by someone else"
        #expect(Array(intended.skipped.dropFirst(2)) == [
            DiffSkip(kind: .application, v2ID: "my_app", v3ID: "my-app", reason: "the ID is taken by someone else"),
            DiffSkip(kind: .applicationCollaborator, v2ID: "my_app/bob", v3ID: "my-app/bob", reason: cascade),
            DiffSkip(kind: .applicationAPIKey, v2ID: "my_app/default key", v3ID: "my-app/v2: default key [run1]", reason: cascade),
            DiffSkip(kind: .applicationLink, v2ID: "my_app", v3ID: "my-app", reason: cascade),
            DiffSkip(kind: .device, v2ID: "my_app/dev-1", v3ID: "my-app/dev-1", reason: cascade),
            DiffSkip(kind: .device, v2ID: "my_app/dev_2", v3ID: "my-app/dev-2", reason: cascade),
            DiffSkip(kind: .gatewayCollaborator, v2ID: "eui-b827ebfffe000001/carol", v3ID: "eui-b827ebfffe000001/carol", reason: "user carol has no v3 account"),
        ])
    }
}
