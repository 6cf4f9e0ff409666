#!/usr/bin/env bash
# Renders the demo's HTML diff report in headless Chromium and checks what a person sees: a PNG of the
# page, and from the rendered DOM (--dump-dom) that every summary count equals the rows shown for it
# (entities per status, skipped, cut-over, gateways). Needs a build (swift build) and Chromium
# (Debian: apt-get install chromium). Usage: scripts/check-report.sh [OUTPUT-DIR [REPORT.html]]; without a
# report it runs the demo (which ends with a cut-over) and checks the demo's diff.html.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=./.build/debug/ttn-migrate
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then echo "check-report: chromium is not installed (apt-get install chromium)" >&2; exit 2; fi
out=${1:-$(mktemp -d)}
mkdir -p "$out"
report=${2:-}
if [ -z "$report" ]; then
  "$binary" demo --out "$out/demo" >"$out/demo.log" 2>&1 || { echo "check-report: the demo failed, see $out/demo.log" >&2; exit 1; }
  report="$out/demo/diff.html"
fi
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars)
timeout 120 "$chromium" "${flags[@]}" --window-size=1280,2400 --screenshot="$out/diff.png" "file://$(realpath "$report")" 2>/dev/null
timeout 120 "$chromium" "${flags[@]}" --dump-dom "file://$(realpath "$report")" 2>/dev/null >"$out/diff.dom.html"
test -s "$out/diff.png" || { echo "check-report: Chromium wrote no PNG" >&2; exit 1; }
python3 - "$out/diff.dom.html" <<'PY'
import collections, html.parser, sys

class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.cards, self.cutover, self.rows = {}, {}, collections.Counter()
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "data-status" in a: self.cards[a["data-status"]] = int(a["data-count"])
        if "data-cutover" in a: self.cutover[a["data-cutover"]] = int(a["data-count"])
        if tag == "tr" and a.get("class"):
            classes = a["class"].split()
            self.rows[" ".join(classes)] += 1
            if classes[0] == "entity" and a.get("data-kind") == "gateway": self.rows["gateway-entity"] += 1

page = Page()
page.feed(open(sys.argv[1], encoding="utf-8").read())
problems = []
for status in ("equal", "differs", "missing-in-v3", "only-in-v3"):
    if page.cards.get(status) != page.rows["entity " + status]:
        problems.append(f"{status}: the summary says {page.cards.get(status)}, the table has {page.rows['entity ' + status]} rows")
if page.cards.get("skipped") != page.rows["skip"]:
    problems.append(f"skipped: the summary says {page.cards.get('skipped')}, the table has {page.rows['skip']} rows")
for state in ("done", "failed", "pending"):
    if page.cutover.get(state) != page.rows["device " + state]:
        problems.append(f"cut-over {state}: the summary says {page.cutover.get(state)}, the table has {page.rows['device ' + state]} rows")
gateways = page.rows["gateway"] + page.rows["gateway pending"]
if gateways != page.rows["gateway-entity"]:
    problems.append(f"gateways: {page.rows['gateway-entity']} in the entity table, {gateways} with reconnection settings")
entities = sum(page.rows["entity " + s] for s in ("equal", "differs", "missing-in-v3", "only-in-v3"))
if entities == 0: problems.append("the entity table is empty")
print(f"check-report: {entities} entity rows ({page.cards}), {page.rows['skip']} skipped, "
      f"cut-over {page.cutover}, {gateways} gateways with settings")
if problems:
    print("check-report: FAILED\n  " + "\n  ".join(problems), file=sys.stderr)
    sys.exit(1)
PY
echo "check-report: summary counts match the rows; screenshot $out/diff.png"
