import Foundation
import Plan
import Mapping
import Report
import Testing
import V3Client
import V3Model

/// A diff with every status, a hidden key, a whole missing device part, and text that needs escaping
/// (comma, quotes, line break, `<&>`).
let sampleDiff = MigrationDiff(
    owner: .user("alice"), runTag: "run1",
    entries: [
        DiffEntry(kind: .application, entity: "my-app", v2ID: "my_app", status: .differs, fields: [
            FieldDifference(path: "name", expected: .value(.string("My app")), actual: .value(.string(#"Tom & "Jerry" <b>"#)))
        ]),
        DiffEntry(kind: .device, entity: "my-app/dev-1", v2ID: "my-app/dev-1", status: .differs, fields: [
            FieldDifference(component: .applicationServer, path: "session.keys.app_s_key.key", expected: .hidden, actual: .hidden),
            FieldDifference(component: .joinServer, path: "", expected: .present, actual: .none),
            FieldDifference(component: .networkServer, path: "session.last_f_cnt_up", expected: .value(.number(5)), actual: .none),
        ]),
        DiffEntry(kind: .gateway, entity: "gw-1", v2ID: "gw_1", status: .equal),
        DiffEntry(kind: .device, entity: "my-app/dev-2", v2ID: "my_app/dev_2", status: .missingInV3),
        DiffEntry(kind: .applicationAPIKey, entity: "my-app/key, \"quoted\"\nline", v2ID: nil, status: .onlyInV3),
        DiffEntry(kind: .application, entity: "extra-app", v2ID: nil, status: .onlyInV3),
    ],
    skipped: [DiffSkip(kind: .application, v2ID: "old", v3ID: nil, reason: "deleted in v2")])

@Suite struct DiffRendererTests {
    @Test func table() {
        #expect(DiffRenderer.table(sampleDiff) == """
            ttn-migrate diff: what v3 holds compared with what the migration intends (owner user alice; API keys of run tag run1)

            STATUS         KIND                 ENTITY
            differs        application          my-app (v2 my_app)
                             name: expected "My app", found "Tom & \\"Jerry\\" <b>"
            differs        device               my-app/dev-1
                             as session.keys.app_s_key.key: differs (value hidden)
                             js (whole record): expected present, found none
                             ns session.last_f_cnt_up: expected 5, found none
            equal          gateway              gw-1 (v2 gw_1)
            missing in v3  device               my-app/dev-2 (v2 my_app/dev_2)
            only in v3     application-api-key  my-app/key, "quoted"\\nline
            only in v3     application          extra-app

            Skipped (not migrated, so not compared):
              application old: deleted in v2

            Summary: 1 equal, 2 differs, 1 missing in v3, 2 only in v3; 1 skipped

            """)
    }

    @Test func tableOfNothing() {
        let empty = MigrationDiff(owner: .organization("acme"), runTag: nil, entries: [], skipped: [])
        #expect(DiffRenderer.table(empty) == """
            ttn-migrate diff: what v3 holds compared with what the migration intends (owner organization acme; API keys of any run, no journal given)

            Nothing to compare: the plan intends no entity and v3 holds none under the owner.

            Summary: 0 equal, 0 differs, 0 missing in v3, 0 only in v3; 0 skipped

            """)
        #expect(!empty.hasDifferences)
    }

    @Test func markdown() {
        #expect(DiffRenderer.markdown(sampleDiff) == """
            # ttn-migrate diff

            What v3 holds compared with what the migration intends: owner user alice; API keys of run tag run1.

            **Summary:** 1 equal, 2 differs, 1 missing in v3, 2 only in v3; 1 skipped

            | Status | Kind | Entity | v2 ID | Differences |
            | --- | --- | --- | --- | --- |
            | differs | application | my-app | my\\_app | name: expected "My app", found "Tom &amp; \\\\"Jerry\\\\" &lt;b&gt;" |
            | differs | device | my-app/dev-1 | my-app/dev-1 | as session.keys.app\\_s\\_key.key: differs (value hidden)<br>js (whole record): expected present, found none<br>ns session.last\\_f\\_cnt\\_up: expected 5, found none |
            | equal | gateway | gw-1 | gw\\_1 |  |
            | missing in v3 | device | my-app/dev-2 | my\\_app/dev\\_2 |  |
            | only in v3 | application-api-key | my-app/key, "quoted"<br>line |  |  |
            | only in v3 | application | extra-app |  |  |

            ## Skipped (not migrated, so not compared)

            | Kind | v2 ID | v3 ID | Reason |
            | --- | --- | --- | --- |
            | application | old |  | deleted in v2 |

            """)
    }

    @Test func markdownCellsEscapeWhatWouldBreakTheTable() {
        #expect(DiffRenderer.markdownCell("a|b") == "a\\|b")
        #expect(DiffRenderer.markdownCell("<script>&") == "&lt;script&gt;&amp;")
        #expect(DiffRenderer.markdownCell("*x* _y_ `z` [l](u)") == "\\*x\\* \\_y\\_ \\`z\\` \\[l\\](u)")
        #expect(DiffRenderer.markdownCell("one\ntwo\r\nthree") == "one<br>two<br>three")
    }

    @Test func json() {
        #expect(DiffRenderer.json(sampleDiff) == """
            {
              "format": "ttn-migrate/diff",
              "version": 1,
              "owner": {
                "kind": "user",
                "id": "alice"
              },
              "run_tag": "run1",
              "has_differences": true,
              "summary": {
                "equal": 1,
                "differs": 2,
                "missing_in_v3": 1,
                "only_in_v3": 2,
                "skipped": 1
              },
              "entries": [
                {
                  "status": "differs",
                  "kind": "application",
                  "entity": "my-app",
                  "v2_id": "my_app",
                  "fields": [
                    {
                      "component": null,
                      "path": "name",
                      "expected_state": "value",
                      "expected": "My app",
                      "actual_state": "value",
                      "actual": "Tom & \\"Jerry\\" <b>"
                    }
                  ]
                },
                {
                  "status": "differs",
                  "kind": "device",
                  "entity": "my-app/dev-1",
                  "v2_id": "my-app/dev-1",
                  "fields": [
                    {
                      "component": "as",
                      "path": "session.keys.app_s_key.key",
                      "expected_state": "hidden",
                      "expected": null,
                      "actual_state": "hidden",
                      "actual": null
                    },
                    {
                      "component": "js",
                      "path": "",
                      "expected_state": "present",
                      "expected": null,
                      "actual_state": "none",
                      "actual": null
                    },
                    {
                      "component": "ns",
                      "path": "session.last_f_cnt_up",
                      "expected_state": "value",
                      "expected": 5,
                      "actual_state": "none",
                      "actual": null
                    }
                  ]
                },
                {
                  "status": "equal",
                  "kind": "gateway",
                  "entity": "gw-1",
                  "v2_id": "gw_1",
                  "fields": []
                },
                {
                  "status": "missing-in-v3",
                  "kind": "device",
                  "entity": "my-app/dev-2",
                  "v2_id": "my_app/dev_2",
                  "fields": []
                },
                {
                  "status": "only-in-v3",
                  "kind": "application-api-key",
                  "entity": "my-app/key, \\"quoted\\"\\nline",
                  "v2_id": null,
                  "fields": []
                },
                {
                  "status": "only-in-v3",
                  "kind": "application",
                  "entity": "extra-app",
                  "v2_id": null,
                  "fields": []
                }
              ],
              "skipped": [
                {
                  "kind": "application",
                  "v2_id": "old",
                  "v3_id": null,
                  "reason": "deleted in v2"
                }
              ]
            }

            """)
    }

    @Test func jsonIsValidAndCarriesValuesAsJSON() throws {
        let diff = MigrationDiff(owner: .user("alice"), runTag: nil, entries: [
            DiffEntry(kind: .gateway, entity: "gw-1", v2ID: "gw_1", status: .differs, fields: [
                FieldDifference(path: "antennas[0].location", expected: .value(.object(["latitude": .number(52.1), "altitude": .number(12)])), actual: .value(.bool(true)))
            ])
        ], skipped: [])
        let text = DiffRenderer.json(diff)
        #expect(text.contains(#""expected": {"altitude":12,"latitude":52.1},"#))
        #expect(text.contains(#""actual": true"#))
        #expect(text.contains(#""run_tag": null,"#))
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        #expect(parsed?["has_differences"] as? Bool == true)
    }

    @Test func csv() {
        #expect(DiffRenderer.csv(sampleDiff) == [
            "status,kind,entity,v2_id,component,field,expected,actual,reason\r\n",
            #"differs,application,my-app,my_app,,name,"""My app""","""Tom & \""Jerry\"" <b>""","# + "\r\n",
            "differs,device,my-app/dev-1,my-app/dev-1,as,session.keys.app_s_key.key,(value hidden),(value hidden),\r\n",
            "differs,device,my-app/dev-1,my-app/dev-1,js,(whole record),present,none,\r\n",
            "differs,device,my-app/dev-1,my-app/dev-1,ns,session.last_f_cnt_up,5,none,\r\n",
            "equal,gateway,gw-1,gw_1,,,,,\r\n",
            "missing in v3,device,my-app/dev-2,my_app/dev_2,,,,,\r\n",
            "only in v3,application-api-key,\"my-app/key, \"\"quoted\"\"\nline\",,,,,,\r\n",
            "only in v3,application,extra-app,,,,,,\r\n",
            "skipped,application,,old,,,,,deleted in v2\r\n",
        ].joined())
    }

    @Test func csvFieldsQuoteCommasQuotesAndLineBreaks() {
        #expect(DiffRenderer.csvField("plain") == "plain")
        #expect(DiffRenderer.csvField("a,b") == "\"a,b\"")
        #expect(DiffRenderer.csvField("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(DiffRenderer.csvField("one\ntwo") == "\"one\ntwo\"")
        #expect(DiffRenderer.csvField("one\rtwo") == "\"one\rtwo\"")
        #expect(DiffRenderer.csvField("") == "")
    }

    @Test func html() {
        let html = DiffRenderer.html(sampleDiff)
        #expect(html.hasPrefix("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"))
        #expect(html.hasSuffix("</tbody>\n</table>\n</section>\n</body>\n</html>\n"))
        #expect(html.contains("<p class=\"scope\">What v3 holds compared with what the migration intends: owner user alice; API keys of run tag run1.</p>\n"))
        #expect(html.contains("<p class=\"verdict bad\">v3 differs from the plan: see the rows below.</p>"))
        // Summary cards with machine-readable counts.
        for (status, count) in [("equal", 1), ("differs", 2), ("missing-in-v3", 1), ("only-in-v3", 2), ("skipped", 1)] {
            #expect(html.contains("<span class=\"count\" data-status=\"\(status)\" data-count=\"\(count)\">\(count)</span>"), "\(status)")
        }
        // The chart: one bar per kind in entry order, segments per status.
        #expect(html.contains("<svg role=\"img\" aria-label=\"Entities per kind and status\""))
        #expect(html.contains("<title>application: 1 differs</title>") && html.contains("<title>application: 1 only in v3</title>"))
        #expect(html.contains("<title>device: 1 differs</title>") && html.contains("<title>device: 1 missing in v3</title>"))
        // Filters: CSS only, the table follows them.
        #expect(html.contains("<input type=\"radio\" name=\"filter\" id=\"show-problems\"><label for=\"show-problems\">not equal (5)</label>\n<input"))
        #expect(html.contains("#show-problems:checked~table tr.entity.equal{display:none}"))
        #expect(html.contains(
            "<tr class=\"entity differs\" data-kind=\"application\"><td class=\"status\">differs</td><td>application</td><td>my-app</td><td>my_app</td>"
                + "<td><details><summary>1 field differs</summary><ul><li>name: expected <code>&quot;My app&quot;</code>, "
                + "found <code>&quot;Tom &amp; \\&quot;Jerry\\&quot; &lt;b&gt;&quot;</code></li></ul></details></td></tr>\n"))
        #expect(html.contains(
            "<td><details><summary>3 fields differ</summary><ul>"
                + "<li>as session.keys.app_s_key.key: differs (value hidden)</li>"
                + "<li>js (whole record): expected <code>present</code>, found <code>none</code></li>"
                + "<li>ns session.last_f_cnt_up: expected <code>5</code>, found <code>none</code></li></ul></details></td></tr>\n"))
        #expect(html.contains("<tr class=\"entity equal\" data-kind=\"gateway\"><td class=\"status\">equal</td><td>gateway</td><td>gw-1</td><td>gw_1</td><td></td></tr>\n"))
        #expect(html.contains(
            "<tr class=\"entity only-in-v3\" data-kind=\"application-api-key\"><td class=\"status\">only in v3</td><td>application-api-key</td><td>my-app/key, &quot;quoted&quot;\nline</td><td></td><td></td></tr>\n"))
        #expect(html.components(separatedBy: "<tr class=\"entity ").count - 1 == sampleDiff.entries.count)
        #expect(html.contains("<tr class=\"skip\"><td>application</td><td>old</td><td></td><td>deleted in v2</td></tr>\n"))
        // No journal: no cut-over or gateway section.
        #expect(!html.contains("id=\"cutover\"") && !html.contains("id=\"gateways\""))
        // Self-contained and inert: nothing fetched, nothing run, no unescaped text.
        #expect(!html.contains("<script") && !html.contains("src=") && !html.contains("href=") && !html.contains("<b>"))
    }

    @Test func htmlShowsTheCutOverAndHowToReconnectGateways() throws {
        var diff = sampleDiff
        let gateway = V3Gateway(gatewayID: "gw-1", eui: try V3EUI(hex: "B827EBFFFE000001"), frequencyPlanIDs: ["EU_863_870"])
        diff.switchOver = SwitchOverStatus(
            devices: [
                .init(v2ID: "my_app/dev_2", v3ID: "my-app/dev-2", state: "done", v3FCntUp: 910, v3FCntDown: 50),
                .init(v2ID: "my-app/dev-1", v3ID: "my-app/dev-1", state: "failed", error: "the Network Server answered 503 <busy>"),
                .init(v2ID: "my-app/dev-3", v3ID: "my-app/dev-3", state: nil),
            ],
            gateways: [GatewayReconnection(
                v2ID: "gw_1", gateway: gateway, migrated: true, defaultAddress: "eu1.cloud.thethings.network", linkKeyName: "v2: gateway key [run1]")])
        let html = DiffRenderer.html(diff)
        #expect(html.contains("<span class=\"count\" data-cutover=\"done\" data-count=\"1\">1</span> of 3 migrated devices run on v3 only; "
            + "<span data-cutover=\"failed\" data-count=\"1\">1</span> failed; <span data-cutover=\"pending\" data-count=\"1\">1</span> not cut over yet"))
        #expect(html.contains("<details open><summary>Every device</summary>"))
        #expect(html.contains("<tr class=\"device done\"><td class=\"status\">done</td><td>my-app/dev-2</td><td>my_app/dev_2</td><td>910, 50</td><td></td></tr>"))
        #expect(html.contains("<tr class=\"device failed\"><td class=\"status\">failed</td><td>my-app/dev-1</td><td>my-app/dev-1</td><td>no session (joins again)</td><td>the Network Server answered 503 &lt;busy&gt;</td></tr>"))
        #expect(html.contains("<tr class=\"device pending\"><td class=\"status\">not cut over</td>"))
        #expect(html.contains("<td><code>gw-1</code> (v2 <code>gw_1</code>)<br>EUI <code>B827EBFFFE000001</code></td><td>EU_863_870</td>"))
        #expect(html.contains("<code>server_address</code> <code>eu1.cloud.thethings.network</code>, <code>serv_port_up</code> 1700, <code>serv_port_down</code> 1700"))
        #expect(html.contains("LNS <code>wss://eu1.cloud.thethings.network:8887</code><br>CUPS <code>https://eu1.cloud.thethings.network:443</code><br>"
            + "LNS key: API key <code>v2: gateway key [run1]</code> (<code>RIGHT_GATEWAY_LINK</code>), its secret in <code>ttn-migrate keys --out</code>"))
    }

    @Test func htmlEscapesEverySpecialCharacter() {
        #expect(DiffRenderer.htmlEscape(#"<a href="x">Tom & 'Jerry'</a>"#) == "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;")
    }

    @Test func longValuesAreCutInTheTableOnly() {
        let long = String(repeating: "x", count: 250)
        let diff = MigrationDiff(owner: .user("alice"), runTag: "run1", entries: [
            DiffEntry(kind: .applicationLink, entity: "my-app", v2ID: "my_app", status: .differs, fields: [
                FieldDifference(path: "default_formatters.up_formatter_parameter", expected: .value(.string(long)), actual: .none)
            ])
        ], skipped: [])
        // The JSON text is 252 characters with its quotes; the first 200 are shown.
        let shown = "\"" + String(repeating: "x", count: 199) + "… (252 characters)"
        #expect(DiffRenderer.table(diff).contains("default_formatters.up_formatter_parameter: expected \(shown), found none"))
        #expect(DiffRenderer.csv(diff).contains("\"\"\"" + long + "\"\"\""))
        #expect(DiffRenderer.json(diff).contains("\"" + long + "\""))
    }

    @Test func fieldDifferenceWording() {
        #expect(FieldDifference(component: .joinServer, path: "root_keys.app_key.key", expected: .hidden, actual: .none).summary == "missing in v3 (value hidden)")
        #expect(FieldDifference(path: "root_keys.app_key.key", expected: .none, actual: .hidden).summary == "only in v3 (value hidden)")
        #expect(FieldDifference(path: "root_keys.app_key.key", expected: .hidden, actual: .hidden).summary == "differs (value hidden)")
        #expect(FieldDifference(component: .networkServer, path: "", expected: .present, actual: .none).label == "ns (whole record)")
        #expect(FieldDifference(path: "name", expected: .value(.string("a")), actual: .none).summary == #"expected "a", found none"#)
    }

    @Test func everyFormatIsOffered() {
        #expect(DiffRenderer.Format.allCases.map(\.rawValue) == ["table", "md", "json", "csv", "html"])
        #expect(DiffRenderer.render(sampleDiff, format: .csv) == DiffRenderer.csv(sampleDiff))
    }
}
