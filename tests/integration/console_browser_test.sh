#!/usr/bin/env bash
# Issue 15, the web console in a real browser: a name server and a broker holding data (a topic
# with keyed messages, a group that consumed 6 of 10 messages), then headless Chromium loads the
# console's pages from the broker and the test checks the DOM it rendered: the topic list shows the
# topic, the group's page shows its lag (4, as `vela-admin group progress` says), a search by key
# finds the message with its properties and its body (HTML in the body stays text), its page shows
# its trace (sent, stored, consumed by the group), a pending
# timer and a pending transaction show on their pages, the cluster page lists the broker (asked by
# the broker itself over RPC) in its Brokers panel. The broker runs with
# consoleWriteEnabled=true: the dead-letters page of a group with two dead letters shows a Resend
# button for each and Resend all, the group page a Reset offset form; then Chromium, driven over
# the DevTools protocol (chromium_cdp.py), clicks Resend on one dead letter and Reset offset
# (earliest) on the group page, and the pages show the broker's answers (the write routes' every
# case is tested in http_endpoint_test.cc). It saves a screenshot of every page into OUT_DIR
# (printed) for people to look at.
#   console_browser_test.sh BUILD_DIR OUT_DIR
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$(cd "$1" && pwd)/bin
OUT=$2
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
  echo "FAIL: no chromium on PATH: this test needs Debian's chromium (scripts/install_deps.sh installs it)" >&2
  exit 1
