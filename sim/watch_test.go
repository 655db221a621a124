package sim

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// network answers USSD from a script of credits, like an operator's balance code.
type network struct {
	mu      sync.Mutex
	answers []string
	asked   int
}

func (n *network) ask(_ context.Context, code string) (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if code != "*100#" {
		return "", errors.New("unknown code")
	}
	a := n.answers[n.asked%len(n.answers)]
	n.asked++
	if a == "ERR" {
		return "", errors.New("+CUSD: 4 (operation not supported)")
	}
	return a, nil
}

// count is how many times the network was asked (under its lock: Run asks from its goroutine).
func (n *network) count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.asked
}

type alerts struct {
	mu   sync.Mutex
	text []string
	fail bool
}

func (a *alerts) alert(_ context.Context, text string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail {
		return errors.New("store full")
	}
	a.text = append(a.text, text)
	return nil
}

func (a *alerts) n() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.text)
}

func TestOneAlertPerCrossing(t *testing.T) {
	net := &network{answers: []string{"Saldo 10,00 EUR", "Saldo 4,50 EUR", "Saldo 3,00 EUR", "Saldo 6,00 EUR", "Saldo 2,00 EUR", "Sin saldo disponible", "ERR", "Saldo 1,00 EUR"}}
	al := &alerts{}
	state := filepath.Join(t.TempDir(), "credit.json")
	w, err := New(Options{Code: "*100#", Low: 5, Ask: net.ask, Alert: al.alert, StateFile: state})
	if err != nil {
		t.Fatal(err)
	}
	want := []int{0, 1, 1, 1, 2, 2, 2, 2}
	for i, n := range want {
		st, _ := w.Check(context.Background())
		if al.n() != n {
			t.Fatalf("check %d (%q): %d alerts, want %d", i, net.answers[i], al.n(), n)
		}
		if i == 5 && (st.Amount != nil || st.Unparsed != 1 || st.Answer != "Sin saldo disponible") {
			t.Errorf("an answer without an amount: %+v", st)
		}
		if i == 6 && (st.Error == "" || st.Failed != 1 || st.Answer != "Sin saldo disponible") {
			t.Errorf("a failed check must keep the last answer and say why: %+v", st)
		}
	}
	if !strings.Contains(al.text[0], "4.5") || !strings.Contains(al.text[0], "Saldo 4,50 EUR") {
		t.Errorf("alert text %q should carry the amount and the network's words", al.text[0])
	}
	// A restart while below the threshold does not alert again.
	w2, _ := New(Options{Code: "*100#", Low: 5, Ask: (&network{answers: []string{"Saldo 0,50 EUR"}}).ask, Alert: al.alert, StateFile: state})
	if st := w2.Status(); !st.Below || st.Amount == nil || *st.Amount != 1 || st.Alerts != 2 {
		t.Fatalf("state after restart: %+v", st)
	}
	w2.Check(context.Background())
	if al.n() != 2 {
		t.Fatalf("a restart below the threshold alerted again: %d alerts", al.n())
	}
}

func TestAlertThatCannotBeQueuedIsRetried(t *testing.T) {
	net := &network{answers: []string{"Balance: $2.00"}}
	al := &alerts{fail: true}
	w, _ := New(Options{Code: "*100#", Low: 5, Ask: net.ask, Alert: al.alert})
	if _, err := w.Check(context.Background()); err == nil {
		t.Fatal("a failed alert was not reported")
	}
	if w.Status().Below {
		t.Fatal("marked as alerted although the alert was not queued")
	}
	al.fail = false
	w.Check(context.Background())
	w.Check(context.Background())
	if al.n() != 1 {
		t.Fatalf("%d alerts, want 1", al.n())
	}
}

func TestScheduleAfterReadyAndEvery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		net := &network{answers: []string{"Saldo 9 EUR"}}
		w, _ := New(Options{Code: "*100#", Every: 6 * time.Hour, FirstAfter: 30 * time.Second, Low: 5, Ask: net.ask})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- w.Run(ctx) }()
		// in the bubble, time moves only when every goroutine waits: after(d) is d of fake time
		after := func(d time.Duration) { <-time.After(d); synctest.Wait() }
		synctest.Wait()
		w.Ready()
		after(29 * time.Second)
		if net.count() != 0 {
			t.Fatalf("asked %d times before FirstAfter", net.count())
		}
		after(2 * time.Second)
		if net.count() != 1 {
			t.Fatalf("asked %d times after the modem came up, want 1", net.count())
		}
		after(6*time.Hour + time.Second)
		if net.count() != 2 {
			t.Fatalf("asked %d times after a period, want 2", net.count())
		}
		cancel()
		<-done
	})
}
