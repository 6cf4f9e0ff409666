import Foundation
import Mapping
import Plan

/// The diff as one self-contained HTML5 page for people: no script, nothing fetched, every text escaped.
///
/// From the top: the scope; summary cards (one count per status, `data-status`/`data-count` so a
/// script can check them against the rows); a chart of the statuses per kind (inline SVG); the
/// entity table with filters (radio buttons and CSS only) and each entity's differing fields in a
/// collapsible `<details>`; then, when the diff was made with a journal, the cut-over of every
/// migrated device and how to reconnect every gateway; last the skipped entities.
enum DiffHTMLReport {
    static let colors: [DiffStatus: String] = [.equal: "#1a7f37", .differs: "#bf8700", .missingInV3: "#cf222e", .onlyInV3: "#8250df"]

    static func render(_ diff: MigrationDiff) -> String {
        let summary = diff.summary
        var html: [String] = [
            "<!DOCTYPE html>",
            "<html lang=\"en\">",
            "<head>",
            "<meta charset=\"utf-8\">",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
            "<title>ttn-migrate diff</title>",
            "<style>",
            style,
            "</style>",
            "</head>",
            "<body>",
            "<h1>ttn-migrate diff</h1>",
            "<p class=\"scope\">What v3 holds compared with what the migration intends: \(escape(DiffRenderer.scope(diff))).</p>",
            "<section id=\"summary\">",
            "<h2>Summary</h2>",
            "<p class=\"verdict \(diff.hasDifferences ? "bad" : "good")\">"
                + (diff.hasDifferences ? "v3 differs from the plan: see the rows below." : "v3 holds every migrated entity as intended.") + "</p>",
            "<div class=\"cards\">",
        ]
        let counts: [(DiffStatus?, String, Int)] = [
            (.equal, "equal", summary.equal), (.differs, "differs", summary.differs), (.missingInV3, "missing in v3", summary.missingInV3),
            (.onlyInV3, "only in v3", summary.onlyInV3), (nil, "skipped", summary.skipped),
        ]
        for (status, label, count) in counts {
            let name = status?.rawValue ?? "skipped"
            html.append("<div class=\"card \(name)\"><span class=\"count\" data-status=\"\(name)\" data-count=\"\(count)\">\(count)</span> \(escape(label))</div>")
        }
        html.append("</div>")
        html += chart(diff)
        html.append("</section>")
        html += entityTable(diff)
        if let switchOver = diff.switchOver {
            html += cutoverSection(switchOver.devices)
            html += gatewaySection(switchOver.gateways)
        }
        html += skippedSection(diff.skipped)
        html.append("</body>")
        html.append("</html>")
        return html.joined(separator: "\n") + "\n"
    }

    static let style = """
        body{font-family:system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#1f2328}
        h2{margin-top:2em;border-bottom:1px solid #d0d7de;padding-bottom:.2em}
        .verdict{font-weight:600}.verdict.good{color:#1a7f37}.verdict.bad{color:#cf222e}
        .cards{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}
        .card{border:1px solid #d0d7de;border-radius:6px;padding:.6em 1em;min-width:7em}
        .card .count{display:block;font-size:1.8em;font-weight:700}
        .card.equal .count{color:#1a7f37}.card.differs .count{color:#bf8700}
        .card.missing-in-v3 .count{color:#cf222e}.card.only-in-v3 .count{color:#8250df}.card.skipped .count{color:#57606a}
        table{border-collapse:collapse;margin:1em 0;width:100%}
        th,td{border:1px solid #d0d7de;padding:.3em .6em;text-align:left;vertical-align:top}
        th{background:#f6f8fa}
        code{font-family:ui-monospace,monospace;white-space:pre-wrap;overflow-wrap:anywhere}
        details summary{cursor:pointer}
        td ul{margin:.3em 0;padding-left:1.2em}
        .status{font-weight:600}
        tr.equal .status{color:#1a7f37}tr.differs .status{color:#bf8700}
        tr.missing-in-v3 .status,tr.failed .status{color:#cf222e}tr.only-in-v3 .status{color:#8250df}
        tr.done .status{color:#1a7f37}tr.pending .status{color:#57606a}
        .filters{margin-right:.5em}label{margin-right:1em;cursor:pointer}
        #show-problems:checked~table tr.entity.equal{display:none}
        #show-differs:checked~table tr.entity:not(.differs){display:none}
        #show-missing:checked~table tr.entity:not(.missing-in-v3){display:none}
        #show-only:checked~table tr.entity:not(.only-in-v3){display:none}
        svg text{font-size:12px;fill:#1f2328}
        """

