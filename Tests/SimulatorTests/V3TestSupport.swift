import Foundation
import Simulator
import Testing

/// A v3 simulator called directly (no HTTP) with JSON in and Foundation-parsed JSON out, so that expectations
/// do not go through the simulator's own JSON code.
struct V3Harness {
    let simulator: V3Simulator
    let key: String

    init(users: [String] = ["user1", "bob"], organizations: [String] = ["acme"], keyRights: [String] = ["RIGHT_ALL"],
         tables: V3Tables? = nil) throws {
        simulator = try V3Simulator(config: V3SimulatorConfig(users: users, organizations: organizations, apiKeyRights: keyRights),
                                    tables: tables)
        key = simulator.apiKey
    }

    /// Sends one request; `auth` nil sends no Authorization header.
    @discardableResult
    func call(_ method: String, _ path: String, _ body: String? = nil, query: [String: String] = [:],
              auth: String?? = .some(nil)) -> V3Answer {
        var headers: [String: String] = [:]
        switch auth {
        case .none: break
        case .some(.none): headers["Authorization"] = "Bearer \(key)"
        case .some(.some(let value)): headers["Authorization"] = value
        }
        let request = SimRequest(method: method, path: path, query: query, headers: headers, body: Data((body ?? "").utf8))
        return V3Answer(response: simulator.handle(request))
    }

    /// Creates application `id` owned by `user1`; the test fails if that is refused.
    func createApplication(_ id: String, name: String = "") {
        let nameField = name.isEmpty ? "" : #","name":"\#(name)""#
        let answer = call("POST", "/api/v3/users/user1/applications", #"{"application":{"ids":{"application_id":"\#(id)"}\#(nameField)}}"#)
        #expect(answer.status == 200, "creating application \(id): \(answer.text)")
    }
}

/// A response with its body parsed by Foundation.
struct V3Answer {
    let response: SimResponse

    var status: Int { response.status }
    var text: String { String(decoding: response.body, as: UTF8.self) }
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
    }

    /// The value at a dotted path of the body (`"details"` arrays are indexed by number components).
    func value(_ path: String) -> Any? {
        var current: Any? = json
        for component in path.split(separator: ".") {
            if let index = Int(component), let array = current as? [Any] {
                current = index < array.count ? array[index] : nil
            } else {
                current = (current as? [String: Any])?[String(component)]
            }
        }
        return current
    }

    func string(_ path: String) -> String? { value(path) as? String }
    func strings(_ path: String) -> [String]? { value(path) as? [String] }
}

/// Checks a TTN error answer: HTTP status, gRPC code, `ErrorDetails` namespace and name, the `@type`.
func expectV3Error(_ answer: V3Answer, status: Int, code: Int, namespace: String, name: String,
                   sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(answer.status == status, "status of \(answer.text)", sourceLocation: sourceLocation)
    #expect(answer.value("code") as? Int == code, "code of \(answer.text)", sourceLocation: sourceLocation)
    #expect(answer.string("details.0.@type") == "type.googleapis.com/ttn.lorawan.v3.ErrorDetails", sourceLocation: sourceLocation)
    #expect(answer.string("details.0.namespace") == namespace, "namespace of \(answer.text)", sourceLocation: sourceLocation)
    #expect(answer.string("details.0.name") == name, "name of \(answer.text)", sourceLocation: sourceLocation)
    #expect(answer.string("message")?.hasPrefix("error:\(namespace):\(name) (") == true, "message of \(answer.text)", sourceLocation: sourceLocation)
    #expect((answer.string("details.0.correlation_id") ?? "").count == 32, sourceLocation: sourceLocation)
}

/// Checks a grpc-gateway error without details (routing, body decoding).
func expectPlainError(_ answer: V3Answer, status: Int, code: Int, message: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(answer.status == status, "status of \(answer.text)", sourceLocation: sourceLocation)
    #expect(answer.value("code") as? Int == code, "code of \(answer.text)", sourceLocation: sourceLocation)
    #expect(answer.value("details") == nil, "no details in \(answer.text)", sourceLocation: sourceLocation)
    if let message {
        #expect(answer.string("message") == message, sourceLocation: sourceLocation)
    }
}
