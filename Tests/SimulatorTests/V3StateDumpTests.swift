import Foundation
@testable import Simulator
import Testing

/// The state dump's documented, stable format, and the JSON code under it.
@Suite struct V3StateDumpTests {
    @Test func stateDumpIsStableSortedAndLeavesOutVolatileFields() throws {
        let v3 = try V3Harness(users: ["user1"], organizations: [])
        v3.createApplication("app1", name: "App")
        #expect(v3.call("POST", "/api/v3/applications/app1/api-keys", #"{"name":"k","rights":["RIGHT_APPLICATION_INFO"]}"#).status == 200)
        #expect(v3.call("POST", "/api/v3/applications/app1/devices", #"{"end_device":{"ids":{"device_id":"dev1","dev_eui":"70b3d57ed0000001"}}}"#).status == 200)
        #expect(v3.call("PUT", "/api/v3/as/applications/app1/devices/dev1",
                        #"{"end_device":{"ids":{"device_id":"dev1"},"session":{"dev_addr":"260b1234","last_a_f_cnt_down":7}},"field_mask":{"paths":["session.dev_addr","session.last_a_f_cnt_down"]}}"#).status == 200)
        let expected = """
        {
          "accounts": {
            "organizations": [],
            "users": [
              "user1"
            ]
          },
          "applications": {
            "app1": {
              "api_keys": [
                {
                  "name": "k",
                  "rights": [
                    "RIGHT_APPLICATION_INFO"
                  ]
                }
              ],
              "collaborators": {
                "user:user1": [
                  "RIGHT_ALL"
                ]
              },
              "devices": {
                "dev1": {
                  "as": {
                    "ids": {
                      "application_ids": {
                        "application_id": "app1"
                      },
                      "dev_addr": "260B1234",
                      "device_id": "dev1"
                    },
                    "session": {
                      "dev_addr": "260B1234",
                      "last_a_f_cnt_down": 7
                    }
                  },
                  "is": {
                    "ids": {
                      "application_ids": {
                        "application_id": "app1"
                      },
                      "dev_eui": "70B3D57ED0000001",
                      "device_id": "dev1"
                    }
                  }
                }
              },
              "fields": {
                "administrative_contact": {
                  "user_ids": {
                    "user_id": "user1"
                  }
                },
                "ids": {
                  "application_id": "app1"
                },
                "name": "App",
                "technical_contact": {
                  "user_ids": {
                    "user_id": "user1"
                  }
                }
              }
            }
          },
          "format": "ttn-migrate v3 simulator state 1",
          "gateways": {}
        }

        """
        #expect(String(decoding: v3.simulator.stateDump(), as: UTF8.self) == expected)
    }

    @Test func deletedEntitiesAreMarked() throws {
        let v3 = try V3Harness(users: ["user1"], organizations: [])
        #expect(v3.call("POST", "/api/v3/users/user1/gateways", #"{"gateway":{"ids":{"gateway_id":"gtw1"}}}"#).status == 200)
        #expect(v3.call("DELETE", "/api/v3/gateways/gtw1").status == 200)
        let dump = try #require(try JSONSerialization.jsonObject(with: v3.simulator.stateDump()) as? [String: Any])
        let gateway = try #require((dump["gateways"] as? [String: Any])?["gtw1"] as? [String: Any])
        #expect(gateway["deleted"] as? Bool == true)
        #expect((gateway["fields"] as? [String: Any])?["deleted_at"] == nil)
    }

