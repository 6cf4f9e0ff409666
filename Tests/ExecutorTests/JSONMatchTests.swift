import Executor
import Foundation
import Testing
import V3Client

private func json(_ text: String) throws -> V3JSONValue {
    try JSONDecoder().decode(V3JSONValue.self, from: Data(text.utf8))
}

@Test func equalSubsetMatchesDespiteOmittedZerosAndHexCase() throws {
    let expected = try json(#"{"ids":{"dev_eui":"70b3d57ed0000001"},"supports_join":false,"name":"a","attributes":{},"frequency_plan_ids":["EU_863_870","X"]}"#)
    let actual = try json(#"{"ids":{"dev_eui":"70B3D57ED0000001","device_id":"d"},"name":"a","frequency_plan_ids":["X","EU_863_870"],"created_at":"t"}"#)
    #expect(JSONMatch.differences(expected: expected, actual: actual) == [])
}

@Test func differencesNameThePathAndBothValues() throws {
    let expected = try json(#"{"name":"Rooftop","antennas":[{"location":{"latitude":52.1,"altitude":3}}],"rights":["A","B"]}"#)
    let actual = try json(#"{"name":"Other","antennas":[{"location":{"latitude":52.1}}],"rights":["A"]}"#)
    #expect(JSONMatch.differences(expected: expected, actual: actual) == [
        #"antennas[0].location.altitude: expected 3, found none"#,
        #"name: expected "Rooftop", found "Other""#,
        "rights: expected 2 items, found 1",
    ])
}

@Test func keyMaterialIsNeverPrinted() throws {
    let expected = try json(#"{"root_keys":{"app_key":{"key":"000102030405060708090A0B0C0D0E0F"}},"session":{"keys":{"app_s_key":{"key":"00112233445566778899AABBCCDDEEFF"}}}}"#)
    let actual = try json(#"{"session":{"keys":{"app_s_key":{"key":"FFEEDDCCBBAA99887766554433221100"}}}}"#)
    let lines = JSONMatch.differences(expected: expected, actual: actual)
    #expect(lines == [
        "root_keys.app_key.key: missing (value hidden)",
        "session.keys.app_s_key.key: differs (value hidden)",
    ])
}

@Test func errorBodiesDecodeWithCorrelationAndMissingRights() throws {
    let body = Data(#"""
    {"code":7,"message":"error:pkg/auth/rights:insufficient_application_rights (insufficient rights for application `app`)",
     "details":[{"@type":"type.googleapis.com/ttn.lorawan.v3.ErrorDetails","namespace":"pkg/auth/rights","name":"insufficient_application_rights",
     "message_format":"insufficient rights for application `{uid}`","attributes":{"uid":"app","missing":["RIGHT_APPLICATION_SETTINGS_API_KEYS"]},
     "correlation_id":"abc123","code":7}]}
    """#.utf8)
    let error = V3APIError(status: 403, body: body, headers: .init(), operation: "create API key v2: default", server: "Identity Server")
    #expect(error.errorName == "pkg/auth/rights:insufficient_application_rights")
    #expect(error.correlationID == "abc123")
    #expect(error.missingRights == ["RIGHT_APPLICATION_SETTINGS_API_KEYS"])
    #expect(!error.isAbsentOrNotOurs)
    #expect(error.description == "create API key v2: default: Identity Server answered 403 pkg/auth/rights:insufficient_application_rights (insufficient rights for application `app`) [correlation ID abc123]; give the API key the missing rights (RIGHT_APPLICATION_SETTINGS_API_KEYS) or use a key that has them")
}

@Test func noRightsOnReadMeansAbsent() throws {
    let body = Data(#"{"code":7,"message":"x","details":[{"namespace":"pkg/auth/rights","name":"no_application_rights","code":7}]}"#.utf8)
    #expect(V3APIError(status: 403, body: body, headers: .init(), operation: "read", server: "IS").isAbsentOrNotOurs)
    #expect(V3APIError(status: 404, body: Data(#"{"code":5,"message":"Not Found"}"#.utf8), headers: .init(), operation: "read", server: "IS").isAbsentOrNotOurs)
    #expect(!V3APIError(status: 409, body: Data(), headers: .init(), operation: "create", server: "IS").isAbsentOrNotOurs)
}
