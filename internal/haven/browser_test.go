package haven_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/havendns/haven/api"
	"github.com/miekg/dns"
)

// chromiumPath is where the browser test expects Chromium, as in package
// web's own browser test.
const chromiumPath = "/usr/bin/chromium"

// consolePassword is the console password of the browser test.
const consolePassword = "correct horse battery"

// havenBrowser starts a headless Chromium with the flags of package web's
// browser test (a fresh profile, no network activity of its own, a phone's
// window) and returns a context driving one tab.
func havenBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("%s not found: browser test not run (install Chromium, e.g. apt-get install chromium)", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(412, 915),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 25*time.Second)
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc()
	})
	return ctx
}

// TestBrowserConsole is a parent at the console of a real Haven, in a
// real browser: log in through the form, see the tablet's blocked query
// in the query log, pause the tablet with one tap, and find its next
// query blocked as paused.
func TestBrowserConsole(t *testing.T) {
	t.Parallel()
	ctx := havenBrowser(t)
	hash, err := api.HashPassword(consolePassword)
	if err != nil {
		t.Fatal(err)
	}
	e := startConsole(t, fmt.Sprintf("console: {password_hash: %q}\n", hash))

	err = chromedp.Do(ctx,
		chromedp.Navigate(e.base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="password"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), consolePassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button`)),
		chromedp.WaitVisible(chromedp.ID("device-kid-tablet")),
	)
	if err != nil {
		t.Fatalf("logging in: %v", err)
	}

	// A blocked query from the tablet shows up in the query log page once
	// the log has written it (about a second).
	e.mustDig(t, tabletIP, "adult.test", "NXDOMAIN blocked:adult")
	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/log")); err != nil {
		t.Fatal(err)
	}
	var row string
	for deadline := time.Now().Add(10 * time.Second); ; {
		page, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`main`)))
		if err != nil {
			t.Fatalf("reading the log page: %v", err)
		}
		if strings.Contains(page, "adult.test") {
			if row, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`tr.blocked-row`))); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("adult.test not in the query log page:\n%s", page)
		}
		time.Sleep(100 * time.Millisecond)
		if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"kid-tablet", "adult.test", "blocked", "adult"} {
		if !strings.Contains(row, want) {
			t.Errorf("the blocked row %q lacks %q", row, want)
		}
	}

	// Pause the tablet from the home page.
	err = chromedp.Do(ctx,
		chromedp.Navigate(e.base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#device-kid-tablet button[value="30m"]`)),
	)
	if err != nil {
		t.Fatalf("home page: %v", err)
	}
	before, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#device-kid-tablet .state`)))
	if err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#device-kid-tablet button[value="30m"]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)),
	)
	if err != nil {
		t.Fatalf("tapping Pause 30m: %v", err)
	}
	after, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#device-kid-tablet .state`)))
	if err != nil {
		t.Fatal(err)
	}
	phone, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#device-teen-phone .state`)))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatal(err)
	}
	if before != "allowed" || !strings.HasPrefix(after, "paused until ") || phone != "allowed" {
		t.Errorf("kid-tablet %q before the tap, %q after (want allowed, then paused until …); teen-phone %q", before, after, phone)
	}

	// The pause is in force on the DNS path at once: an allowed name is
	// blocked with the filter's EDE 17, category paused, for the tablet
	// only.
	r := askFrom(t, tabletIP, e.h.Addr(), "example.com", dns.TypeA)
	if x := ede(r); outcome(r) != "NXDOMAIN blocked:paused" || x == nil || x.InfoCode != dns.ExtendedErrorCodeFiltered {
		t.Errorf("the paused tablet asks example.com: %q, EDE %v; want NXDOMAIN with EDE 17 paused", outcome(r), x)
	}
	e.mustDig(t, phoneIP, "example.com", "NOERROR A 192.0.2.1")

	checkShot(t, shot)
}

// checkShot saves a screenshot and checks that it decodes as a PNG of a
// page rather than of a blank or an error tab.
func checkShot(t *testing.T, shot []byte) {
	t.Helper()
	dir := os.Getenv("HAVEN_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, "haven-"+strings.ToLower(t.Name())+".png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	b := img.Bounds()
	if b.Dx() < 300 || b.Dy() < 600 {
		t.Errorf("screenshot %s is %dx%d, want at least a phone screen", path, b.Dx(), b.Dy())
	}
	if n := distinctColours(img, 64); n < 16 {
		t.Errorf("screenshot %s has %d colours: nearly blank", path, n)
	}
}

// distinctColours counts the colours of img, stopping at limit.
func distinctColours(img image.Image, limit int) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}
