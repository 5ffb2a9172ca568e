package web

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is where the browser test expects Chromium.
const chromiumPath = "/usr/bin/chromium"

// newBrowser starts a headless Chromium with a fresh profile and no
// network activity of its own, and returns a context driving one tab.
func newBrowser(t *testing.T) context.Context {
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
		chromedp.WindowSize(412, 915), // a phone
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 20*time.Second)
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc()
	})
	return ctx
}

// TestBrowser logs in through the form in a real browser, sees the
// devices and the charts, pauses a device with one tap and sees it paused.
func TestBrowser(t *testing.T) {
	ctx := newBrowser(t)
	e := newEnv(t)

	err := chromedp.Do(ctx,
		chromedp.Navigate(e.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name="password"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), testPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button`)),
		chromedp.WaitVisible(chromedp.ID("device-kid-tablet")),
	)
	if err != nil {
		t.Fatalf("logging in: %v", err)
	}
	devices, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll(`ul.devices > li`)))
	if err != nil {
		t.Fatal(err)
	}
	bars, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll(`svg.chart g.bar`)))
	if err != nil {
		t.Fatal(err)
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
		t.Fatalf("pausing: %v", err)
	}
	flash, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`p.flash`)))
	if err != nil {
		t.Fatal(err)
	}
	after, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#device-kid-tablet .state`)))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatal(err)
	}
	if len(devices) != 3 {
		t.Errorf("%d devices listed, want 3", len(devices))
	}
	// 3 categories with blocked queries and 24 hours.
	if len(bars) != 3+24 {
		t.Errorf("%d chart bars, want 27", len(bars))
	}
	if before != "allowed" {
		t.Errorf("state before pausing %q, want allowed", before)
	}
	if after != "paused until 18:30" || flash != "Paused." {
		t.Errorf("after tapping Pause 30m: state %q, message %q", after, flash)
	}
	if got := e.b.called("pause"); len(got) != 1 || got[0] != "pause kid-tablet until 18:30 by console" {
		t.Errorf("backend got %q", got)
	}
	checkScreenshot(t, shot)
}

// checkScreenshot decodes a PNG and checks that it shows a page rather
// than a blank or an error tab: a phone-sized image with many colours.
func checkScreenshot(t *testing.T, shot []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "home.png")
	if err := os.WriteFile(path, shot, 0o600); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("HAVEN_SCREENSHOTS"); dir != "" {
		// Keep a copy to look at, e.g. as a CI artefact.
		_ = os.WriteFile(filepath.Join(dir, "web-"+strings.ToLower(t.Name())+".png"), shot, 0o644)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	b := img.Bounds()
	if b.Dx() < 300 || b.Dy() < 600 {
		t.Errorf("screenshot is %dx%d, want at least a phone screen", b.Dx(), b.Dy())
	}
	if n := colours(img, 64); n < 16 {
		t.Errorf("screenshot has %d colours: nearly blank", n)
	}
}

// colours counts the distinct colours of img, stopping at limit.
func colours(img image.Image, limit int) int {
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
