package settings_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"multimsg/gateway/gatewaytest"
	"multimsg/provider/mail/smtptest"
)

// A save that replaces a mail sender whose relay is stalled at DATA answers without waiting
// for that send (dispatch.Swap interrupts it after its grace): the stalled job is due again at
// once and is delivered by the new relay; the old relay never finished taking it, so nothing
// is sent twice here (a relay that had taken the message before the interruption would get it
// again: at least once). The interruption is in the job's history, and no attempt is counted
// for it.
func TestSaveDoesNotWaitForStalledRelay(t *testing.T) {
	stalled := smtptest.New(t, smtptest.Options{ReadTimeout: 10 * time.Minute})
	stalled.SetStall("DATA")
	fresh := smtptest.New(t, smtptest.Options{})
	g := gatewaytest.Start(t, fmt.Sprintf(`
[delivery]
send_timeout = "10m"

[[mail.sender]]
name = "old"
host = "127.0.0.1"
port = %d
timeout = "10m"
`, stalled.Port()))
	a := login(t, g)
	ids := queueJobs(t, g, 1)
	select {
	case <-stalled.Stalled():
	case <-time.After(time.Minute):
		t.Fatal("the job's send never reached the relay's DATA")
	}
	code, body := a.save("mail",
		"mail.sender[0].name", "old", "remove", "mail.sender[0]",
		"mail.sender[1].name", "new", "mail.sender[1].host", "127.0.0.1", "mail.sender[1].port", fmt.Sprint(fresh.Port()),
		"mail.sender[1].tls", "none", "mail.sender[1].from", "box@example.com")
	if code != http.StatusSeeOther {
		t.Fatalf("save: %d %s", code, excerpt(body, "error"))
	}
	if st := g.WaitJob(t, ids[0], 30*time.Second); st != "delivered" {
		t.Fatalf("job: %s, want delivered through the new relay", st)
	}
	if n := len(fresh.Messages()); n != 1 {
		t.Errorf("the new relay got %d messages, want 1", n)
	}
	if n := len(stalled.Messages()); n != 0 {
		t.Errorf("the stalled relay completed %d messages", n)
	}
	j, err := g.Store.Get(ids[0])
	if err != nil {
		t.Fatal(err)
	}
	f := j.Files[0]
	if f.Sender != "new" || f.Attempts != 1 || len(f.History) != 2 || f.History[0].Class != "interrupted" ||
		!strings.Contains(f.History[0].Error, "settings change") {
		t.Errorf("delivered by %q after %d attempts, history %+v; want new, one attempt, the interruption kept", f.Sender, f.Attempts, f.History)
	}
}
