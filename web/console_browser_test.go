package web

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/holdfast/holdfast"
	"github.com/holdfast/holdfast/app"
	"github.com/holdfast/holdfast/internal/browsertest"
	"github.com/holdfast/holdfast/record"
	"github.com/pquerna/otp/totp"
)

// addHostileMail captures a message whose HTML tries everything a mail
// can try on a viewer: script, event handlers, javascript: links, remote
// images, style sheets and frames, CSS that fetches.
func addHostileMail(t *testing.T, f *fixture, remote string) uint64 {
	t.Helper()
	ctx := context.Background()
	s, err := f.app.Open(ctx, "contoso", app.Write)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	html := `<html><head><link rel="stylesheet" href="` + remote + `/sheet.css"><style>body{background:url(` + remote + `/css-bg)}</style>
<script>fetch("` + remote + `/script");document.title="pwned"</script></head>
<body onload="fetch('` + remote + `/onload')"><h1>Invoice overdue</h1>
<p>Pay the invoice today.</p><img src="` + remote + `/pixel.gif" width="1" height="1" onerror="fetch('` + remote + `/onerror')">
<a href="javascript:fetch('` + remote + `/js-link')">open</a><iframe src="` + remote + `/frame"></iframe>
<div style="background-image:url(` + remote + `/inline-css)">styled</div><form action="` + remote + `/form"><input name=x></form></body></html>`
	msg := "From: mallory@evil.example\r\nTo: ann@contoso.example\r\nSubject: Invoice overdue\r\nDate: Mon, 02 Nov 2026 10:00:00 +0000\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nPay the invoice today.\r\n" +
		"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n--b--\r\n"
	ref, err := s.PutBytes(ctx, []byte(msg))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := s.Append(ctx, record.TypeItemVersion, record.ItemVersion{Account: "ann@contoso.example", AccountID: "u1", Workload: holdfast.Mail, Item: "AAMk-hostile",
		Path: "Inbox", Stream: "s", Run: "r", Change: "c", Mail: &record.MessageMeta{Subject: "Invoice overdue", From: "mallory@evil.example", To: []string{"ann@contoso.example"},
			Received: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)}}, ref)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// TestConsoleInABrowser: a legal user signs in, searches, and opens a