    /// Horizontal stacked bars: per kind, its entities by status.
    static func chart(_ diff: MigrationDiff) -> [String] {
        var byKind: [(kind: EntityKind, counts: [DiffStatus: Int])] = []
        for entry in diff.entries {
            if let index = byKind.firstIndex(where: { $0.kind == entry.kind }) {
                byKind[index].counts[entry.status, default: 0] += 1
            } else {
                byKind.append((entry.kind, [entry.status: 1]))
            }
        }
        guard let largest = byKind.map({ $0.counts.values.reduce(0, +) }).max(), largest > 0 else { return [] }
        let labelWidth = 190, barWidth = 460, rowHeight = 22
        let height = byKind.count * rowHeight + 30
        var svg = ["<svg role=\"img\" aria-label=\"Entities per kind and status\" width=\"\(labelWidth + barWidth + 60)\" height=\"\(height)\" viewBox=\"0 0 \(labelWidth + barWidth + 60) \(height)\">"]
        for (row, item) in byKind.enumerated() {
            let y = row * rowHeight
            svg.append("<text x=\"0\" y=\"\(y + 15)\">\(escape(item.kind.rawValue))</text>")
            var x = labelWidth
            let total = item.counts.values.reduce(0, +)
            for status in DiffStatus.allCases {
                guard let count = item.counts[status], count > 0 else { continue }
                let width = max(2, count * barWidth / largest)
                svg.append("<rect x=\"\(x)\" y=\"\(y + 3)\" width=\"\(width)\" height=\"\(rowHeight - 6)\" fill=\"\(colors[status] ?? "#999")\">"
                    + "<title>\(escape(item.kind.rawValue)): \(count) \(escape(status.label))</title></rect>")
                x += width
            }
            svg.append("<text x=\"\(x + 6)\" y=\"\(y + 15)\">\(total)</text>")
        }
        var legendX = labelWidth
        for status in DiffStatus.allCases {
            let y = byKind.count * rowHeight + 10
            svg.append("<rect x=\"\(legendX)\" y=\"\(y)\" width=\"12\" height=\"12\" fill=\"\(colors[status] ?? "#999")\"></rect>"
                + "<text x=\"\(legendX + 16)\" y=\"\(y + 11)\">\(escape(status.label))</text>")
            legendX += 110
        }
        svg.append("</svg>")
        return svg
    }

    static func entityTable(_ diff: MigrationDiff) -> [String] {
        var html = ["<section id=\"entities\">", "<h2>Entities</h2>"]
        guard !diff.entries.isEmpty else {
            return html + ["<p>Nothing to compare: the plan intends no entity and v3 holds none under the owner.</p>", "</section>"]
        }
        let summary = diff.summary
        let filters: [(String, String)] = [
            ("show-all", "all (\(diff.entries.count))"), ("show-problems", "not equal (\(diff.entries.count - summary.equal))"),
            ("show-differs", "differs (\(summary.differs))"), ("show-missing", "missing in v3 (\(summary.missingInV3))"),
            ("show-only", "only in v3 (\(summary.onlyInV3))"),
        ]
        html.append("<span class=\"filters\">Show:</span>")
        for (id, label) in filters {
            html.append("<input type=\"radio\" name=\"filter\" id=\"\(id)\"\(id == "show-all" ? " checked" : "")><label for=\"\(id)\">\(escape(label))</label>")
        }
        html.append("<table id=\"entity-table\">")
        html.append("<thead><tr><th>Status</th><th>Kind</th><th>v3 ID</th><th>v2 ID</th><th>Differences</th></tr></thead>")
        html.append("<tbody>")
        for entry in diff.entries {
            var detail = ""
            if !entry.fields.isEmpty {
                let items = entry.fields.map { field -> String in
                    switch (field.expected, field.actual) {
                    case (.hidden, _), (_, .hidden):
                        return "<li>\(escape(field.label)): \(escape(field.summary))</li>"
                    default:
                        return "<li>\(escape(field.label)): expected <code>\(escape(field.expected.text))</code>, found <code>\(escape(field.actual.text))</code></li>"
                    }
                }
                let count = entry.fields.count
                detail = "<details><summary>\(count) field\(count == 1 ? "" : "s") differ\(count == 1 ? "s" : "")</summary><ul>" + items.joined() + "</ul></details>"
            }
            html.append(
                "<tr class=\"entity \(entry.status.rawValue)\" data-kind=\"\(escape(entry.kind.rawValue))\"><td class=\"status\">\(escape(entry.status.label))</td>"
                    + "<td>\(escape(entry.kind.rawValue))</td><td>\(escape(entry.entity))</td><td>\(escape(entry.v2ID ?? ""))</td><td>\(detail)</td></tr>")
        }
        html += ["</tbody>", "</table>", "</section>"]
        return html
    }

