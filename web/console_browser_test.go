package web

import (
	"context"
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
	"github.com/holdfast/holdfast/record"
)

// browser starts Debian's chromium, headless, for one test: `make test`
// installs it (make deps) when missing.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("the console's browser tests need Debian's chromium: make deps installs it (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // as root in CI
		chromedp.DisableGPU,
		chromedp.Flag("ignore-certificate-errors", true), // the test server's certificate
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel3)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// shot saves a screenshot of the page when HOLDFAST_SCREENSHOTS names a
// directory (make screenshots, for docs/CONSOLE.md).
func shot(name string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		dir := os.Getenv("HOLDFAST_SCREENSHOTS")
		if dir == "" {
			return chromedp.Void{}, nil
		}
		png, err := chromedp.FullScreenshot(100)(ctx, t) // 100: PNG
		if err != nil {
			return chromedp.Void{}, err
		}
		return chromedp.Void{}, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
}

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
	ctx := browser(t)
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	signIn := func(ctx context.Context, user string) error {
		return chromedp.Do(ctx,
			chromedp.Navigate(srv.URL+"/console"),
			chromedp.WaitVisible(css(`#user`)),
			shot("sign-in"),
			chromedp.SendKeys(css(`#user`), user),
			chromedp.SendKeys(css(`#password`), "a long enough password"),
			chromedp.Submit(css(`#password`)),
			chromedp.WaitVisible(css(`#tenants`)),
		)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	text := func(ctx context.Context, sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		must(err)
		return s
	}

	must(signIn(ctx, "legal1"))
	who := text(ctx, `.who`)
	must(chromedp.Do(ctx,
		shot("dashboard"),
		chromedp.Click(css(`#tenants a[href="/console/tenants/contoso"]`)),
		chromedp.WaitVisible(css(`#coverage`)),
		shot("tenant"),
		chromedp.Navigate(srv.URL+"/console/tenants/contoso/search"),
		chromedp.WaitVisible(css(`#q`)),
		chromedp.SendKeys(css(`#q`), `subject:(invoice`),
		chromedp.Submit(css(`#q`)),
		chromedp.WaitVisible(css(`#problem`)),
		shot("search-error"),
		chromedp.SetValue(css(`#q`), `subject:invoice`),
		chromedp.Submit(css(`#q`)),
		chromedp.WaitVisible(css(`table.results`)),
	))
	results := text(ctx, `table.results`)
	must(chromedp.Do(ctx,
		shot("search"),
		chromedp.Click(css(`table.results a`)),
		chromedp.WaitVisible(css(`iframe.mailbody`)),
		chromedp.Sleep(time.Second), // the frame loads, and anything it could start would have started
		shot("item"),
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

	// The auditor: a fresh browser, no way to content.
	actx := browser(t)
	must(signIn(actx, "auditor1"))
	must(chromedp.Do(actx, chromedp.Navigate(srv.URL+"/console/tenants/contoso"), chromedp.WaitVisible(css(`#coverage`))))
	searchLinks, err := chromedp.Run(actx, chromedp.Evaluate[int](`document.querySelectorAll('a[href*="/search"], a[href*="/item"]').length`))
	must(err)
	must(chromedp.Do(actx, chromedp.Navigate(srv.URL+"/console/tenants/contoso/item?id=AAMk-hostile"), chromedp.WaitVisible(css(`main`)), shot("auditor-refused")))
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
}
