// Package browsertest drives Debian's chromium for the console's tests:
// one headless browser per test, screenshots for docs/CONSOLE.md.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Start starts chromium, headless, for one test, and returns its tab's
// context; `make test` installs chromium (make deps) when missing.
func Start(t *testing.T) context.Context {
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
	ctx, cancel3 := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancel3)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx
}

// Shot saves a PNG of the whole page as name.png when HOLDFAST_SCREENSHOTS
// names a directory (make screenshots, for docs/CONSOLE.md).
func Shot(name string) chromedp.Action[chromedp.Void] {
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

// Text is the text of the first element sel selects.
func Text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// SignIn signs in on the console's sign-in page at base.
func SignIn(ctx context.Context, base, user, password, code string) error {
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(base + "/console"),
		chromedp.WaitVisible(chromedp.CSS(`#user`)),
		Shot("sign-in"),
		chromedp.SendKeys(chromedp.CSS(`#user`), user),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
	}
	if code != "" {
		steps = append(steps, chromedp.SendKeys(chromedp.CSS(`#totp`), code))
	}
	steps = append(steps, chromedp.Submit(chromedp.CSS(`#password`)))
	if err := chromedp.Do(ctx, steps...); err != nil {
		return err
	}
	// The dashboard, or the page that says why not.
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(wait, chromedp.WaitVisible(chromedp.CSS(`#tenants`))); err != nil {
		page, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`body`)))
		return fmt.Errorf("signing in as %s: no dashboard (%v); the page says: %s", user, err, page)
	}
	return nil
}