// hostile message in the item viewer — the browser runs nothing of it and
// fetches nothing outside the console; an auditor finds no way to a
// message's content, by the pages or by direct URLs.
func TestConsoleInABrowser(t *testing.T) {
	f := newFixture(t)
	var outside atomic.Int64
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		outside.Add(1)
		t.Logf("the console let the browser fetch %s", r.URL)
	}))
	defer remote.Close()
	rec := addHostileMail(t, f, remote.URL)
	srv := httptest.NewTLSServer(f.h)
	defer srv.Close()
	ctx := browsertest.Start(t)
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	signIn := func(ctx context.Context, user string) error {
		return browsertest.SignIn(ctx, srv.URL, user, "a long enough password", "")
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	text := func(ctx context.Context, sel string) string {
		t.Helper()
		return browsertest.Text(t, ctx, sel)
	}

	must(signIn(ctx, "legal1"))
	who := text(ctx, `.who`)
	must(chromedp.Do(ctx,
		browsertest.Shot("dashboard"),
		chromedp.Click(css(`#tenants a[href="/console/tenants/contoso"]`)),
		chromedp.WaitVisible(css(`#coverage`)),
		browsertest.Shot("tenant"),
		chromedp.Navigate(srv.URL+"/console/tenants/contoso/search"),
		chromedp.WaitVisible(css(`#q`)),
		chromedp.SendKeys(css(`#q`), `subject:(invoice`),
		chromedp.Submit(css(`#q`)),
		chromedp.WaitVisible(css(`#problem`)),
		browsertest.Shot("search-error"),
		chromedp.SetValue(css(`#q`), `subject:invoice`),
		chromedp.Submit(css(`#q`)),
		chromedp.WaitVisible(css(`table.results`)),
	))
	results := text(ctx, `table.results`)
	// At a phone's width the page still fits: nothing wider than the screen.
	must(chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)))
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth + 1`))
	must(err)
	if wide {
		t.Error("the search page is wider than 390 pixels")
	}
	must(chromedp.Do(ctx, browsertest.Shot("search-390"), chromedp.ResetViewport()))
	must(chromedp.Do(ctx,
		browsertest.Shot("search"),
		chromedp.Click(css(`table.results a`)),
		chromedp.WaitVisible(css(`iframe.mailbody`)),
		chromedp.Sleep(time.Second), // the frame loads, and anything it could start would have started
		browsertest.Shot("item"),
	))
	title, err := chromedp.Run(ctx, chromedp.Title())
	must(err)
	var body string
	if !strings.Contains(who, "legal1") || !strings.Contains(who, "legal") {
		t.Errorf("signed in as: %q", who)
	}
	if !strings.Contains(results, "Invoice overdue") {
		t.Errorf("search results: %q", results)
	}
	// What the frame shows: the text, nothing active.
	resp := f.do("legal", "GET", fmt.Sprintf("/console/tenants/contoso/item/body?id=AAMk-hostile&record=%d", rec), nil)
	body = resp.Body.String()
	for _, bad := range []string{"<script", "onload", "onerror", "javascript:", "<iframe", "<link", "<form", remote.URL + "/pixel"} {
		if strings.Contains(strings.ToLower(body), strings.ToLower(bad)) {
			t.Errorf("the sanitised body keeps %q:\n%s", bad, body)
		}
	}
	if !strings.Contains(body, "Pay the invoice today.") {
		t.Errorf("the sanitised body lost the text:\n%s", body)
	}
	if csp := resp.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("the body's CSP: %q", csp)
	}
	if n := outside.Load(); n != 0 {
		t.Errorf("the browser fetched %d URLs outside the console", n)
	}
	if title == "pwned" {
		t.Errorf("the message ran script: title %q", title)
	}

	// The legal team places a hold, exports the case and downloads it.
	must(chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/console/tenants/contoso/holds"),
		chromedp.WaitVisible(css(`#case`)),
		chromedp.SendKeys(css(`#case`), "Smith v Contoso"),
		chromedp.SendKeys(css(`#custodians`), "ann@contoso.example"),
		chromedp.SendKeys(css(`#hreason`), "litigation notice of 2026-12-01"),
		browsertest.Shot("holds"),
		chromedp.Submit(css(`#hreason`)),
		chromedp.WaitVisible(css(`.done`)),
		chromedp.Click(css(`a[href*="/exports?case="]`)),
		chromedp.WaitVisible(css(`#equery`)),
		chromedp.SendKeys(css(`#equery`), "invoice"),
		chromedp.Submit(css(`#equery`)),
		chromedp.WaitVisible(css(`#exportlist a[href$=".zip"], #exportlist a[href*="/exports/"]`)),
		browsertest.Shot("exports"),
	))
	exported := text(ctx, `#exportlist`)
	if !strings.Contains(exported, "Smith v Contoso") || !strings.Contains(exported, "done") {
		t.Errorf("exports after the export: %q", exported)
	}
	// The package downloads with the session, and hashes to the SHA-256 the page shows.
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(async () => {
		const a = document.querySelector('#exportlist tbody tr th a');
		const r = await fetch(a.href);
		const b = await r.arrayBuffer();
		const h = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', b))).map(x => x.toString(16).padStart(2, '0')).join('');
		return r.status + ' ' + r.headers.get('content-type') + ' ' + h;
	})()`, chromedp.EvalAwaitPromise))
	must(err)
	sum := text(ctx, `#exportlist tbody tr td.mono`)
	if got != "200 application/zip "+strings.TrimSpace(sum) {
		t.Errorf("the export's download: %q, want 200, a zip, SHA-256 %s", got, sum)
	}

	// The hold is released, with a reason (a case name with spaces, in a path).
	must(chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/console/tenants/contoso/holds"),
		chromedp.WaitVisible(css(`input[name=reason][id^=reason-]`)),
		chromedp.SendKeys(css(`input[name=reason][id^=reason-]`), "settled"),
		chromedp.Submit(css(`input[name=reason][id^=reason-]`)),
		chromedp.WaitVisible(css(`.done`)),
	))
	if got := text(ctx, `.done`); !strings.Contains(got, "Released hold Smith v Contoso") {
		t.Errorf("after releasing: %q", got)
	}

	// The auditor: a fresh browser, no way to content.
	actx := browsertest.Start(t)
	must(signIn(actx, "auditor1"))
	must(chromedp.Do(actx, chromedp.Navigate(srv.URL+"/console/tenants/contoso"), chromedp.WaitVisible(css(`#coverage`))))
	searchLinks, err := chromedp.Run(actx, chromedp.Evaluate[int](`document.querySelectorAll('a[href*="/search"], a[href*="/item"]').length`))
	must(err)
	must(chromedp.Do(actx, chromedp.Navigate(srv.URL+"/console/tenants/contoso/item?id=AAMk-hostile"), chromedp.WaitVisible(css(`main`)), browsertest.Shot("auditor-refused")))
	itemPage := text(actx, `main`)
	must(chromedp.Do(actx, chromedp.Navigate(fmt.Sprintf("%s/api/v1/tenants/contoso/item/content?id=AAMk-hostile&record=%d", srv.URL, rec))))
	contentPage := text(actx, `body`)
	if searchLinks != 0 {
		t.Errorf("the auditor's tenant page links to search or items (%d links)", searchLinks)
	}
	if !strings.Contains(itemPage, "may not content:read") || strings.Contains(itemPage, "Invoice overdue") {
		t.Errorf("the auditor opened the item page: %q", itemPage)
	}
	if !strings.Contains(contentPage, "permission denied") || strings.Contains(contentPage, "Pay the invoice") {
		t.Errorf("the auditor downloaded content: %q", contentPage)
	}

	// The auditor reads the findings and the audit log, filtered to the
	// legal team's actions.
	must(chromedp.Do(actx,
		chromedp.Navigate(srv.URL+"/console/tenants/contoso/findings"),
		chromedp.WaitVisible(css(`main h1`)),
		browsertest.Shot("findings"),
		chromedp.Navigate(srv.URL+"/console/tenants/contoso/audit?who=legal1"),
		chromedp.WaitVisible(css(`#auditlist`)),
		browsertest.Shot("audit"),
	))
	if got := text(actx, `#auditlist`); !strings.Contains(got, "hold.placed") || !strings.Contains(got, "legal1") || strings.Contains(got, "auditor1") {
		t.Errorf("the audit log filtered to legal1: %q", got)
	}

	// The auditor issues a signed report, sees it verified, and downloads
	// it: poppler's pdfsig accepts its signature.
	must(chromedp.Do(actx,
		chromedp.Navigate(srv.URL+"/console/tenants/contoso/reports"),
		chromedp.WaitVisible(css(`#kind`)),
		chromedp.SetValue(css(`#kind`), "procedures"),
		chromedp.Submit(css(`#kind`)),
		chromedp.WaitVisible(css(`#reportlist`)),
		browsertest.Shot("reports"),
	))
	if v := text(actx, `#reportlist .verification`); !strings.Contains(v, "valid") || strings.Contains(v, "not verified") {
		t.Errorf("the report's verification: %q", v)
	}
	pdf, err := chromedp.Run(actx, chromedp.Evaluate[string](`(async () => {
		const r = await fetch(document.querySelector('#reportlist tbody a').href);
		const b = new Uint8Array(await r.arrayBuffer());
		let s = ''; for (const x of b) s += String.fromCharCode(x);
		return btoa(s);
	})()`, chromedp.EvalAwaitPromise))
	must(err)
	raw, err := base64.StdEncoding.DecodeString(pdf)
	must(err)
	file := filepath.Join(t.TempDir(), "report.pdf")
	must(os.WriteFile(file, raw, 0o600))
	if out, err := exec.Command("pdfsig", file).CombinedOutput(); err != nil || !strings.Contains(string(out), "Signature is Valid") {
		t.Errorf("pdfsig of the downloaded report: %v\n%s", err, out)
	}

	// The admin signs in with a second factor, adds a user and a token.
	secret := enrolAdmin(t, f)
	dctx := browsertest.Start(t)
	code, err := totp.GenerateCode(secret, time.Now())
	must(err)
	must(chromedp.Do(dctx,
		chromedp.Navigate(srv.URL+"/console"),
		chromedp.WaitVisible(css(`#user`)),
		chromedp.SendKeys(css(`#user`), "admin1"),
		chromedp.SendKeys(css(`#password`), "a long enough password"),
		chromedp.SendKeys(css(`#totp`), code),
		chromedp.Submit(css(`#password`)),
		chromedp.WaitVisible(css(`#tenants`)),
		chromedp.Click(css(`a[href="/console/admin"]`)),
		chromedp.WaitVisible(css(`#uname`)),
		chromedp.SendKeys(css(`#uname`), "paralegal1"),
		chromedp.SetValue(css(`#urole`), "legal"),
		chromedp.Click(css(`input[name=tenant][value=contoso]`)),
		chromedp.SendKeys(css(`#upw`), "another long password"),
		chromedp.Submit(css(`#upw`)),
		chromedp.WaitVisible(css(`.done`)),
		chromedp.SetValue(css(`#tuser`), "paralegal1"),
		chromedp.SendKeys(css(`#tname`), "review platform"),
		chromedp.Submit(css(`#tname`)),
		chromedp.WaitVisible(css(`#new-token`)),
		browsertest.Shot("admin"),
	))
	token := strings.TrimSpace(text(dctx, `#new-token .secret`))
	users := text(dctx, `#userlist`)
	if !strings.Contains(users, "paralegal1") || !strings.HasPrefix(token, "hfa_") {
		t.Fatalf("after adding: users %q, token %q", users, token)
	}
	p, err := f.srv.access.Authenticate(token)
	if err != nil || p.User != "paralegal1" || p.Role != "legal" || !p.Tenant("contoso") || p.Tenant("fabrikam") {
		t.Errorf("the new token: %+v, %v", p, err)
	}
}

