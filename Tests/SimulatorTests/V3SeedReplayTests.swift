import Foundation
import Simulator
import Testing

/// The OTAA, ABP and gateway flows of seed document 000 ("Using the API"), sent as written there with the
/// placeholders filled (valid EUIs and keys, an existing application `app1`, user `user1`).
@Suite struct V3SeedReplayTests {
    @Test func otaaFlowOfSeed000IsAccepted() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")

        // IS: the seed's body, including the `field_mask` the IS ignores as an unknown field (§17); lower-case hex in.
        let isAnswer = v3.call("POST", "/api/v3/applications/app1/devices", """
        {"end_device": {"ids": {"device_id": "newdev1", "dev_eui": "70b3d57ed005a1b2", "join_eui": "70B3D57ED0000000"},
          "join_server_address": "thethings.example.com", "network_server_address": "thethings.example.com",
          "application_server_address": "thethings.example.com"},
         "field_mask": {"paths": ["join_server_address", "network_server_address", "application_server_address", "ids.dev_eui", "ids.join_eui"]}}
        """)
        #expect(isAnswer.status == 200, "\(isAnswer.text)")
        #expect(isAnswer.string("ids.dev_eui") == "70B3D57ED005A1B2")
        #expect(isAnswer.string("ids.application_ids.application_id") == "app1")
        #expect(isAnswer.string("join_server_address") == "thethings.example.com")
        #expect(isAnswer.string("created_at") != nil)

        let jsAnswer = v3.call("PUT", "/api/v3/js/applications/app1/devices/newdev1", """
        {"end_device": {"ids": {"device_id": "newdev1", "dev_eui": "70B3D57ED005A1B2", "join_eui": "70B3D57ED0000000"},
          "network_server_address": "thethings.example.com", "application_server_address": "thethings.example.com",
          "root_keys": {"app_key": {"key": "8E1F4A3B5C6D7E8F9A0B1C2D3E4F5A6B"}}},
         "field_mask": {"paths": ["network_server_address", "application_server_address", "ids.device_id", "ids.dev_eui", "ids.join_eui", "root_keys.app_key.key"]}}
        """)
        #expect(jsAnswer.status == 200, "\(jsAnswer.text)")
        #expect(jsAnswer.string("root_keys.app_key.key") == "8E1F4A3B5C6D7E8F9A0B1C2D3E4F5A6B")

        let nsAnswer = v3.call("PUT", "/api/v3/ns/applications/app1/devices/newdev1", """
        {"end_device": {"supports_join": true, "lorawan_version": "1.0.2",
          "ids": {"device_id": "newdev1", "dev_eui": "70B3D57ED005A1B2", "join_eui": "70B3D57ED0000000"},
          "lorawan_phy_version": "1.0.2-b", "frequency_plan_id": "EU_863_870_TTN"},
         "field_mask": {"paths": ["supports_join", "lorawan_version", "ids.device_id", "ids.dev_eui", "ids.join_eui", "lorawan_phy_version", "frequency_plan_id"]}}
        """)
        #expect(nsAnswer.status == 200, "\(nsAnswer.text)")
        #expect(nsAnswer.value("supports_join") as? Bool == true)
        #expect(nsAnswer.string("lorawan_version") == "MAC_V1_0_2")
        #expect(nsAnswer.string("lorawan_phy_version") == "PHY_V1_0_2_REV_B")
        #expect(nsAnswer.string("frequency_plan_id") == "EU_863_870_TTN")

        let asAnswer = v3.call("PUT", "/api/v3/as/applications/app1/devices/newdev1", """
        {"end_device": {"ids": {"device_id": "newdev1", "dev_eui": "70B3D57ED005A1B2", "join_eui": "70B3D57ED0000000"}},
         "field_mask": {"paths": ["ids.device_id", "ids.dev_eui", "ids.join_eui"]}}
        """)
        #expect(asAnswer.status == 200, "\(asAnswer.text)")

        let read = v3.call("GET", "/api/v3/applications/app1/devices/newdev1", query: ["field_mask": "name,description,locations,join_server_address"])
        #expect(read.status == 200)
        #expect(read.string("join_server_address") == "thethings.example.com")
        #expect(read.value("name") == nil)

