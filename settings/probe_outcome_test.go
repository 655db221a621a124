package settings

import (
	"context"
	"fmt"
	"html"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"multimsg/modem"
	"multimsg/web"
)

// What a probe that ran out of time shows: the verdict says so and by when, the step cut
// short says it had no answer before the probe's time was up, the one past its own command
// timeout says that; a probe that never got the modem says to try again.
func TestProbeOutcomeTimedOut(t *testing.T) {
	cut := &modem.CommandError{Cmd: "AT+COPS=0", Err: context.DeadlineExceeded}
	slow := &modem.CommandError{Cmd: "AT+CGMM", Err: fmt.Errorf("%w (5s)", modem.ErrTimeout)}
	cases := []struct {
		name string
		r    probeResult
		want []string
	}{
		{"a step cut by the deadline", probeResult{Device: "/dev/ttyUSB0", Opened: true, Took: probeTimeout, Err: cut,
			Steps: []modem.Step{
				{Cmd: "AT", Answer: "OK", Took: 3 * time.Millisecond},
				{Cmd: "AT+CGMM", Answer: "timeout (5s)", Took: 5 * time.Second, Err: slow},
				{Cmd: "AT+COPS=0", Answer: "context deadline exceeded", Took: 19 * time.Second, Err: cut},
			}},
			[]string{"/dev/ttyUSB0, opened for the probe: timed out after 25s", "<td>5s</td><td>no answer in time</td>",
				"<td>19s</td><td>no answer before the probe's time was up</td>", `<tr class="failed">`}},
		{"the modem held by a send throughout", probeResult{Device: "/dev/ttyUSB0", Sender: "modem1", Took: probeTimeout,
			Err: fmt.Errorf("modem busy: %w", context.DeadlineExceeded)},
			[]string{"modem1 (/dev/ttyUSB0), through the running sender: not probed: a send held the modem for the probe's whole time (25s); try again."}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var ctx fasthttp.RequestCtx
			web.Render(&ctx, 200, func(p *web.Page) { probeOutcome(p, &c.r) })
			out := html.UnescapeString(string(ctx.Response.Body()))
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("the outcome lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