// enrolAdmin gives admin1 a second factor and returns its secret.
func enrolAdmin(t *testing.T, f *fixture) string {
	t.Helper()
	_, secret, err := f.srv.access.EnrollTOTP("admin1", nil)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// TestConsoleTablesPageAndRunsShowTheirFailures: a table longer than a
// page shows 50 rows and pages on; a run's page lists every failed item.
func TestConsoleTablesPageAndRunsShowTheirFailures(t *testing.T) {
	f := newFixture(t)
	for i := 0; i < 60; i++ {
		addMail(t, f, "contoso", "ann@contoso.example", fmt.Sprintf("invoice %02d", i))
	}
	ctx := context.Background()
	s, err := f.app.Open(ctx, "contoso", app.Write)
	if err != nil {
		t.Fatal(err)
	}
	s.Append(ctx, record.TypeRunStarted, record.RunStarted{Run: "run-7", Workloads: []holdfast.Workload{holdfast.Mail}, Started: time.Now()})
	for i := 0; i < 3; i++ {
		s.Append(ctx, record.TypeItemFailed, record.ItemFailed{Run: "run-7", Failure: record.FailedItem{Account: "ann@contoso.example", Item: fmt.Sprint("bad-", i), Reason: "HTTP 500 <b>x</b>"}})
	}
	s.Append(ctx, record.TypeRunFinished, record.RunFinished{Run: "run-7", Status: "completed_with_failures"})
	s.Close(ctx)
	srv := httptest.NewTLSServer(f.h)
	defer srv.Close()
	b := browsertest.Start(t)
	if err := browsertest.SignIn(b, srv.URL, "legal1", "a long enough password", ""); err != nil {
		t.Fatal(err)
	}
	visible := func() int {
		n, err := chromedp.Run(b, chromedp.Evaluate[int](`Array.from(document.querySelectorAll('table.results tbody tr')).filter(r => !r.hidden).length`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := chromedp.Do(b, chromedp.Navigate(srv.URL+"/console/tenants/contoso/search?q=invoice"), chromedp.WaitVisible(chromedp.CSS(`nav.pages`))); err != nil {
		t.Fatal(err)
	}
	if n := visible(); n != 50 {
		t.Errorf("first page: %d rows shown, want 50", n)
	}
	if err := chromedp.Do(b, chromedp.Click(chromedp.CSS(`nav.pages button:last-child`))); err != nil {
		t.Fatal(err)
	}
	if n := visible(); n != 10 {
		t.Errorf("second page: %d rows shown, want 10", n)
	}
	if err := chromedp.Do(b, chromedp.Navigate(srv.URL+"/console/tenants/contoso/runs/run-7"), chromedp.WaitVisible(chromedp.CSS(`#failedlist`))); err != nil {
		t.Fatal(err)
	}
	if got := browsertest.Text(t, b, `#failedlist`); strings.Count(got, "HTTP 500 <b>x</b>") != 3 {
		t.Errorf("the run's failed items: %q, want all three, their reasons as text", got)
	}
}