    @Test func jsonParsingAndWriting() throws {
        let parsed = try V3JSON.parse(#"{"b":[1,2.5,-3e2,true,false,null],"a":"x\"\\\/\n\u00e9\ud83d\ude00","c":{}}"#)
        #expect(parsed[path: "a"] == .string("x\"\\/\né😀"))
        #expect(parsed[path: "b"] == .array([.number(1), .number(2.5), .number(-300), .bool(true), .bool(false), .null]))
        #expect(String(decoding: parsed.serialized(), as: UTF8.self) == #"{"a":"x\"\\/\né😀","b":[1,2.5,-300,true,false,null],"c":{}}"#)
        #expect(V3JSON.format(868_100_000) == "868100000")
        #expect(V3JSON.format(52.37) == "52.37")
        for broken in ["", "{", #"{"a" 1}"#, "[1,]", "01", "1.", #""\ud83d""#, "tru", #"{"a":1} x"#, "\"a\u{01}\""] {
            #expect(throws: V3JSONSyntaxError.self, "\(broken)") { _ = try V3JSON.parse(broken) }
        }
        var value = V3JSON.object([:])
        value.set(path: "session.keys.app_s_key.key", to: .string("K"))
        #expect(value[path: "session.keys.app_s_key.key"] == .string("K"))
        value.set(path: "session.keys.app_s_key.key", to: nil)
        #expect(value == .object([:]))
    }

    @Test func pathsAreComparedComponentByComponent() {
        #expect(V3JSON.isPath("mac_settings.rx2_frequency", within: "mac_settings"))
        #expect(V3JSON.isPath("mac_settings", within: "mac_settings"))
        #expect(!V3JSON.isPath("mac_settings_x", within: "mac_settings"))
        #expect(!V3JSON.isPath("mac", within: "mac_settings"))
        #expect(V3JSON.parentPath("session.keys.app_s_key") == "session.keys")
        #expect(V3JSON.parentPath("session") == nil)
        #expect(V3JSON.lastComponent("session.keys.app_s_key") == "app_s_key")
        #expect(V3JSON.lastComponent("session") == "session")
        #expect(V3Engine.overlaps("session.keys", "session.keys.app_s_key.key"))
        #expect(!V3Engine.overlaps("session.keys", "session.key"))
        #expect(V3Engine.maskSets(["mac_settings"], "mac_settings.rx1_delay"))
        #expect(!V3Engine.maskSets(["mac_settings.rx1_delay"], "mac_settings"))
        let nested = V3JSON.object(["a": .object(["é": .object(["c": .number(1)])])])
        #expect(nested[path: "a.é.c"] == .number(1))
        #expect(nested[path: "a.é"] == .object(["c": .number(1)]))
        #expect(nested[path: "a..c"] == nil)
    }

    @Test func setCreatesParentsSkipsEmptyComponentsAndPrunesWhatItEmpties() {
        var value = V3JSON.object([:])
        value.set(path: "mac_settings.rx2_frequency", to: .string("869525000"))
        #expect(value == .object(["mac_settings": .object(["rx2_frequency": .string("869525000")])]))
        // Empty components are skipped, as splitting without them did: each form lands on the same field.
        for path in ["a..b", ".a.b", "a.b.", "..a...b.."] {
            var other = V3JSON.object([:])
            other.set(path: path, to: .number(1))
            #expect(other == .object(["a": .object(["b": .number(1)])]), "\(path)")
        }
        value.set(path: "mac_settings.rx2_frequency", to: nil)
        #expect(value == .object([:]))
        var replaced = V3JSON.string("x")
        replaced.set(path: "..", to: .number(2))
        #expect(replaced == .number(2))
        replaced.set(path: "", to: nil)
        #expect(replaced == .object([:]))
        var scalarParent = V3JSON.object(["a": .number(1)])
        scalarParent.set(path: "a.b", to: .bool(true))
        #expect(scalarParent == .object(["a": .object(["b": .bool(true)])]))
    }

    @Test func bytesAcceptHexInAnyCaseAndBase64() throws {
        #expect(V3Hex.decode("70b3d57ed0000001", count: 8).map(V3Hex.encode) == "70B3D57ED0000001")
        // Base64 of the same 8 bytes, standard and URL alphabets, padding optional.
        #expect(V3Hex.decode("cLPVftAAAAE=", count: 8).map(V3Hex.encode) == "70B3D57ED0000001")
        #expect(V3Hex.decode("cLPVftAAAAE", count: 8).map(V3Hex.encode) == "70B3D57ED0000001")
        #expect(V3Hex.decode("70B3D57ED00000", count: 8) == nil)
        #expect(V3Hex.decode("zzzzzzzzzzzzzzzz", count: 8) == nil)
        #expect(V3MessageSchema.snakeCase("supports32BitFCnt") == "supports_32_bit_f_cnt")
        #expect(V3MessageSchema.snakeCase("fNwkSIntKey") == "f_nwk_s_int_key")
    }

    @Test func lowerCamelFieldNamesAreAccepted() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")
        let answer = v3.call("PUT", "/api/v3/ns/applications/app1/devices/dev1", """
        {"endDevice":{"ids":{"deviceId":"dev1","devEui":"70B3D57ED0000001","joinEui":"70B3D57ED0000000"},"supportsJoin":true,
          "frequencyPlanId":"EU_863_870_TTN","lorawanVersion":"MAC_V1_0_2","lorawanPhyVersion":"PHY_V1_0_2_REV_B",
          "macSettings":{"supports32BitFCnt":true}},
         "fieldMask":{"paths":["supports_join","frequency_plan_id","lorawan_version","lorawan_phy_version","mac_settings.supports_32_bit_f_cnt"]}}
        """)
        #expect(answer.status == 200, "\(answer.text)")
        #expect(answer.value("mac_settings.supports_32_bit_f_cnt") as? Bool == true)
        #expect(answer.string("ids.dev_eui") == "70B3D57ED0000001")
    }

    @Test func idRule() {
        #expect(V3Validate.isID("app1", minimumLength: 3))
        #expect(V3Validate.isID("a-b-c", minimumLength: 3))
        #expect(!V3Validate.isID("a-b", minimumLength: 3))
        #expect(V3Validate.isID("ab", minimumLength: 2))
        #expect(!V3Validate.isID("a--b", minimumLength: 3))
        #expect(!V3Validate.isID("-abc", minimumLength: 3))
        #expect(!V3Validate.isID("abc-", minimumLength: 3))
        #expect(!V3Validate.isID("ab_c", minimumLength: 3))
        #expect(V3Validate.isID(String(repeating: "a", count: 36), minimumLength: 3))
        #expect(!V3Validate.isID(String(repeating: "a", count: 37), minimumLength: 3))
        #expect(V3Validate.isHostPort("eu1.cloud.thethings.network:1881"))
        #expect(!V3Validate.isHostPort("https://eu1.cloud.thethings.network"))
        #expect(V3Validate.isGatewayServerAddress("mqtts://eu1.cloud.thethings.network:8883"))
    }
}
