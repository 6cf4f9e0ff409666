import Testing
import V3Model

@Suite("v3 ID rules (reference/v3-api.md §8)")
struct IDRulesTests {
    @Test(arguments: ["abc", "my-app", "a1b", "0ab", "a-b-c", "abcdefghijklmnopqrstuvwxyz0123456789"])
    func validEntityIDs(id: String) {
        #expect(V3IDRules.entityIDProblem(id) == nil)
        #expect(V3IDRules.isValidEntityID(id))
    }

    @Test func entityIDProblems() {
        #expect(V3IDRules.entityIDProblem("") == .empty)
        #expect(V3IDRules.entityIDProblem("ab") == .tooShort)
        // Three characters but only two letters or digits: the pattern needs three.
        #expect(V3IDRules.entityIDProblem("a-b") == .tooShort)
        #expect(V3IDRules.entityIDProblem("-abc") == .invalidCharacters)
        #expect(V3IDRules.entityIDProblem("abc-") == .invalidCharacters)
        #expect(V3IDRules.entityIDProblem("ab--c") == .invalidCharacters)
        #expect(V3IDRules.entityIDProblem("My-app") == .invalidCharacters)
        #expect(V3IDRules.entityIDProblem("my_app") == .invalidCharacters)
        #expect(V3IDRules.entityIDProblem("my.app") == .invalidCharacters)
        #expect(V3IDRules.entityIDProblem("abcdefghijklmnopqrstuvwxyz0123456789a") == .tooLong)
        #expect(V3IDRules.entityIDProblem("admin") == .blocklisted)
        #expect(V3IDRules.entityIDProblem("app") == .blocklisted)
        #expect(V3IDRules.entityIDProblem("end-device") == .blocklisted)
    }

    @Test func userIDs() {
        #expect(V3IDRules.userIDProblem("ab") == nil)
        #expect(V3IDRules.userIDProblem("bob-smith") == nil)
        #expect(V3IDRules.userIDProblem("a") == .tooShort)
        #expect(V3IDRules.userIDProblem("bob_smith") == .invalidCharacters)
        #expect(V3IDRules.userIDProblem("admin") == .blocklisted)
    }

    @Test func attributeKeysIgnoreTheBlocklist() {
        #expect(V3IDRules.attributeKeyProblem("admin") == nil)
        #expect(V3IDRules.attributeKeyProblem("v2-id") == nil)
        #expect(V3IDRules.attributeKeyProblem("id") == .tooShort)
    }

    @Test func blocklistHasTheWholeTable() {
        #expect(V3IDRules.blocklist.count == 731)
        #expect(V3IDRules.isBlocklisted("gateway"))
        #expect(!V3IDRules.isBlocklisted("my-gateway"))
    }

    @Test func serverAddressesFromURLs() {
        #expect(V3ServerAddress.fromURL("https://nam1.cloud.thethings.network") == "nam1.cloud.thethings.network")
        #expect(V3ServerAddress.fromURL("https://EU1.Cloud.TheThings.Network/api/v3") == "eu1.cloud.thethings.network")
        #expect(V3ServerAddress.fromURL("http://127.0.0.1:1885/") == "127.0.0.1:1885")
        #expect(V3ServerAddress.fromURL("not a url") == nil)
        #expect(V3ServerAddress.fromURL("file:///tmp/x") == nil)
    }

    @Test func serverAddresses() {
        for valid in ["eu1.cloud.thethings.network", "localhost", "localhost:1885", "10.0.0.1:8884", "a-b.example.com:65535"] {
            #expect(V3ServerAddress.isValid(valid), "\(valid)")
        }
        for invalid in ["", "https://eu1.cloud.thethings.network", "host:0", "host:65536", "host:", "Eu1.example.com",
                        "a..b", "-a.com", "host/path", "host:80:81"] {
            #expect(!V3ServerAddress.isValid(invalid), "\(invalid)")
        }
    }
}
