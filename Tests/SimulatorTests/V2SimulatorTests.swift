import Foundation
import HTTP
import Testing
@testable import Simulator

/// A small hand-written estate: one application with three devices on handler `eu`, one on handler
/// `us` whose bearer rights lack `settings`, a deleted one, one on no handler, one gateway.
let v2TestEstate = #"""
{
  "_note": "ignored",
  "users": [
    {"username": "alice", "email": "alice@example.com", "name": {"first": "Alice", "last": "A"}, "_note": "owner"},
    {"username": "bob"}
  ],
  "applications": [
    {"id": "app-one", "name": "App one", "euis": ["70B3D57ED0000001", "70B3D57ED0000002"],
     "created": "2019-01-01T00:00:00Z", "rights": ["settings", "devices", "collaborators"],
     "collaborators": [{"username": "alice", "email": "alice@example.com", "rights": ["settings", "devices", "collaborators"]}],
     "access_keys": [
       {"name": "full", "key": "ttn-account-v2.full-key-one", "rights": ["settings", "devices"]},
       {"name": "messages", "key": "ttn-account-v2.messages-key-one", "rights": ["messages:up:r"]}
     ],
     "handler": {"name": "eu", "application": {"payload_format": "cayennelpp"},
       "devices": [
         {"dev_id": "dev-a", "description": "first", "lorawan_device": {"app_eui": "70B3D57ED0000001",
           "dev_eui": "0004A30B00000001", "dev_addr": "26011A01", "nwk_s_key": "11111111111111111111111111111111",
           "app_s_key": "22222222222222222222222222222222", "f_cnt_up": 70000, "f_cnt_down": 12,
           "uses32_bit_f_cnt": true, "last_seen": "1625140800000000000", "used_dev_nonces": ["0001"]}},
         {"dev_id": "dev-b", "lorawan_device": {"app_eui": "70B3D57ED0000001", "dev_eui": "0004A30B00000002",
           "app_key": "33333333333333333333333333333333"}},
         {"dev_id": "dev-c"}
       ]}},
    {"id": "app-two", "rights": ["devices"], "euis": [],
     "access_keys": [{"name": "k", "key": "ttn-account-v2.key-two", "rights": ["devices"]}],
     "handler": {"name": "us"}},
    {"id": "gone", "deleted": "2021-01-01T00:00:00Z", "rights": ["settings"]},
    {"id": "nowhere", "rights": ["settings", "devices"]}
  ],
  "gateways": [
    {"id": "eui-b827ebfffe000001", "frequency_plan": "EU_863_870", "key": "ttn-account-v2.gateway-key",
     "antenna_location": {"latitude": 52.1, "longitude": 4.2, "altitude": 3},
     "collaborators": [{"username": "alice", "rights": ["gateway:owner"]}]}
  ]
}
"""#

let v2TestToken = "test-bearer-token-0123456789"

/// A v2 simulator on the test estate, a libcurl client, always stopped at the end.
func withV2Simulator<T>(
    options: V2SimulatorOptions = V2SimulatorOptions(), server: SimServerOptions = SimServerOptions(),
    _ body: (RunningV2Simulator, V2TestClient) async throws -> T
) async throws -> T {
    let estate = try V2Estate.parse(Data(v2TestEstate.utf8), source: "test estate")
    let running = try await V2Simulator.start(estate: estate, token: v2TestToken, options: options, server: server)
    let client = V2TestClient(base: running.baseURL)
    do {
        let result = try await body(running, client)
        await running.stop()
        return result
    } catch {
        await running.stop()
        throw error
    }
}

/// GETs through the project's libcurl client.
struct V2TestClient: Sendable {
    let base: String
    let http = HTTPClient()

    func get(_ path: String, auth: String? = "Bearer \(v2TestToken)") async throws -> HTTPResponse {
        var headers: [(name: String, value: String)] = []
        if let auth { headers.append((name: "Authorization", value: auth)) }
        return try await http.send(HTTPRequest(method: "GET", url: base + path, headers: headers))
    }

    func send(_ method: String, _ path: String, body: String = "{}", auth: String = "Bearer \(v2TestToken)") async throws -> HTTPResponse {
        try await http.send(HTTPRequest(method: method, url: base + path, headers: [(name: "Authorization", value: auth)], body: Data(body.utf8)))
    }
}

extension HTTPResponse {
    var jsonObject: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
    var jsonArray: [Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [Any] }
    var text: String { String(decoding: body, as: UTF8.self) }
}

// Serialized: the libcurl client runs transfers on a shared Dispatch queue, so many tests sending at
// once slow each other down and would skew the timing checks (latency, rate limits).
@Suite("V2 simulator over HTTP", .serialized)
struct V2SimulatorTests {
    // MARK: account server

    @Test("users/me is users[0] without notes")
    func profile() async throws {
        try await withV2Simulator { _, client in
            let response = try await client.get("/api/v2/users/me")
            #expect(response.status == 200)
            #expect(response.headers["Content-Type"] == "application/json")
            #expect(response.text == #"{"email":"alice@example.com","name":{"first":"Alice","last":"A"},"username":"alice"}"#)
        }
    }

    @Test("deleted applications are listed only with ?deleted=1")
    func applicationList() async throws {
        try await withV2Simulator { _, client in
            let live = try await client.get("/api/v2/applications")
            #expect(live.status == 200)
            #expect(live.jsonArray?.compactMap { ($0 as? [String: Any])?["id"] as? String } == ["app-one", "app-two", "nowhere"])
            let all = try await client.get("/api/v2/applications?deleted=1")
            #expect(all.jsonArray?.compactMap { ($0 as? [String: Any])?["id"] as? String } == ["app-one", "app-two", "gone", "nowhere"])
            #expect(!all.text.contains("handler"))
            #expect(!all.text.contains("_note"))
        }
    }

    @Test("one application and its parts are served as the estate has them")
    func applicationParts() async throws {
        try await withV2Simulator { _, client in
            let app = try await client.get("/api/v2/applications/app-one")
            #expect(app.status == 200)
            let object = try #require(app.jsonObject)
            #expect(object["id"] as? String == "app-one")
            #expect(object["name"] as? String == "App one")
            #expect(object["created"] as? String == "2019-01-01T00:00:00Z")
            #expect(object["handler"] == nil)
            #expect(try await client.get("/api/v2/applications/app-one/euis").text == #"["70B3D57ED0000001","70B3D57ED0000002"]"#)
            #expect(try await client.get("/api/v2/applications/app-one/rights").text == #"["settings","devices","collaborators"]"#)
            #expect(try await client.get("/api/v2/applications/app-one/collaborators").text
                == #"[{"email":"alice@example.com","rights":["settings","devices","collaborators"],"username":"alice"}]"#)
            #expect(try await client.get("/api/v2/applications/app-one/access-keys").text
                == #"[{"key":"ttn-account-v2.full-key-one","name":"full","rights":["settings","devices"]},{"key":"ttn-account-v2.messages-key-one","name":"messages","rights":["messages:up:r"]}]"#)
            #expect(try await client.get("/api/v2/applications/gone").jsonObject?["deleted"] as? String == "2021-01-01T00:00:00Z")
            #expect(try await client.get("/api/v2/applications/app-two/collaborators").text == "[]")
            let missing = try await client.get("/api/v2/applications/nope")
            #expect(missing.status == 404)
            #expect(missing.text == #"{"code":404,"error":"application \"nope\" not found"}"#)
            let missingPart = try await client.get("/api/v2/applications/nope/euis")
            #expect(missingPart.status == 404)
        }
    }

    @Test("gateways, one gateway and its collaborators; key and token served")
    func gateways() async throws {
        try await withV2Simulator { _, client in
            let list = try await client.get("/api/v2/gateways")
            #expect(list.status == 200)
            #expect(list.text.contains(#""key":"ttn-account-v2.gateway-key""#))
            let gateway = try await client.get("/api/v2/gateways/eui-b827ebfffe000001")
            #expect(gateway.jsonObject?["frequency_plan"] as? String == "EU_863_870")
            #expect((gateway.jsonObject?["antenna_location"] as? [String: Any])?["altitude"] as? Int == 3)
            #expect(try await client.get("/api/v2/gateways/eui-b827ebfffe000001/collaborators").text
                == #"[{"rights":["gateway:owner"],"username":"alice"}]"#)
            let missing = try await client.get("/api/v2/gateways/eui-0000000000000000")
            #expect(missing.status == 404)
            #expect(missing.text == #"{"code":404,"error":"gateway \"eui-0000000000000000\" not found"}"#)
        }
    }

    @Test("the account server wants the bearer token; the scheme is case-insensitive")
    func accountAuth() async throws {
        try await withV2Simulator { _, client in
            let none = try await client.get("/api/v2/applications", auth: nil)
            #expect(none.status == 401)
            #expect(none.text == #"{"code":401,"error":"missing credentials: send Authorization: Bearer <token>"}"#)
            let wrong = try await client.get("/api/v2/applications", auth: "Bearer not-the-token")
            #expect(wrong.status == 401)
            #expect(wrong.text == #"{"code":401,"error":"the access token is not valid"}"#)
            #expect(!wrong.text.contains("not-the-token"))
            let key = try await client.get("/api/v2/applications", auth: "Key ttn-account-v2.full-key-one")
            #expect(key.status == 401)
            let lower = try await client.get("/api/v2/applications", auth: "bearer \(v2TestToken)")
            #expect(lower.status == 200)
            let unknown = try await client.get("/api/v2/things")
            #expect(unknown.status == 404)
            #expect(unknown.jsonObject?["code"] as? Int == 404)
        }
    }

    @Test("the account server is read-only; the handler serves no write but SetDevice")
    func readOnly() async throws {
        try await withV2Simulator { _, client in
            let post = try await client.send("POST", "/api/v2/applications")
            #expect(post.status == 405)
            #expect(post.jsonObject?["code"] as? Int == 405)
            let delete = try await client.send("DELETE", "/handlers/eu/applications/app-one/devices/dev-a")
            #expect(delete.status == 405)
            #expect(delete.jsonObject?["code"] as? Int == 12)
            let putApplication = try await client.send("PUT", "/handlers/eu/applications/app-one")
            #expect(putApplication.jsonObject?["code"] as? Int == 12)
        }
    }

    // MARK: SetDevice (read-only v2: keys, address and counters only)

    /// dev-a as stored, with its session cleared the way the cut-over sends it.
    static let devAClearedBody = #"""
    {"app_id": "app-one", "dev_id": "dev-a", "description": "first", "lorawan_device": {"app_id": "app-one", "dev_id": "dev-a",
     "app_eui": "70B3D57ED0000001", "dev_eui": "0004A30B00000001", "dev_addr": "", "nwk_s_key": "", "app_s_key": "", "app_key": "",
     "f_cnt_up": 70000, "f_cnt_down": 12, "uses32_bit_f_cnt": true}}
    """#

    @Test("SetDevice clears keys and address given as empty; counters and last_seen stay; the list follows")
    func setDeviceClearsKeys() async throws {
        try await withV2Simulator { running, client in
            let path = "/handlers/eu/applications/app-one/devices/dev-a"
            let put = try await client.send("PUT", path, body: Self.devAClearedBody, auth: "Key ttn-account-v2.full-key-one")
            #expect(put.status == 200, "\(put.text)")
            let read = try await client.get(path)
            let lorawan = read.jsonObject?["lorawan_device"] as? [String: Any]
            // A cleared key reads back as "" (AES128Key.String() of the zero key).
            for field in ["nwk_s_key", "app_s_key", "dev_addr", "app_key"] { #expect(lorawan?[field] as? String ?? "" == "", "\(field)") }
            #expect(lorawan?["f_cnt_up"] as? Int == 70000)
            #expect(lorawan?["f_cnt_down"] as? Int == 12)
            #expect(lorawan?["last_seen"] as? String == "1625140800000000000")
            #expect(read.jsonObject?["description"] as? String == "first")
            #expect(running.simulator.storedDevice(application: "app-one", device: "dev-a") == read.body)
            let list = try await client.get("/handlers/eu/applications/app-one/devices")
            #expect(!list.text.contains("26011A01"))
            #expect(list.text.contains("dev-b"))
            // The same body again is the same device (SetDevice is idempotent).
            let again = try await client.send("POST", path, body: Self.devAClearedBody)
            #expect(again.status == 200)
            #expect(try await client.get(path).body == read.body)
        }
    }

    @Test("SetDevice clears an OTAA device's AppKey; keys left out keep their value")
    func setDeviceKeepsOmittedKeys() async throws {
        try await withV2Simulator { _, client in
            let path = "/handlers/eu/applications/app-one/devices/dev-b"
            let keep = #"{"lorawan_device": {"app_eui": "70B3D57ED0000001", "dev_eui": "0004A30B00000002"}}"#
            let kept = try await client.send("PUT", path, body: keep)
            #expect(kept.status == 200)
            let afterKeep = try await client.get(path)
            #expect(afterKeep.text.contains("33333333333333333333333333333333"))
            let clear = #"{"lorawan_device": {"app_eui": "70B3D57ED0000001", "dev_eui": "0004A30B00000002", "app_key": ""}}"#
            let cleared = try await client.send("PUT", path, body: clear)
            #expect(cleared.status == 200)
            let afterClear = try await client.get(path)
            #expect(!afterClear.text.contains("33333333333333333333333333333333"))
        }
    }

    @Test("read-only v2 refuses any other change and any new device with gRPC 7")
    func setDeviceRefusesOtherChanges() async throws {
        try await withV2Simulator { running, client in
            let path = "/handlers/eu/applications/app-one/devices/dev-a"
            let before = running.simulator.storedDevice(application: "app-one", device: "dev-a")
            let refusals = [
                Self.devAClearedBody.replacingOccurrences(of: #""description": "first""#, with: #""description": "changed""#),
                Self.devAClearedBody.replacingOccurrences(of: "0004A30B00000001", with: "0004A30B000000FF"),
                Self.devAClearedBody.replacingOccurrences(of: #""uses32_bit_f_cnt": true"#, with: #""uses32_bit_f_cnt": false"#),
                Self.devAClearedBody.replacingOccurrences(of: #""description": "first","#, with: #""description": "first", "latitude": 52.1,"#),
            ]
            for body in refusals {
                let refused = try await client.send("PUT", path, body: body)
                #expect(refused.status == 403, "\(body)")
                #expect(refused.jsonObject?["code"] as? Int == 7)
                #expect((refused.jsonObject?["error"] as? String)?.hasPrefix("V2 clusters are now read-only") == true)
            }
            let created = try await client.send("PUT", "/handlers/eu/applications/app-one/devices/dev-new", body: #"{"lorawan_device": {}}"#)
            #expect(created.status == 403)
            #expect(created.jsonObject?["code"] as? Int == 7)
            #expect(running.simulator.storedDevice(application: "app-one", device: "dev-a") == before)
            #expect(running.simulator.storedDevice(application: "app-one", device: "dev-new") == nil)
        }
    }

    @Test("SetDevice with bad JSON, no LoRaWAN device, bad hex, bad counters or another ID is gRPC 3")
    func setDeviceInvalidArguments() async throws {
        try await withV2Simulator { running, client in
            let path = "/handlers/eu/applications/app-one/devices/dev-a"
            let before = running.simulator.storedDevice(application: "app-one", device: "dev-a")
            let bodies = [
                #"{"lorawan_device": {"#,
                #"[]"#,
                #"{"dev_id": "dev-a"}"#,
                #"{"lorawan_device": {"app_key": "0011"}}"#,
                #"{"lorawan_device": {"nwk_s_key": "ZZ111111111111111111111111111111"}}"#,
                #"{"lorawan_device": {"f_cnt_up": -1}}"#,
                #"{"lorawan_device": {"f_cnt_down": 4294967296}}"#,
                #"{"dev_id": "dev-b", "lorawan_device": {}}"#,
            ]
            for body in bodies {
                let refused = try await client.send("PUT", path, body: body)
                #expect(refused.status == 400, "\(body): \(refused.text)")
                #expect(refused.jsonObject?["code"] as? Int == 3)
            }
            #expect(running.simulator.storedDevice(application: "app-one", device: "dev-a") == before)
        }
    }

    @Test("SetDevice needs a credential with the devices right on that application")
    func setDeviceAuth() async throws {
        try await withV2Simulator { running, client in
            let path = "/handlers/eu/applications/app-one/devices/dev-a"
            let before = running.simulator.storedDevice(application: "app-one", device: "dev-a")
            #expect(try await client.send("PUT", path, body: Self.devAClearedBody, auth: "Bearer wrong").status == 401)
            let weak = try await client.send("PUT", path, body: Self.devAClearedBody, auth: "Key ttn-account-v2.messages-key-one")
            #expect(weak.status == 403)
            #expect(weak.text == #"{"code":7,"error":"No \"devices\" rights to Application \"app-one\""}"#)
            #expect(try await client.send("PUT", path, body: Self.devAClearedBody, auth: "Key ttn-account-v2.key-two").status == 401)
            #expect(running.simulator.storedDevice(application: "app-one", device: "dev-a") == before)
        }
    }

    // MARK: handler

    @Test("handler application: key with settings, bearer with settings; key scheme case-insensitive")
    func handlerApplication() async throws {
        try await withV2Simulator { _, client in
            let byKey = try await client.get("/handlers/eu/applications/app-one", auth: "Key ttn-account-v2.full-key-one")
            #expect(byKey.status == 200)
            #expect(byKey.text == #"{"app_id":"app-one","payload_format":"cayennelpp"}"#)
            let lowerKey = try await client.get("/handlers/eu/applications/app-one", auth: "key ttn-account-v2.full-key-one")
            #expect(lowerKey.status == 200)
            let byBearer = try await client.get("/handlers/eu/applications/app-one")
            #expect(byBearer.status == 200)
        }
    }

    @Test("handler refusals: no credential, wrong token, another app's key (401); missing right (403)")
    func handlerAuthFailures() async throws {
        try await withV2Simulator { _, client in
            let none = try await client.get("/handlers/eu/applications/app-one", auth: nil)
            #expect(none.status == 401)
            #expect(none.text == #"{"code":16,"error":"neither token nor key present"}"#)
            let badToken = try await client.get("/handlers/eu/applications/app-one", auth: "Bearer wrong")
            #expect(badToken.status == 401)
            #expect(badToken.jsonObject?["code"] as? Int == 16)
            let otherKey = try await client.get("/handlers/us/applications/app-two/devices", auth: "Key ttn-account-v2.full-key-one")
            #expect(otherKey.status == 401)
            #expect(otherKey.text == #"{"code":16,"error":"the access key is not valid for application \"app-two\""}"#)
            let weakKey = try await client.get("/handlers/eu/applications/app-one/devices", auth: "Key ttn-account-v2.messages-key-one")
            #expect(weakKey.status == 403)
            #expect(weakKey.text == #"{"code":7,"error":"No \"devices\" rights to Application \"app-one\""}"#)
            let weakKeySettings = try await client.get("/handlers/eu/applications/app-one", auth: "Key ttn-account-v2.messages-key-one")
            #expect(weakKeySettings.status == 403)
            #expect(weakKeySettings.text == #"{"code":7,"error":"No \"settings\" rights to Application \"app-one\""}"#)
            // The bearer's rights on app-two are only "devices": the handler application needs "settings".
            let bearerNoSettings = try await client.get("/handlers/us/applications/app-two")
            #expect(bearerNoSettings.status == 403)
            let bearerDevices = try await client.get("/handlers/us/applications/app-two/devices")
            #expect(bearerDevices.status == 200)
            #expect(bearerDevices.text == "{}")
            #expect(bearerDevices.headers["Grpc-Metadata-Total"] == "0")
            // An application the account server does not know: no rights for the bearer.
            let unknownApp = try await client.get("/handlers/eu/applications/stranger/devices")
            #expect(unknownApp.status == 403)
        }
    }

    @Test("an application on another handler or none is 404; so is an unknown handler or device")
    func handlerNotFound() async throws {
        try await withV2Simulator { _, client in
            let elsewhere = try await client.get("/handlers/us/applications/app-one")
            #expect(elsewhere.status == 404)
            #expect(elsewhere.text == #"{"code":5,"error":"Application not registered to this Handler"}"#)
            let nowhere = try await client.get("/handlers/eu/applications/nowhere/devices")
            #expect(nowhere.status == 404)
            #expect(nowhere.jsonObject?["code"] as? Int == 5)
            let noHandler = try await client.get("/handlers/asia/applications/app-one")
            #expect(noHandler.status == 404)
            #expect(noHandler.jsonObject?["error"] as? String == "no v2 handler \"asia\" in this simulator; its handlers: eu, us")
            let noDevice = try await client.get("/handlers/eu/applications/app-one/devices/dev-z")
            #expect(noDevice.status == 404)
            #expect(noDevice.text == #"{"code":5,"error":"Device \"dev-z\" not found in application \"app-one\""}"#)
        }
    }

    @Test("the device list has no frame counters or last_seen; the device GET has them; nonces never")
    func countersOnlyOnGet() async throws {
        try await withV2Simulator { _, client in
            let list = try await client.get("/handlers/eu/applications/app-one/devices", auth: "Key ttn-account-v2.full-key-one")
            #expect(list.status == 200)
            let devices = try #require(list.jsonObject?["devices"] as? [[String: Any]])
            #expect(devices.map { $0["dev_id"] as? String } == ["dev-a", "dev-b", "dev-c"])
            let listed = try #require(devices[0]["lorawan_device"] as? [String: Any])
            #expect(Set(listed.keys) == [
                "app_eui", "dev_eui", "dev_addr", "nwk_s_key", "app_s_key", "uses32_bit_f_cnt", "app_id", "dev_id",
            ])
            #expect(devices[0]["app_id"] as? String == "app-one")
            #expect(devices[2].keys.sorted() == ["app_id", "dev_id"])

            let one = try await client.get("/handlers/eu/applications/app-one/devices/dev-a", auth: "Key ttn-account-v2.full-key-one")
            #expect(one.status == 200)
            #expect(one.text == #"{"app_id":"app-one","description":"first","dev_id":"dev-a","lorawan_device":{"app_eui":"70B3D57ED0000001","app_id":"app-one","app_s_key":"22222222222222222222222222222222","dev_addr":"26011A01","dev_eui":"0004A30B00000001","dev_id":"dev-a","f_cnt_down":12,"f_cnt_up":70000,"last_seen":"1625140800000000000","nwk_s_key":"11111111111111111111111111111111","uses32_bit_f_cnt":true}}"#)
        }
    }

    @Test("device paging with limit and offset, totals in Grpc-Metadata headers, {} past the end")
    func paging() async throws {
        try await withV2Simulator { _, client in
            let auth = "Key ttn-account-v2.full-key-one"
            func ids(_ response: HTTPResponse) -> [String] {
                ((response.jsonObject?["devices"] as? [[String: Any]]) ?? []).compactMap { $0["dev_id"] as? String }
            }
            let first = try await client.get("/handlers/eu/applications/app-one/devices?limit=2&offset=0", auth: auth)
            #expect(ids(first) == ["dev-a", "dev-b"])
            #expect(first.headers["Grpc-Metadata-Total"] == "3")
            #expect(first.headers["Grpc-Metadata-Selected"] == "2")
            let second = try await client.get("/handlers/eu/applications/app-one/devices?limit=2&offset=2", auth: auth)
            #expect(ids(second) == ["dev-c"])
            #expect(second.headers["Grpc-Metadata-Selected"] == "1")
            let past = try await client.get("/handlers/eu/applications/app-one/devices?limit=2&offset=5", auth: auth)
            #expect(past.status == 200)
            #expect(past.text == "{}")
            #expect(past.headers["Grpc-Metadata-Total"] == "3")
            #expect(past.headers["Grpc-Metadata-Selected"] == "0")
            let all = try await client.get("/handlers/eu/applications/app-one/devices?offset=1", auth: auth)
            #expect(ids(all) == ["dev-b", "dev-c"])
            let bad = try await client.get("/handlers/eu/applications/app-one/devices?limit=abc", auth: auth)
            #expect(bad.status == 400)
            #expect(bad.text == #"{"code":3,"error":"limit must be a whole number of at least 0"}"#)
            let negative = try await client.get("/handlers/eu/applications/app-one/devices?offset=-1", auth: auth)
            #expect(negative.status == 400)
        }
    }

    @Test("handler rate limit: 5 per second per client, over it 429 in the handler's shape")
    func handlerRateLimit() async throws {
        let options = V2SimulatorOptions(handlerRateLimit: true, handlerMaxWait: .zero)
        try await withV2Simulator(options: options) { _, client in
            // Twenty at once: five fit the burst; past it, refused until the allowance refills (one more per
            // 200 ms, so a slow machine spreading the twenty over a second or two lets a few more through, not all).
            let responses = try await withThrowingTaskGroup(of: HTTPResponse.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await client.get("/handlers/eu/applications/app-one/devices/dev-a", auth: "Key ttn-account-v2.full-key-one")
                    }
                }
                return try await group.reduce(into: [HTTPResponse]()) { $0.append($1) }
            }
            let statuses = responses.map(\.status)
            #expect(statuses.filter { $0 == 200 }.count >= 5, "\(statuses)")
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 429 }, "\(statuses)")
            #expect(statuses.contains(429), "\(statuses)")
            let refused = responses.first { $0.status == 429 }
            #expect(refused?.text == #"{"code":8,"error":"Rate limit for client \"app-one\" reached"}"#)
        }
    }

    @Test("handler rate limit waits up to the allowance instead of refusing")
    func handlerRateLimitWaits() async throws {
        let options = V2SimulatorOptions(handlerRateLimit: true, handlerMaxWait: .milliseconds(500))
        try await withV2Simulator(options: options) { _, client in
            let clock = ContinuousClock()
            let start = clock.now
            var statuses: [Int] = []
            for _ in 0..<7 {
                statuses.append(try await client.get("/handlers/eu/applications/app-one/devices/dev-b").status)
            }
            #expect(statuses == Array(repeating: 200, count: 7))
            // Burst of 5, then one slot per 200 ms: the 7th request waits about 400 ms.
            #expect(clock.now - start >= .milliseconds(380))
        }
    }

    // MARK: server behaviour through the v2 API

    @Test("faults through libcurl: drop-before does not apply, drop-after does, 503 and 429 in v2 shape")
    func faults() async throws {
        try await withV2Simulator(server: SimServerOptions(faults: try FaultSpec(parsing: "drop-before=1"))) { running, client in
            await #expect(throws: HTTPError.self) { _ = try await client.get("/api/v2/applications") }
            #expect(running.server.requestLog.allSatisfy { $0.fault == .dropBefore && !$0.applied })
            #expect(!running.server.requestLog.isEmpty)

            running.server.clearRequestLog()
            running.server.setFaults(try FaultSpec(parsing: "drop-after=1"))
            do {
                _ = try await client.get("/api/v2/applications")
                Issue.record("a drop-after request returned a response")
            } catch let error as HTTPError {
                #expect(error.mayHaveReachedServer)
            }
            #expect(running.server.requestLog.first?.applied == true)
            #expect(running.server.requestLog.first?.status == 200)
            #expect(running.server.requestLog.first?.delivered == false)

            running.server.setFaults(try FaultSpec(parsing: "503=1"))
            let unavailable = try await client.get("/api/v2/applications")
            #expect(unavailable.status == 503)
            #expect(unavailable.text == #"{"code":503,"error":"service unavailable, try again later"}"#)
            running.server.setFaults(try FaultSpec(parsing: "429=1"))
            let limited = try await client.get("/api/v2/applications")
            #expect(limited.status == 429)
            #expect(limited.jsonObject?["code"] as? Int == 429)
            running.server.setFaults(.none)
            #expect(try await client.get("/api/v2/applications").status == 200)
        }
    }

    @Test("a stall outlasts the client's timeout while the request is applied")
    func stall() async throws {
        try await withV2Simulator(server: SimServerOptions(faults: try FaultSpec(parsing: "stall=1,stall-ms=1500"))) { running, client in
            let request = HTTPRequest(
                method: "GET", url: client.base + "/api/v2/users/me",
                headers: [(name: "Authorization", value: "Bearer \(v2TestToken)")], timeout: .milliseconds(300)
            )
            do {
                _ = try await client.http.send(request)
                Issue.record("a stalled request returned before the client's timeout")
            } catch let error as HTTPError {
                guard case .timedOut = error else {
                    Issue.record("expected a timeout, got \(error)")
                    return
                }
            }
            let record = try #require(running.server.requestLog.first)
            #expect(record.applied)
            #expect(record.fault == .stall)
            #expect(record.inProgress)
            #expect(!record.delivered)
        }
    }

    @Test("the server-wide rate limit answers in v2 shape and does not apply")
    func serverRateLimit() async throws {
        try await withV2Simulator(server: SimServerOptions(rateLimitPerMinute: 2)) { running, client in
            #expect(try await client.get("/api/v2/users/me").status == 200)
            #expect(try await client.get("/api/v2/users/me").status == 200)
            let refused = try await client.get("/api/v2/users/me")
            #expect(refused.status == 429)
            #expect(refused.text == #"{"code":429,"error":"rate limit of 2 requests per minute reached, retry in 30 s"}"#)
            #expect(running.server.requestLog.map(\.applied) == [true, true, false])
        }
    }

    @Test("latency is kept for every request through libcurl")
    func latency() async throws {
        try await withV2Simulator(server: SimServerOptions(latency: .milliseconds(30))) { running, client in
            let clock = ContinuousClock()
            let start = clock.now
            for _ in 0..<5 { _ = try await client.get("/api/v2/users/me") }
            #expect(clock.now - start >= .milliseconds(150))
            #expect(running.server.requestLog.count == 5)
            #expect(running.server.requestLog.allSatisfy { $0.total >= .milliseconds(30) })
        }
    }

    @Test("50 sequential kept-alive requests through libcurl are well under 50 x 44 ms")
    func keepAliveIsFast() async throws {
        try await withV2Simulator { _, client in
            _ = try await client.get("/api/v2/users/me")
            let clock = ContinuousClock()
            let start = clock.now
            for _ in 0..<50 {
                let response = try await client.get("/handlers/eu/applications/app-one/devices/dev-a", auth: "Key ttn-account-v2.full-key-one")
                #expect(response.status == 200)
            }
            let elapsed = clock.now - start
            // The stall would make it > 2.2 s; the bound leaves room for a loaded machine.
            #expect(elapsed < .milliseconds(1500), "50 requests took \(elapsed)")
        }
    }

    // MARK: starting

    @Test("one call starts a simulator from an estate file and reports its URLs")
    func startFromFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("v2sim-start-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("estate.json").path
        try Data(v2TestEstate.utf8).write(to: URL(fileURLWithPath: file))
        let running = try await V2Simulator.start(estateFile: file, token: v2TestToken)
        let port = running.port
        #expect(running.accountServerURL == "http://127.0.0.1:\(port)/api/v2")
        #expect(running.handlerURLs == ["http://127.0.0.1:\(port)/handlers/eu", "http://127.0.0.1:\(port)/handlers/us"])
        #expect(running.urlsJSON == #"{"account_server":"http://127.0.0.1:\#(port)/api/v2","handlers":["http://127.0.0.1:\#(port)/handlers/eu","http://127.0.0.1:\#(port)/handlers/us"]}"#)
        let response = try await HTTPClient().send(HTTPRequest(
            url: running.accountServerURL + "/users/me", headers: [(name: "Authorization", value: "Bearer \(v2TestToken)")]))
        #expect(response.status == 200)
        await running.stop()
        await #expect(throws: V2EstateError.unreadable(file: directory.path + "/missing.json", reason: "no such file")) {
            _ = try await V2Simulator.start(estateFile: directory.path + "/missing.json", token: v2TestToken)
        }
        #expect(throws: V2SimulatorError.emptyToken) {
            _ = try V2Simulator(estate: try V2Estate.parse(Data(v2TestEstate.utf8)), token: "")
        }
    }
}
