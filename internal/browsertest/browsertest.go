// Package browsertest runs headless Chromium (Debian's, /usr/bin/chromium) through chromedp for
// the admin pages' browser tests (web, settings): a fresh profile per test, script exceptions,
// console errors and CSP violations turned into test failures, waits on a condition in the
// page, and screenshots at a given width. A machine without Chromium skips (laptop) or fails
// (CI, MULTIMSG_REQUIRE_PEERS=1) through internal/peertest.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"multimsg/internal/peertest"
)

// ChromiumPath is where Debian installs Chromium.
const ChromiumPath = "/usr/bin/chromium"

// Artifacts is where the browser test leaves its screenshots: $MULTIMSG_ARTIFACTS/<test>,
// or a fresh directory under the system temp dir that outlives the test (printed).
func Artifacts(t *testing.T) string {
	t.Helper()
	var dir string
	if base := os.Getenv("MULTIMSG_ARTIFACTS"); base != "" {
		dir = filepath.Join(base, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	} else {
		var err error
		// a subtest's name holds "/", which a temp dir's pattern may not
		if dir, err = os.MkdirTemp("", "multimsg-"+strings.ReplaceAll(t.Name(), "/", "_")+"-"); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("ARTIFACTS: screenshots in %s", dir)
	return dir
}

// Expected says whether a network error the browser logs is the page working (a 401 on a wrong
// password, a 422 of a refused form), not a problem.
type Expected func(text, url string) bool

// Start starts headless Chromium with a fresh profile and returns a tab's context; what the
// browser reports (exceptions, console errors, CSP violations, network errors not expected)
// fails the test at its end.
func Start(t *testing.T, expected Expected) context.Context {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		peertest.Missing(t, "chromium", ChromiumPath+" not installed (apt-get install chromium)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil { // start the browser now: a failure here is the peer's
		t.Fatalf("starting %s: %v", ChromiumPath, err)
	}
	// Script exceptions, console errors and CSP violations fail the test at its end.
	var mu sync.Mutex
	var problems []string
	err := chromedp.Listen(ctx, func(ev any) {
		var p string
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			p = "exception: " + e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				p += " " + e.ExceptionDetails.Exception.Description
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				p = "console.error"
			}
		case *cdplog.EventEntryAdded:
			ok := e.Entry.Source == cdplog.EntrySourceNetwork && expected != nil && expected(e.Entry.Text, e.Entry.URL)
			if e.Entry.Level == cdplog.EntryLevelError && !ok {
				p = string(e.Entry.Source) + ": " + e.Entry.Text + " " + e.Entry.URL
			}
		}
		if p != "" {
			mu.Lock()
			problems = append(problems, p)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Errorf("browser reported: %s", p)
		}
	})
	return ctx
}

// WaitJS waits until the JavaScript expression is truthy in the page: the condition the admin
// would see. A navigation
// (a form post, a redirect) destroys the page the poll runs in; the poll starts again in the
// new one.
func WaitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond),
			chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil {
			return
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			t.Fatalf("waiting in the browser for %s (%s): %v", what, expr, err)
		}
	}
}

// Shot saves a full-page screenshot at width (mobile: a phone's scale and touch) as dir/name.
func Shot(t *testing.T, ctx context.Context, dir, name string, width, height int64, mobile bool) {
	t.Helper()
	vp := []chromedp.EmulateViewportOption{}
	if mobile {
		vp = append(vp, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulatePortrait)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height, vp...)); err != nil {
		t.Fatal(err)
	}
	// let the layout settle on the new width: wait for a frame to be painted at it
	WaitJS(t, ctx, "the new viewport", fmt.Sprintf("window.innerWidth === %d", width))
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d px wide)", p, width)
}
