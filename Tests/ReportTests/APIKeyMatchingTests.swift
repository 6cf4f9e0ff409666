import Report
import Testing
import V3Client

@Suite struct APIKeyMatchingTests {
    func planned(_ v2Name: String, _ name: String) -> IntendedAPIKey {
        IntendedAPIKey(v2Name: v2Name, name: name, record: IntendedRecord(v2ID: "my_app/\(v2Name)", v3ID: "my-app/\(name)", expected: json("{}")))
    }

    @Test func withARunTagOnlyTheExactNameMatches() {
        let key = planned("default key", "v2: default key [run1]")
        #expect(APIKeyMatching.matches(planned: key, actual: "v2: default key [run1]", runTag: "run1"))
        #expect(!APIKeyMatching.matches(planned: key, actual: "v2: default key [run2]", runTag: "run1"))
        #expect(!APIKeyMatching.matches(planned: key, actual: "v2: default key", runTag: "run1"))
    }

    @Test func withoutARunTagAnyRunsKeyOfThatNameMatches() {
        let key = planned("default key", "v2: default key [ttnmig]")
        #expect(APIKeyMatching.matches(planned: key, actual: "v2: default key [k3x9a0]", runTag: nil))
        #expect(APIKeyMatching.matches(planned: key, actual: "v2: default key", runTag: nil))
        #expect(!APIKeyMatching.matches(planned: key, actual: "v2: default key 2 [k3x9a0]", runTag: nil))
        #expect(!APIKeyMatching.matches(planned: key, actual: "my own key", runTag: nil))
        #expect(!APIKeyMatching.matches(planned: key, actual: "v2: default [key]", runTag: nil))
    }

    @Test func aNameCutForALongerTagStillMatches() {
        // 47 characters: cut to fit 50 with the tag (hand-counted: room 37 with "ttnmig", 31 with a 12-character tag).
        let key = planned("access key of the parking sensors in the garage", "v2: access key of the parking sensors in [ttnmig]")
        #expect(APIKeyMatching.matches(planned: key, actual: "v2: access key of the parking senso [abcdefgh1234]", runTag: nil))
        #expect(!APIKeyMatching.matches(planned: key, actual: "v2: access key of the parking senso [abcdefgh1234]", runTag: "ttnmig"))
    }

    @Test func tagsAreRecognisedOnlyInTheirForm() {
        #expect(APIKeyMatching.tag(of: "v2: default key [k3x9a0]") == "k3x9a0")
        #expect(APIKeyMatching.tag(of: "v2: default key [K3X]") == nil)
        #expect(APIKeyMatching.tag(of: "v2: default key []") == nil)
        #expect(APIKeyMatching.tag(of: "v2: default key [abcdefghijklm]") == nil)
        #expect(APIKeyMatching.tag(of: "v2: default key") == nil)
        #expect(APIKeyMatching.withoutTag("v2: default key [k3x9a0]") == "v2: default key")
        #expect(APIKeyMatching.withoutTag("v2: default key") == "v2: default key")
    }
}