fi
mkdir -p "$OUT"
rm -f "$OUT"/*.png  # no stale screenshot passes for a new one
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
cd "$TMP"
fail() {
  echo "FAIL: $*" >&2
  echo "--- broker log (last lines) ---" >&2
  tail -n 20 b.log >&2 || true
  exit 1
}

"$BIN/vela-namesrv" --listen 127.0.0.1:0 --set httpPort=-1 >ns.out 2>ns.log &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q '^listening on' ns.out 2>/dev/null && break; sleep 0.1; done
export VELA_NAMESRV=$(sed -n 's/^listening on //p' ns.out)
[ -n "$VELA_NAMESRV" ] || fail "the name server did not start"
"$BIN/vela-broker" --listen 127.0.0.1:0 --namesrv "$VELA_NAMESRV" --store-dir "$TMP/store" \
  --set httpPort=0 --set mappedFileSizeCommitLog=16m --set maxHashSlotNum=4096 --set maxIndexNum=4096 \
  --set consoleWriteEnabled=true >b.out 2>b.log &
PIDS+=($!)
for _ in $(seq 1 100); do grep -q '^http on' b.out 2>/dev/null && break; sleep 0.1; done
HTTP=$(sed -n 's/^http on //p' b.out)
[ -n "$HTTP" ] || fail "the broker printed no 'http on HOST:PORT'"
BROKER=$(sed -n 's/^listening on //p' b.out)
for _ in $(seq 1 100); do
  "$BIN/vela-admin" cluster list 2>/dev/null | grep -q "${BROKER##*:}" && break
  sleep 0.1
done

TOPIC=ConsoleOrders
GROUP=console-readers
KEY=order-4711
"$BIN/vela-admin" topic create "$TOPIC" --queues 2 >/dev/null
"$BIN/vela-admin" send --topic "$TOPIC" --key filler --body "filler message" --count 5 >/dev/null
# The body holds HTML: the page must show it as text, never as markup.
# It is traced (send, store, and the group's consume below): its page shows the timeline.
ID=$("$BIN/vela-admin" --json send --trace --topic "$TOPIC" --key "$KEY" --tag created --prop region=eu-west \
  --body '{"order": 4711, "note": "<b>bold</b> & <script>alert(1)</script>"}' |
  python3 -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["id"])')
# The group consumes these 6 (and commits them as its consumer shuts down); 4 more come after.
"$BIN/vela-admin" consume --trace --topic "$TOPIC" --group "$GROUP" --count 6 --timeout 15 >/dev/null 2>consume.log ||
  fail "consume: $(cat consume.log)"
"$BIN/vela-admin" send --topic "$TOPIC" --key later --body "sent after the group consumed" --count 4 >/dev/null
LAG=$("$BIN/vela-admin" --json group progress "$GROUP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total_lag"])')
[ "$LAG" = 4 ] || fail "vela-admin group progress says lag $LAG, want 4 (6 of 10 messages consumed)"
# A timer due in an hour and a transaction left undecided (its producer is gone), for the timers
# and transactions pages.
"$BIN/vela-admin" topic create ConsoleLater --queues 1 --type delay >/dev/null
"$BIN/vela-admin" send --topic ConsoleLater --key reminder --body "due in an hour" --delay-ms 3600000 >/dev/null
"$BIN/vela-admin" topic create ConsolePayments --queues 1 --type transaction >/dev/null
"$BIN/vela-admin" send --topic ConsolePayments --body "payment 17" --transaction unknown \
  --producer-group console-payments >/dev/null

# Two dead letters: a group without retries whose consumer fails every message.
DEAD_GROUP=console-dead
"$BIN/vela-admin" topic create ConsoleDead --queues 1 >/dev/null
"$BIN/vela-admin" group create "$DEAD_GROUP" --max-retries 0 >/dev/null
"$BIN/vela-admin" send --topic ConsoleDead --key dead --body "a message nobody could consume" --count 2 >/dev/null
"$BIN/vela-consume-probe" --namesrv "$VELA_NAMESRV" --topic ConsoleDead --group "$DEAD_GROUP" --fail-always \
  >probe.out 2>probe.log &
PROBE=$!
PIDS+=($PROBE)
for _ in $(seq 1 200); do
  [ "$("$BIN/vela-admin" --json group dlq "$DEAD_GROUP" 2>/dev/null | wc -l)" = 2 ] && break
  sleep 0.1
done
kill "$PROBE" && wait "$PROBE" || true
DEAD_IDS=$("$BIN/vela-admin" --json group dlq "$DEAD_GROUP" | python3 -c 'import json,sys; print(" ".join(json.loads(l)["id"] for l in sys.stdin))')
[ "$(echo $DEAD_IDS | wc -w)" = 2 ] || fail "want 2 dead letters of $DEAD_GROUP, got: $DEAD_IDS"
grep -q "consoleWriteEnabled=true: the web console on .* no access control" b.log ||
  fail "no warning at start that the console's write actions are on"

# The JSON API behind the pages: answers, bounds and errors (JSON, with the right status).
python3 - "$HTTP" "$TOPIC" "$KEY" "$ID" "$GROUP" <<'PY' || fail "JSON API"
import json, sys, urllib.error, urllib.request
http, topic, key, msg_id, group = sys.argv[1:]
def get(path):
    try:
        with urllib.request.urlopen(f"http://{http}{path}", timeout=10) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()
def want(path, status, check=None):
    got, ctype, body = get(path)
    if got != status:
        sys.exit(f"GET {path}: {got}, want {status}: {body[:300]}")
    if path.startswith("/api/"):
        if not ctype.startswith("application/json"):
            sys.exit(f"GET {path}: content type {ctype}")
        doc = json.loads(body)
        if status >= 400 and not doc.get("error"):
            sys.exit(f"GET {path}: an error without a message: {body}")
        if check:
            check(doc)
    return body
status, ctype, page = get("/")
assert status == 200 and ctype.startswith("text/html"), (status, ctype)
assert "<title>Vela console</title>" in page
# No inline script or style: the page loads both from this origin, under a policy that allows
# nothing else (the screenshots below show that the page still renders under it).
assert "<script>" not in page and "<style>" not in page, "inline script or style in the page"
with urllib.request.urlopen(f"http://{http}/", timeout=10) as r:
    csp = r.headers.get("Content-Security-Policy") or ""
    assert "script-src 'self'" in csp and "unsafe" not in csp and "frame-ancestors 'none'" in csp, csp
for path, want_type in (("/console.js", "text/javascript"), ("/console.css", "text/css")):
    status, ctype, body = get(path)
    assert status == 200 and ctype.startswith(want_type) and len(body) > 1000, (path, status, ctype)
def search(doc):
    [m] = doc["messages"]
    assert m["id"] == msg_id and key in m["keys"] and m["properties"]["region"] == "eu-west", m
    assert m["tag"] == "created" and m["body"].startswith('{"order": 4711') and not m["bodyTruncated"], m
want(f"/api/messages?topic={topic}&key={key}", 200, search)
want(f"/api/messages?id={msg_id}", 200, search)
def lag(doc):
    [g] = doc["groups"]
    assert g["name"] == group and g["lag"] == 4, g
    assert sum(q["lag"] for t in g["topics"] for q in t["queues"]) == 4, g
want(f"/api/groups?name={group}", 200, lag)
want("/api/groups", 200, lambda d: [g for g in d["groups"] if g["name"] == group] or sys.exit("group not listed"))
import time
def eventually(path, ok):  # the timer service counts a timer once it has read it from its queue
    deadline = time.time() + 15
    while True:
        status, _, body = get(path)
        if status == 200 and ok(json.loads(body)):
            return
        if time.time() > deadline:
            sys.exit(f"GET {path}: {status} {body[:300]}")
        time.sleep(0.2)
eventually("/api/timers", lambda d: d["pending"] == 1 and d["nextDueMs"] and d["pendingByTopic"][0]["topic"] == "ConsoleLater")
eventually("/api/transactions", lambda d: len(d["transactions"]) == 1 and d["transactions"][0]["producerGroup"] == "console-payments")
want(f"/api/dlq?group={group}", 200, lambda d: d["messages"] == [] or sys.exit(d))
eventually(f"/api/trace?id={msg_id}", lambda d: [e["type"] for e in d["events"]] == ["send", "store", "consume"]
           and d["events"][2]["group"] == group and d["events"][2]["attempt"] == 1 and d["events"][2]["result"] == "ok")
want(f"/api/trace?id={'0' * 32}", 200, lambda d: d["events"] == [] or sys.exit(d))
want("/api/trace", 400)
want("/api/trace?id=x%20y", 400)
want(f"/api/topics?name={topic}", 200, lambda d: d["topics"][0]["name"] == topic or sys.exit(d))
want("/api/topics?name=NoSuchTopic", 404)
want(f"/api/topics?name={topic}&limit=1", 400)
want("/api/groups?name=no-such-group", 404)
want(f"/api/messages?id={'0' * 32}", 404)
want(f"/api/messages?topic=NoSuchTopic&key={key}", 404)
want("/api/dlq?group=no-such-group", 404)
want(f"/api/messages?topic={topic}", 400)
want(f"/api/messages?topic={topic}&key={key}&id={msg_id}", 400)
want(f"/api/messages?topic={topic}&key={'k' * 2000}", 400)
want(f"/api/messages?topic={topic}&key={key}&limit=65", 400)
want("/api/messages?id=has%20space", 400)
want("/api/groups?limit=0", 400)
want("/api/groups?limit=12x", 400)
want("/api/groups?name=a%20b", 400)
want("/api/groups?unknown=1", 400)
want("/api/dlq", 400)
want("/api/transactions?limit=-1", 400)
want("/api/timers?x=1", 400)
want("/api/cluster", 200, lambda d: d["consoleWriteEnabled"] is True or sys.exit(d))
def brokers(doc):
    [b] = doc["brokers"]
    assert b["reachable"] is True and b["self"] is True and b["httpPort"] == int(http.rsplit(":", 1)[1]), doc
    assert doc["truncated"] is False and doc["namesrvErrors"] == [], doc
want("/api/brokers", 200, brokers)
want("/api/brokers?x=1", 400)
print("JSON API: answers, 400s and 404s as documented")
PY

# page NAME HASH: dumps the DOM of http://HTTP/HASH into NAME.html and a screenshot into OUT/NAME.png.
page() {
  local name=$1 hash=$2
  local url="http://$HTTP/$hash"
  # One run dumps the DOM and takes the screenshot, both after 5 s of the page's (virtual) time.
  timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --user-data-dir="$TMP/chrome" \
    --virtual-time-budget=5000 --hide-scrollbars --window-size=1280,900 --screenshot="$OUT/$name.png" \
    --enable-logging=stderr --v=0 --dump-dom "$url" >"$name.html" 2>"$name.chrome.log" ||
    fail "chromium $url failed: $(tail -n 5 "$name.chrome.log")"
  [ -s "$OUT/$name.png" ] || fail "no screenshot of $url"
  # The page's console: anything the Content-Security-Policy refused (an inline style, say) would
  # show a page that half works.
  if grep -i "content security policy" "$name.chrome.log"; then fail "$url: the page broke its own policy"; fi
  echo "screenshot: $OUT/$name.png ($url)"
}
# dom FILE CHECK...: checks on a dumped DOM (python's html.parser), see below.
dom() {
  python3 - "$@" <<'PY'
import html.parser, sys
path, checks = sys.argv[1], sys.argv[2:]
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.elements, self.stack = [], []
    def handle_starttag(self, tag, attrs):
        e = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.elements.append(e)
        if tag not in ("meta", "input", "br", "link", "img"):
            self.stack.append(e)
    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()["tag"] == tag:
                break
    def handle_data(self, data):
        for e in self.stack:
            e["text"] += data
p = P()
p.feed(open(path, encoding="utf-8").read())
def find(attr, value):
    return [e for e in p.elements if e["attrs"].get(attr) == value]
for check in checks:
    kind, _, rest = check.partition(":")
    if kind == "has":  # has:ATTR=VALUE  an element with this attribute value exists
        attr, _, value = rest.partition("=")
        if not find(attr, value):
            sys.exit(f"{path}: no element with {attr}={value!r}")
    elif kind == "text":  # text:ATTR=VALUE=TEXT  that element's text contains TEXT
        attr, _, rest2 = rest.partition("=")
        value, _, text = rest2.partition("=")
        found = find(attr, value)
        if not found or not any(text in e["text"] for e in found):
            sys.exit(f"{path}: element {attr}={value!r} does not show {text!r}: {[e['text'][:300] for e in found]}")
    elif kind == "notag":  # notag:TAG  no such element (markup from data must stay text)
        if any(e["tag"] == rest for e in p.elements if e["tag"] != "script" or e["attrs"]):
            sys.exit(f"{path}: found a <{rest}> element")
    elif kind == "noerror":
        if find("data-testid", "error"):
            sys.exit(f"{path}: the page shows an error: {find('data-testid', 'error')[0]['text']}")
PY
}

page topics "#/topics"
dom topics.html noerror "has:data-topic=$TOPIC" "text:data-testid=topics=$TOPIC" || fail "topics page"
page group "#/groups/$GROUP"
dom group.html noerror "text:id=group-lag=4" "has:data-lag=4" || fail "group page"
page groups "#/groups"
dom groups.html noerror "has:data-group=$GROUP" || fail "groups page"
page search "#/messages?topic=$TOPIC&key=$KEY"
dom search.html noerror "has:data-id=$ID" "text:data-id=$ID=region" "text:data-id=$ID=eu-west" \
  "text:data-testid=body=<b>bold</b> & <script>alert(1)</script>" "notag:b" \
  "text:data-testid=result-count=1 message(s)" || fail "message search by key"
page message "#/messages?id=$ID"
dom message.html noerror "has:data-id=$ID" "has:data-event=send" "has:data-event=store" \
  "text:data-event=consume=$GROUP" || fail "message by id, with its trace"
page topic "#/topics/$TOPIC"
dom topic.html noerror || fail "topic page"
page cluster "#/cluster"
# The Brokers panel: the brokers the name server lists (here the one), each asked for its status.
BROKER_NAME=$("$BIN/vela-admin" --json cluster list | python3 -c 'import json,sys; print(json.load(sys.stdin)["brokers"][0]["broker"])')
dom cluster.html noerror "has:data-testid=brokers" "text:data-broker=$BROKER_NAME=$BROKER_NAME" \
  "text:data-testid=brokers=reachable" "text:data-testid=brokers=$BROKER" "text:data-testid=brokers=this broker" ||
  fail "cluster page: the Brokers panel"
page timers "#/timers"
dom timers.html noerror "text:id=view=ConsoleLater" || fail "timers page"
page transactions "#/transactions"
dom transactions.html noerror "text:id=view=console-payments" || fail "transactions page"
page dlq "#/dlq?group=$GROUP"
dom dlq.html noerror || fail "dead letters page"
page dlq-resend "#/dlq?group=$DEAD_GROUP"
checks=(noerror "has:data-testid=resend-all")
for id in $DEAD_IDS; do checks+=("has:data-resend=$id"); done
dom dlq-resend.html "${checks[@]}" || fail "dead letters page with Resend buttons"
dom group.html "has:data-testid=reset-offset-submit" || fail "group page: no Reset offset form"
# The write actions from the page itself. act NAME HASH SCRIPT...: the scripts' values in NAME.cdp
# (one JSON line each), a screenshot after them in OUT/NAME.png.
act() {
  local name=$1 hash=$2
  shift 2
  timeout 90 python3 "$HERE/chromium_cdp.py" "$CHROMIUM" "$TMP/chrome-$name" "http://$HTTP/$hash" "$OUT/$name.png" "$@" \
    >"$name.cdp" 2>"$name.cdp.err" || fail "chromium (DevTools) on $hash: $(tail -n 5 "$name.cdp.err")"
  echo "screenshot: $OUT/$name.png (after the write action)"
}
FIRST=${DEAD_IDS%% *}
act dlq-resent "#/dlq?group=$DEAD_GROUP" \
  "waitFor('[data-resend=\"$FIRST\"]', e => e.length == 1).then(() => { document.querySelector('[data-resend=\"$FIRST\"]').click(); return 'clicked'; })" \
  "waitFor('[data-testid=write-result]', e => e.length == 1)" \
  "waitFor('[data-resend]', e => e.length == 1).then(() => document.querySelector('[data-resend]').getAttribute('data-resend'))"
sed -n 2p dlq-resent.cdp | grep -q "Resent 1 dead letter(s) of $DEAD_GROUP" || fail "Resend: the page says $(cat dlq-resent.cdp)"
[ "$(sed -n 3p dlq-resent.cdp)" = "\"${DEAD_IDS##* }\"" ] || fail "Resend: the other dead letter should be left: $(cat dlq-resent.cdp)"
[ "$("$BIN/vela-admin" --json group dlq "$DEAD_GROUP" | wc -l)" = 1 ] || fail "Resend from the page: vela-admin still lists 2 dead letters"
grep -q "console write from .*: dlq resend group=$DEAD_GROUP id=$FIRST: 200" b.log || fail "the resend is not logged"
act group-reset "#/groups/$GROUP" \
  "waitFor('[data-testid=reset-offset-submit]', e => e.length == 1).then(() => { window.confirm = () => true; document.querySelector('[data-testid=reset-offset-submit]').click(); return 'clicked'; })" \
  "waitFor('[data-testid=write-result]', e => e.length == 1)" \
  "waitFor('#group-lag', e => e.length == 1 && e[0].textContent === '10')"
sed -n 2p group-reset.cdp | grep -q "Offsets of $GROUP on $TOPIC reset" || fail "Reset offset: the page says $(cat group-reset.cdp)"
LAG=$("$BIN/vela-admin" --json group progress "$GROUP" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total_lag"])')
[ "$LAG" = 10 ] || fail "after Reset offset to the earliest, vela-admin group progress says lag $LAG, want 10"

echo "console: topics, group lag 4, search by key and by id, cluster, timers, transactions, dead letters with Resend buttons and the Reset offset form render in Chromium; Resend and Reset offset act from the page"