    static func cutoverSection(_ devices: [SwitchOverStatus.Device]) -> [String] {
        var html = ["<section id=\"cutover\">", "<h2>Cut-over</h2>"]
        let done = devices.filter { $0.state == "done" }.count
        let failed = devices.filter { $0.state == "failed" }.count
        let notYet = devices.filter { $0.state == nil }.count
        html.append("<p><span class=\"count\" data-cutover=\"done\" data-count=\"\(done)\">\(done)</span> of \(devices.count) migrated devices run on v3 only; "
            + "<span data-cutover=\"failed\" data-count=\"\(failed)\">\(failed)</span> failed; "
            + "<span data-cutover=\"pending\" data-count=\"\(notYet)\">\(notYet)</span> not cut over yet (they still run on v2: <code>ttn-migrate cutover</code>).</p>")
        guard !devices.isEmpty else { return html + ["</section>"] }
        html.append("<details\(failed + notYet > 0 ? " open" : "")><summary>Every device</summary>")
        html.append("<table id=\"cutover-table\">")
        html.append("<thead><tr><th>State</th><th>v3 ID</th><th>v2 ID</th><th>v3 frame counters (up, down)</th><th>Last error</th></tr></thead>")
        html.append("<tbody>")
        for device in devices {
            let state = device.state ?? "not cut over"
            let rowClass = device.state == "done" ? "done" : device.state == "failed" ? "failed" : "pending"
            let counters = device.v3FCntUp.map { "\($0), \(device.v3FCntDown ?? 0)" } ?? (device.state == nil ? "" : "no session (joins again)")
            html.append("<tr class=\"device \(rowClass)\"><td class=\"status\">\(escape(state))</td><td>\(escape(device.v3ID))</td><td>\(escape(device.v2ID))</td>"
                + "<td>\(escape(counters))</td><td>\(escape(device.error ?? ""))</td></tr>")
        }
        html += ["</tbody>", "</table>", "</details>", "</section>"]
        return html
    }

    static func gatewaySection(_ gateways: [GatewayReconnection]) -> [String] {
        guard !gateways.isEmpty else { return [] }
        var html = [
            "<section id=\"gateways\">", "<h2>Gateways: reconnect to v3</h2>",
            "<p>v2 is not changed: a gateway keeps using v2 until it is reconfigured with these settings.</p>",
            "<table id=\"gateway-table\">",
            "<thead><tr><th>Gateway</th><th>Frequency plan</th><th>Semtech UDP packet forwarder</th><th>LoRa Basics Station</th></tr></thead>",
            "<tbody>",
        ]
        for gateway in gateways {
            var name = "<code>\(escape(gateway.v3ID))</code>"
            if gateway.v2ID != gateway.v3ID { name += " (v2 <code>\(escape(gateway.v2ID))</code>)" }
            if let eui = gateway.eui { name += "<br>EUI <code>\(escape(eui))</code>" }
            guard gateway.migrated else {
                html.append("<tr class=\"gateway pending\"><td>\(name)</td><td colspan=\"3\">not migrated yet: run <code>ttn-migrate run</code> first</td></tr>")
                continue
            }
            let udp = "<code>server_address</code> <code>\(escape(gateway.udpServerAddress))</code>, <code>serv_port_up</code> \(gateway.udpPortUp), "
                + "<code>serv_port_down</code> \(gateway.udpPortDown)" + (gateway.eui.map { ", <code>gateway_ID</code> <code>\(escape($0))</code>" } ?? "")
            let noEUI = gateway.eui == nil
                ? "<br><strong>No EUI in v3</strong>: packet forwarders and Basics Station name a gateway by its EUI; set it with <code>gateway_euis:</code> first." : ""
            let station = "LNS <code>\(escape(gateway.lnsURI))</code><br>CUPS <code>\(escape(gateway.cupsURI))</code><br>"
                + (gateway.linkKeyName.map { "LNS key: API key <code>\(escape($0))</code> (<code>RIGHT_GATEWAY_LINK</code>), its secret in <code>ttn-migrate keys --out</code>" }
                    ?? "LNS key: not created yet (run <code>ttn-migrate run</code> again)")
            html.append("<tr class=\"gateway\"><td>\(name)</td><td>\(escape(gateway.frequencyPlans.joined(separator: ", ")))</td><td>\(udp)\(noEUI)</td><td>\(station)</td></tr>")
        }
        html += ["</tbody>", "</table>", "</section>"]
        return html
    }

    static func skippedSection(_ skipped: [DiffSkip]) -> [String] {
        guard !skipped.isEmpty else { return [] }
        var html = [
            "<section id=\"skipped\">", "<h2>Skipped (not migrated, so not compared)</h2>", "<table id=\"skipped-table\">",
            "<thead><tr><th>Kind</th><th>v2 ID</th><th>v3 ID</th><th>Reason</th></tr></thead>", "<tbody>",
        ]
        for skip in skipped {
            html.append("<tr class=\"skip\"><td>\(escape(skip.kind.rawValue))</td><td>\(escape(skip.v2ID))</td><td>\(escape(skip.v3ID ?? ""))</td>"
                + "<td>\(escape(skip.reason))</td></tr>")
        }
        html += ["</tbody>", "</table>", "</section>"]
        return html
    }

    static func escape(_ text: String) -> String { DiffRenderer.htmlEscape(text) }
}
