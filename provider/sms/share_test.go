package sms_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"multimsg/client"
	"multimsg/gateway/gatewaytest"
	"multimsg/modem/modemsim"
)

// TestTwoModemsShareTheLoad: with two [[sms.sender]] modems and jobs that name no sender,
// both modems send; when one is unplugged, the other takes all the work.
func TestTwoModemsShareTheLoad(t *testing.T) {
	var sims [2]*modemsim.Sim
	for i := range sims {
		sims[i] = modemsim.New(modemsim.Profile{PromptDelay: 50 * time.Millisecond}, testLog(t))
		if err := sims[i].Start(t.TempDir()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sims[i].Close() })
	}
	g := gatewaytest.Start(t, fmt.Sprintf(`
[delivery]
retry_min = "100ms"
retry_max = "500ms"
[[sms.sender]]
name = "modem1"
device = %q
timeout = "2s"
[[sms.sender]]
name = "modem2"
device = %q
timeout = "2s"
`, sims[0].Path(), sims[1].Path()))
	send := func(n int, tag string) []string {
		var mu sync.Mutex
		var ids []string
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id, err := g.Client.Send(context.Background(),
					[]client.File{{Field: "t", Filename: "t.txt", ContentType: "text/plain", Data: []byte(fmt.Sprintf("%s %d", tag, i))}},
					client.Params{Service: "sms", Dest: "491701234567"}, false)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}()
		}
		wg.Wait()
		return ids
	}
	for _, id := range send(10, "shared") {
		if st := g.WaitJob(t, id, 30*time.Second); st != "delivered" {
			t.Fatalf("job %s: %s", id, st)
		}
	}
	n1, n2 := len(sims[0].Messages()), len(sims[1].Messages())
	t.Logf("10 messages: modem1 sent %d, modem2 sent %d", n1, n2)
	if n1 == 0 || n2 == 0 || n1+n2 != 10 {
		t.Fatalf("modem1 sent %d, modem2 %d: want both to share 10", n1, n2)
	}

	sims[0].Unplug()
	for _, id := range send(4, "one left") {
		if st := g.WaitJob(t, id, 30*time.Second); st != "delivered" {
			t.Fatalf("job %s with modem1 unplugged: %s", id, st)
		}
	}
	if got := len(sims[1].Messages()); got != n2+4 {
		t.Fatalf("with modem1 unplugged modem2 sent %d more, want 4", got-n2)
	}
}
