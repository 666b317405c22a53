#!/usr/bin/env python3
"""tests/ui/ui_test.py: augurd's web UI (/ui/) in a real browser.

Debian's chromium, headless, driven by chromium-driver through
python3-selenium.  Run by tests/integration/http_ui.sh against a local
cluster holding the demo fleet; it can also be run by hand:

    /usr/bin/python3 tests/ui/ui_test.py --url http://127.0.0.1:7201 \\
        --token "$(augur token create)" --hosts host-r1-1,host-r1-2 \\
        --infra psu-r1,switch-r1 --score-host host-r1-2 \\
        --workload web-1 --target host-r1-2 --artifacts /tmp/ui

Every check waits for a condition with a generous bound (WebDriverWait);
nothing sleeps to make a check pass.  Screenshots (PNG) go to --artifacts.
The last line says 'N passed, N failed'; the exit status is 0 only when
nothing failed.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

WAIT = 60  # seconds: generous, for a loaded CI machine and sanitizer builds


class Failure(Exception):
    pass


def log(msg):
    print("[ui_test %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True, help="augurd's HTTP base URL")
    p.add_argument("--token", required=True, help="a valid bearer token")
    p.add_argument("--hosts", required=True, help="host ids the fleet view must show")
    p.add_argument("--infra", default="", help="PSU and switch ids it must show")
    p.add_argument("--score-host", required=True, help="host to give a score with augur score set")
    p.add_argument("--score", default="0.6", help="that score (below the migrate threshold)")
    p.add_argument("--workload", required=True, help="workload to migrate from the UI")
    p.add_argument("--target", required=True, help="host to migrate it to")
    p.add_argument("--artifacts", required=True, help="directory for screenshots")
    p.add_argument("--augur", default=os.environ.get("AUGUR", "augur"), help="the augur CLI")
    p.add_argument("--restart-cmd", default="",
                   help="a shell command restarting the node that serves --url (for stream_resumes)")
    p.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    p.add_argument("--chromedriver", default=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return p.parse_args()


def make_driver(args, profile):
    opts = webdriver.ChromeOptions()
    opts.binary_location = args.chromium
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
              "--disable-gpu", "--window-size=1500,1100", "--no-first-run",
              "--disable-extensions", "--disable-background-networking",
              "--user-data-dir=" + profile):
        opts.add_argument(a)
    # The performance log holds every request the page makes (Network.*),
    # the browser log its console (CSP violations show there).
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    svc = Service(executable_path=args.chromedriver,
                  log_path=os.path.join(args.artifacts, "chromedriver.log"))
    return webdriver.Chrome(service=svc, options=opts)


class UiTest:
    def __init__(self, args, driver):
        self.a = args
        self.d = driver
        self.passed = 0
        self.failed = 0
        self.requests = []  # every URL requested, from the performance log
        self.console = []

    # ---- helpers -------------------------------------------------------

    def wait(self, what, cond, timeout=WAIT):
        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.2).until(lambda d: cond())
        except TimeoutException:
            raise Failure("gave up after %ds waiting for: %s" % (timeout, what))

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def shot(self, name):
        path = os.path.join(self.a.artifacts, name + ".png")
        self.d.save_screenshot(path)
        log("screenshot %s" % path)

    def visible(self, el_id):
        return self.js("var e = document.getElementById(arguments[0]);"
                       "return !!e && !e.hidden && e.offsetParent !== null;", el_id)

    def text(self, el_id):
        return self.js("var e = document.getElementById(arguments[0]); return e ? e.textContent : '';", el_id)

    def click(self, css):
        """A real click on @css; the live views re-render as events come,
        so an element found may be replaced before the click lands: find
        it again then."""
        def attempt():
            try:
                self.d.find_element(By.CSS_SELECTOR, css).click()
                return True
            except StaleElementReferenceException:
                return False
        self.wait("a click on %s" % css, attempt)

    def tab(self, view):
        self.click("#tab-" + view)
        self.wait("the %s view to show" % view, lambda: self.visible("view-" + view))

    def drain_logs(self):
        for entry in self.d.get_log("performance"):
            try:
                msg = json.loads(entry["message"])["message"]
            except (KeyError, ValueError):
                continue
            if msg.get("method") == "Network.requestWillBeSent":
                req = msg["params"]["request"]
                self.requests.append({"url": req.get("url", ""),
                                      "fragment": req.get("urlFragment", ""),
                                      "headers": req.get("headers", {}),
                                      "referrer": req.get("headers", {}).get("Referer", "")})
        self.console.extend(self.d.get_log("browser"))

    def augur(self, *argv):
        out = subprocess.run([self.a.augur] + list(argv), capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise Failure("augur %s: exit %d: %s" % (" ".join(argv), out.returncode, out.stderr.strip()))
        return out.stdout

    def run(self, name, fn):
        log("---- %s" % name)
        try:
            fn()
            self.passed += 1
            log("ok: %s" % name)
        except Exception as e:  # noqa: BLE001 -- every failure is reported
            self.failed += 1
            log("FAIL: %s: %s" % (name, e))
            if not isinstance(e, Failure):
                traceback.print_exc()
            try:
                self.shot("FAIL-" + name)
            except Exception:  # noqa: BLE001
                pass

    # ---- the tests -----------------------------------------------------

    def static_files(self):
        """The page and its files load under the CSP, with no token."""
        self.d.get(self.a.url + "/")
        self.wait("/ redirects to /ui/ and the login shows",
                  lambda: self.d.current_url.endswith("/ui/") and self.visible("login"))
        for el in ("token-input", "login-submit"):
            self.d.find_element(By.ID, el)
        label = self.js("return document.querySelector('label[for=token-input]').textContent")
        if "token" not in label.lower():
            raise Failure("the token input has no label: %r" % label)
        self.shot("login")

    def bad_token(self):
        """A refused token: the login page says so, and nothing else shows."""
        self.d.get(self.a.url + "/ui/#token=augur1.not-a-token")
        self.wait("the login error for a bad link token",
                  lambda: self.visible("login") and self.visible("login-error") and
                  "refused" in self.text("login-error").lower())
        if "token=" in self.d.current_url:
            raise Failure("the token stayed in the address bar: %s" % self.d.current_url)
        if self.visible("app"):
            raise Failure("the app shows after a refused token")
        # The form, typed in.
        box = self.d.find_element(By.ID, "token-input")
        box.clear()
        box.send_keys("augur1.still-not-a-token")
        self.d.find_element(By.ID, "login-submit").click()
        self.wait("the login error for a bad typed token",
                  lambda: self.visible("login-error") and "refused" in self.text("login-error").lower())
        if self.js("return sessionStorage.getItem('augur.token')") is not None:
            raise Failure("a refused token was kept in sessionStorage")
        self.shot("login-bad-token")
        log("bad token: %s" % self.text("login-error").strip())

    def login(self):
        """/ui/#token=T signs in and takes T out of the URL."""
        self.d.get(self.a.url + "/ui/#token=" + self.a.token)
        self.wait("the app to show after the link login", lambda: self.visible("app"))
        self.wait("the token to leave the address bar", lambda: "token" not in self.d.current_url)
        if self.js("return sessionStorage.getItem('augur.token')") != self.a.token:
            raise Failure("the token is not in sessionStorage")
        self.wait("whoami in the header", lambda: "(" in self.text("who"))
        self.wait("the event stream to be live",
                  lambda: self.js("return document.getElementById('stream-state').getAttribute('data-state')") == "live")
        # Marks this page: a reload would lose it.
        self.js("window.__uiTestMark = 'kept';")
        log("signed in as %s; URL %s" % (self.text("who").strip(), self.d.current_url))

    def fleet(self):
        """The demo fleet's ids are text in the DOM, grouped with their racks."""
        self.tab("fleet")
        ids = [x for x in self.a.hosts.split(",") + self.a.infra.split(",") if x]
        for rid in ids:
            self.wait("resource %s in the fleet view" % rid, lambda rid=rid: self.js(
                "var e = document.querySelector('#fleet .res[data-id=\"' + arguments[0] + '\"]');"
                "return !!e && e.textContent.indexOf(arguments[0]) >= 0;", rid))
        racks = self.js("return Array.from(document.querySelectorAll('#fleet .rack')).map(e => e.getAttribute('data-rack'))")
        log("fleet shows %d resources in racks %s" % (len(ids), racks))
        if not racks:
            raise Failure("no rack in the fleet view")

    def score_colour(self):
        """augur score set turns a host's tile to its risk colour, live."""
        host, score = self.a.score_host, self.a.score
        sel = '#fleet .res[data-id="%s"]' % host
        before = self.js("var e = document.querySelector(arguments[0]); return e && getComputedStyle(e).backgroundColor", sel)
        self.augur("score", "set", host, score)
        self.wait("%s's tile to show score %s as 'warn'" % (host, score), lambda: self.js(
            "var e = document.querySelector(arguments[0]);"
            "return !!e && e.getAttribute('data-score') === arguments[1] && e.classList.contains('risk-warn');",
            sel, score))
        after = self.js("return getComputedStyle(document.querySelector(arguments[0])).backgroundColor", sel)
        # What the stylesheet gives a 'warn' tile and an unscored one.
        probe = self.js("""
            var out = {};
            ['warn', 'none'].forEach(function (k) {
              var e = document.createElement('div');
              e.className = 'res risk-' + k;
              document.body.appendChild(e);
              out[k] = getComputedStyle(e).backgroundColor;
              e.remove();
            });
            return out;""")
        if after != probe["warn"] or probe["warn"] == probe["none"]:
            raise Failure("%s's colour is %s, not the warn colour %s (unscored: %s)"
                          % (host, after, probe["warn"], probe["none"]))
        if self.js("return window.__uiTestMark") != "kept":
            raise Failure("the page reloaded")
        log("%s: %s -> %s (the warn colour; unscored %s)" % (host, before, after, probe["none"]))
        # Click: the detail panel, and the leader's live prediction.
        self.click(sel)
        self.wait("the detail panel for %s" % host, lambda: self.js(
            "var h = document.querySelector('#detail h3'); return !!h && h.textContent === arguments[0];", host))
        self.click("#predict-btn")
        self.wait("the prediction for %s" % host, lambda: self.js(
            "var p = document.getElementById('prediction');"
            "return !!p && p.getAttribute('data-resource') === arguments[0];", host))
        self.shot("fleet")

    def select(self, sid, value):
        """Choose @value in the select #@sid.  The page rebuilds a form's
        options when the event stream brings news, so an option found a
        moment ago may be gone: choose again until the select holds it."""
        def chosen():
            try:
                Select(self.d.find_element(By.ID, sid)).select_by_value(value)
            except StaleElementReferenceException:
                return False
            return self.js("return document.getElementById(arguments[0]).value",
                           sid) == value
        self.wait("%s set to %s" % (sid, value), chosen)

    def migration(self):
        """A migration started from the UI reaches done through the stream."""
        self.tab("workflows")
        w, to = self.a.workload, self.a.target
        self.wait("workload %s in the form" % w, lambda: self.js(
            "return !!document.querySelector('#mig-workload option[value=\"' + arguments[0] + '\"]')", w))
        self.wait("host %s in the form" % to, lambda: self.js(
            "return !!document.querySelector('#mig-to option[value=\"' + arguments[0] + '\"]')", to))
        self.select("mig-workload", w)
        self.select("mig-to", to)
        self.select("mig-strategy", "live")
        self.click("#mig-submit")
        self.wait("the migration to be accepted", lambda: self.js(
            "return document.getElementById('mig-result').getAttribute('data-workflow')") not in (None, "", "undefined"),
            timeout=WAIT)
        wf = self.js("return document.getElementById('mig-result').getAttribute('data-workflow')")
        # The POST's answer is the workflow as created: whatever shows
        # 'done' later came through the event stream.
        first = self.js("return document.getElementById('mig-result').getAttribute('data-workflow-state')")
        if first in ("done", "rolled_back", "failed", "cancelled"):
            raise Failure("POST /v1/orchestrate_migration answered a finished workflow (%s)" % first)
        log("workflow %s started: %s" % (wf, self.text("mig-result").strip()))
        row = 'tr.wf[data-id="%s"]' % wf
        self.wait("workflow %s's row" % wf, lambda: self.js("return !!document.querySelector(arguments[0])", row))
        seen = set()

        def state():
            s = self.js("var r = document.querySelector(arguments[0]); return r && r.getAttribute('data-state')", row)
            seen.add(s)
            return s
        self.wait("workflow %s to show done" % wf, lambda: state() in ("done", "rolled_back", "failed", "cancelled"),
                  timeout=120)
        if state() != "done":
            raise Failure("workflow %s ended %s: %s" % (wf, state(), self.js(
                "return document.querySelector(arguments[0]).textContent", row)))
        if self.js("return window.__uiTestMark") != "kept":
            raise Failure("the page reloaded during the migration")
        if self.js("return performance.getEntriesByType('navigation').length") != 1:
            raise Failure("more than one navigation")
        claim = json.loads(self.augur("claim", "get", w, "-o", "json"))
        if claim.get("host") != to:
            raise Failure("%s's claim is on %s, not %s" % (w, claim.get("host"), to))
        log("workflow %s: %s in the 202 answer, then %s from the stream; %s now on %s"
            % (wf, first, sorted(x for x in seen if x), w, to))
        self.shot("workflows")
        # The event timeline carries its steps.
        self.tab("events")
        self.wait("workflow.advance events in the timeline", lambda: self.js(
            "return document.querySelectorAll('#events li[data-op=\"workflow.advance\"]').length") > 0)
        self.shot("events")

    def score_history(self):
        """The score chart plots the score events seen and the current score."""
        host = self.a.score_host
        self.augur("score", "set", host, "0.3")
        self.tab("scores")
        Select(self.d.find_element(By.ID, "score-resource")).select_by_value(host)
        self.wait("a chart of %s with its two scores" % host, lambda: self.js(
            "var c = document.getElementById('chart');"
            "return c.getAttribute('data-resource') === arguments[0] && "
            "c.querySelectorAll('svg circle').length >= 2;", host))
        ps = self.js("return Array.from(document.querySelectorAll('#chart circle')).map(c => c.getAttribute('data-p'))")
        if self.a.score not in ps or "0.3" not in ps:
            raise Failure("the chart's points %s lack %s and 0.3" % (ps, self.a.score))
        self.shot("scores")
        self.tab("cohorts")
        self.shot("cohorts")

    def stream_resumes(self):
        """The node serving the page restarts: the stream comes back with
        Last-Event-ID, and the timeline has every revision once."""
        if not self.a.restart_cmd:
            log("no --restart-cmd: skipped")
            return
        self.tab("events")
        revs = lambda: self.js("return Array.from(document.querySelectorAll('#events li')).map(e => +e.getAttribute('data-rev'))")
        before = max(revs())
        out = subprocess.run(self.a.restart_cmd, shell=True, capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise Failure("%s: exit %d: %s" % (self.a.restart_cmd, out.returncode, out.stderr.strip()))
        self.augur("score", "set", self.a.score_host, "0.45")
        self.wait("the stream to be live again with the score set after the restart", lambda: self.js(
            "return document.getElementById('stream-state').getAttribute('data-state') === 'live' && "
            "Array.from(document.querySelectorAll('#events li[data-op=\"score.set\"]')).some("
            "  e => +e.getAttribute('data-rev') > arguments[0]);", before), timeout=90)
        got = revs()
        if len(got) != len(set(got)):
            raise Failure("a revision shows twice in the timeline")
        got.sort()
        gaps = [(a, b) for a, b in zip(got, got[1:]) if b != a + 1]
        if gaps:
            raise Failure("the timeline misses revisions between %s" % gaps[:5])
        self.drain_logs()
        resumed = [r for r in self.requests if "/v1/events" in r["url"] and r["headers"].get("Last-Event-ID")]
        if not resumed:
            raise Failure("no /v1/events request carried Last-Event-ID")
        log("stream resumed after the restart with Last-Event-ID %s; revisions %d..%d, each once"
            % (resumed[-1]["headers"]["Last-Event-ID"], got[0], got[-1]))
        self.shot("events-after-restart")

    def no_token_in_urls(self):
        """The token goes only in the Authorization header, never in a URL."""
        self.drain_logs()
        tok = self.a.token
        urls = [r["url"] for r in self.requests]
        bad = [u for u in urls if tok in u]
        bad += [r["referrer"] for r in self.requests if tok in r["referrer"]]
        entries = self.js("return performance.getEntries().map(e => e.name)")
        bad += [u for u in entries if tok in u and not u.endswith("#token=" + tok)]
        resources = self.js("return performance.getEntriesByType('resource').map(e => e.name)")
        bad += [u for u in resources if tok in u]
        if tok in self.d.current_url:
            bad.append(self.d.current_url)
        if bad:
            raise Failure("the token appears in URLs: %s" % bad[:5])
        api = [r for r in self.requests if "/v1/" in r["url"]]
        if not api:
            raise Failure("no /v1 request in the performance log")
        authed = [r for r in api if r["headers"].get("Authorization") == "Bearer " + tok]
        if not authed:
            raise Failure("no /v1 request carried the token in its Authorization header")
        if not any("/v1/events" in r["url"] for r in api):
            raise Failure("the page never asked for /v1/events")
        csp = [c for c in self.console if "Content Security Policy" in c.get("message", "")]
        if csp:
            raise Failure("CSP violations: %s" % [c["message"] for c in csp[:3]])
        # Uncaught exceptions in the page's script (failed requests, such as
        # the refused tokens' 401s, are logged by the network, not here).
        js_errors = [c for c in self.console if c.get("source") == "javascript" and c.get("level") == "SEVERE"]
        if js_errors:
            raise Failure("script errors in the console: %s" % [c["message"] for c in js_errors[:3]])
        log("%d requests (%d to /v1, %d with the Authorization header), none with the token in its URL"
            % (len(urls), len(api), len(authed)))

    def sign_out(self):
        """Sign out forgets the token and shows the login."""
        self.click("#logout")
        self.wait("the login after sign out", lambda: self.visible("login") and not self.visible("app"))
        if self.js("return sessionStorage.getItem('augur.token')") is not None:
            raise Failure("the token stayed in sessionStorage after sign out")


def main():
    args = parse_args()
    os.makedirs(args.artifacts, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="augur-ui-chromium-")
    driver = None
    t = None
    try:
        driver = make_driver(args, profile)
        driver.set_page_load_timeout(WAIT)
        t = UiTest(args, driver)
        t.run("static_files", t.static_files)
        t.run("bad_token", t.bad_token)
        t.run("login", t.login)
        t.run("fleet", t.fleet)
        t.run("score_colour", t.score_colour)
        t.run("migration", t.migration)
        t.run("score_history", t.score_history)
        t.run("stream_resumes", t.stream_resumes)
        t.run("no_token_in_urls", t.no_token_in_urls)
        t.run("sign_out", t.sign_out)
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    passed = t.passed if t else 0
    failed = t.failed if t else 1
    print("ui_test: %d passed, %d failed" % (passed, failed), flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
