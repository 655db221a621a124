package gateway_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"multimsg/gateway/gatewaytest"
	"multimsg/internal/poll"
	"multimsg/provider/mail/smtptest"
)

// TestInboundLoad gives the inbound figures behind `make bench` (MULTIMSG_LOAD=1): the time
// from the Receiver call (what the modem side does once it has read a PDU) to the signed post
// at the webhook, one message at a time (median, p90); and 1,000 messages handed in at once,
// as after a start with a full SIM: how long until all are committed, and until all are
// forwarded.
func TestInboundLoad(t *testing.T) {
	if os.Getenv("MULTIMSG_LOAD") != "1" {
		t.Skip("load benchmark: run with MULTIMSG_LOAD=1 (make bench)")
	}
	relay := smtptest.New(t, smtptest.Options{})
	hook := newHookReceiver(t, "hook-secret", 0)
	g := gatewaytest.Start(t, inboundConfig(relay, hook)+"\n[store]\ninbox_max = 5000\n")
	ctx := context.Background()
	sent := time.Now().Truncate(time.Second)

	const one = 100
	lat := make([]time.Duration, 0, one)
	for i := range one {
		start := time.Now()
		if err := g.Inbox.Inbound(ctx, inPart("+1555", fmt.Sprintf("alarm %d", i), sent.Add(time.Duration(i)*time.Second), 0, 1, 1)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-hook.got:
		case <-time.After(30 * time.Second):
			t.Fatalf("message %d not posted", i)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	t.Logf("Receiver call → webhook post, one at a time (%d): median %v, p90 %v, max %v", one, lat[one/2], lat[one*9/10], lat[one-1])

	const burst = 1000
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, burst)
	for i := range burst {
		wg.Go(func() {
			errs <- g.Inbox.Inbound(ctx, inPart("+1666", fmt.Sprintf("alarm %d", i), sent.Add(time.Hour+time.Duration(i)*time.Second), 0, 1, 1))
		})
	}
	wg.Wait()
	committed := time.Since(start)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	poll.Until(t, 5*time.Minute, "1,000 posts at the webhook", func() bool { return hook.count() >= one+burst })
	forwarded := time.Since(start)
	t.Logf("1,000 handed in at once: all committed in %v (%.0f/s), all posted to the webhook in %v (%.0f/s)",
		committed.Round(time.Millisecond), burst/committed.Seconds(), forwarded.Round(time.Millisecond), burst/forwarded.Seconds())
}