        let dump = String(decoding: v3.simulator.stateDump(), as: UTF8.self)
        #expect(dump.contains("\"app_key\": {\n"))
        #expect(dump.contains("\"8E1F4A3B5C6D7E8F9A0B1C2D3E4F5A6B\""))
    }

    @Test func abpFlowOfSeed000IsAccepted() throws {
        let v3 = try V3Harness()
        v3.createApplication("app1")

        let isAnswer = v3.call("POST", "/api/v3/applications/app1/devices", """
        {"end_device": {"ids": {"device_id": "newdev1", "dev_eui": "70B3D57ED005A1B3"},
          "network_server_address": "thethings.example.com", "application_server_address": "thethings.example.com"},
         "field_mask": {"paths": ["network_server_address", "application_server_address", "ids.dev_eui"]}}
        """)
        #expect(isAnswer.status == 200, "\(isAnswer.text)")

        // Verbatim, including the top-level "resets_f_cnt": false slip (§17), an unknown field the decoder drops.
        let nsAnswer = v3.call("PUT", "/api/v3/ns/applications/app1/devices/newdev1", """
        {"end_device": {"supports_join": false, "lorawan_version": "1.0.2",
          "ids": {"device_id": "newdev1", "dev_eui": "70B3D57ED005A1B3"},
          "session": {"keys": {"f_nwk_s_int_key": {"key": "0123456789ABCDEF0123456789ABCDEF"}}, "dev_addr": "260B1234"},
          "mac_settings": {"resets_f_cnt": true, "factory_preset_frequencies": ["868100000", "868300000", "868500000", "867100000", "867300000", "867500000", "867700000", "867900000"]},
          "resets_f_cnt": false, "lorawan_phy_version": "1.0.2-b", "frequency_plan_id": "EU_863_870_TTN"},
         "field_mask": {"paths": ["supports_join", "lorawan_version", "ids.device_id", "ids.dev_eui", "session.keys.f_nwk_s_int_key.key",
                                  "session.dev_addr", "mac_settings.resets_f_cnt", "mac_settings.factory_preset_frequencies",
                                  "lorawan_phy_version", "frequency_plan_id"]}}
        """)
        #expect(nsAnswer.status == 200, "\(nsAnswer.text)")
        #expect(nsAnswer.value("resets_f_cnt") == nil)
        #expect(nsAnswer.value("mac_settings.resets_f_cnt") as? Bool == true)

        let asAnswer = v3.call("PUT", "/api/v3/as/applications/app1/devices/newdev1", """
        {"end_device": {"ids": {"device_id": "newdev1", "dev_eui": "70B3D57ED005A1B3"},
          "session": {"keys": {"app_s_key": {"key": "FEDCBA9876543210FEDCBA9876543210"}}, "dev_addr": "260B1234"},
          "skip_payload_crypto": false},
         "field_mask": {"paths": ["ids.device_id", "ids.dev_eui", "session.keys.app_s_key.key", "session.dev_addr", "skip_payload_crypto"]}}
        """)
        #expect(asAnswer.status == 200, "\(asAnswer.text)")
        #expect(asAnswer.string("session.keys.app_s_key.key") == "FEDCBA9876543210FEDCBA9876543210")

        // For LoRaWAN 1.0.x the NS copies FNwkSIntKey to SNwkSIntKey and NwkSEncKey; the session DevAddr becomes ids.dev_addr.
        let nsRead = v3.call("GET", "/api/v3/ns/applications/app1/devices/newdev1",
                             query: ["field_mask": "session.keys.s_nwk_s_int_key.key,session.keys.nwk_s_enc_key.key,session.dev_addr,mac_settings"])
        #expect(nsRead.status == 200, "\(nsRead.text)")
        #expect(nsRead.string("session.keys.s_nwk_s_int_key.key") == "0123456789ABCDEF0123456789ABCDEF")
        #expect(nsRead.string("session.keys.nwk_s_enc_key.key") == "0123456789ABCDEF0123456789ABCDEF")
        #expect(nsRead.string("session.dev_addr") == "260B1234")
        #expect(nsRead.string("ids.dev_addr") == "260B1234")
        #expect(nsRead.strings("mac_settings.factory_preset_frequencies")?.count == 8)
        // The AS session key never reached the NS.
        #expect(nsRead.value("session.keys.app_s_key") == nil)
    }

    @Test func gatewayRegistrationOfSeed000IsAccepted() throws {
        let v3 = try V3Harness()
        let answer = v3.call("POST", "/api/v3/users/user1/gateways", """
        {"gateway": {"ids": {"gateway_id": "gtw1", "eui": "B827EBFFFE123456"}, "name": "my gateway",
          "gateway_server_address": "thethings.example.com", "frequency_plan_id": "EU_863_870_TTN"}}
        """)
        #expect(answer.status == 200, "\(answer.text)")
        #expect(answer.string("ids.eui") == "B827EBFFFE123456")
        #expect(answer.strings("frequency_plan_ids") == ["EU_863_870_TTN"])

        let read = v3.call("GET", "/api/v3/gateways/gtw1", query: ["field_mask": "name,frequency_plan_id,frequency_plan_ids,gateway_server_address"])
        #expect(read.status == 200, "\(read.text)")
        #expect(read.string("name") == "my gateway")
        #expect(read.string("frequency_plan_id") == "EU_863_870_TTN")
        #expect(read.string("gateway_server_address") == "thethings.example.com")
        #expect(read.string("ids.gateway_id") == "gtw1")

        let collaborators = v3.call("GET", "/api/v3/gateways/gtw1/collaborators")
        #expect(collaborators.string("collaborators.0.ids.user_ids.user_id") == "user1")
        #expect(collaborators.strings("collaborators.0.rights") == ["RIGHT_ALL"])
        #expect(collaborators.response.headers["X-Total-Count"] == "1")
    }
}
