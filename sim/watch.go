package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"multimsg/internal/atomicfile"
)

// Options configure a credit watch.
type Options struct {
	Code  string        // the USSD code whose answer carries the credit, e.g. "*100#"
	Every time.Duration // how often it is asked; and once FirstAfter the modem is up
	// FirstAfter: how long after the modem becomes ready the first check runs (a modem that has
	// just registered often answers USSD with an error for a few seconds).
	FirstAfter time.Duration
	Low        float64 // alert when the amount falls below it; 0: never alert
	Currency   string  // shown with the amount; "" when the answer's own is enough
	// Ask sends the USSD code and returns the network's answer (modem.Modem.USSD).
	Ask func(ctx context.Context, code string) (string, error)
	// Alert queues the low-credit alert as a job; nil error means it is durable.
	Alert func(ctx context.Context, text string) error
	// StateFile keeps the last answer and whether the alert was raised, across restarts, so a
	// restart below the threshold does not alert again. "" keeps it in memory.
	StateFile string
	Now       func() time.Time
	Log       *slog.Logger
}

// Status is what the page, the JSON status and /metrics show of the credit.
type Status struct {
	Code      string    `json:"code"`
	Answer    string    `json:"answer,omitempty"` // the network's last text, as it came
	Amount    *float64  `json:"amount,omitempty"` // nil when the answer held no amount
	At        time.Time `json:"at,omitzero"`      // when that answer came
	Error     string    `json:"error,omitempty"`  // the last check's error, "" after a good one
	ErrorAt   time.Time `json:"error_at,omitzero"`
	Low       float64   `json:"low,omitempty"`
	Below     bool      `json:"below"` // the alert for the current crossing has been queued
	Checks    int       `json:"checks"`
	Unparsed  int       `json:"unparsed"` // answers in which no amount was found
	Failed    int       `json:"failed"`   // checks that got no answer
	Alerts    int       `json:"alerts"`   // alerts queued (one per crossing)
	NextCheck time.Time `json:"next_check,omitzero"`
}

// Watch asks for the credit on a schedule and raises one alert per crossing below Low.
type Watch struct {
	o     Options
	ready chan struct{}
	mu    sync.Mutex // guards st; held across a whole check so two never interleave
	st    Status
	check sync.Mutex
}

// New makes a watch; it does nothing until Run.
func New(o Options) (*Watch, error) {
	if o.Code == "" || o.Ask == nil {
		return nil, errors.New("sim: a credit watch needs a USSD code and a modem to ask")
	}
	if o.Every <= 0 {
		o.Every = 6 * time.Hour
	}
	if o.FirstAfter <= 0 {
		o.FirstAfter = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	w := &Watch{o: o, ready: make(chan struct{}, 1), st: Status{Code: o.Code, Low: o.Low}}
	if o.StateFile != "" {
		if err := os.MkdirAll(filepath.Dir(o.StateFile), 0o700); err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		if b, err := os.ReadFile(o.StateFile); err == nil {
			var st Status
			if json.Unmarshal(b, &st) == nil {
				st.Code, st.Low = o.Code, o.Low
				w.st = st
			}
		}
	}
	return w, nil
}

// Ready tells the watch the modem has become able to send: the first check runs FirstAfter it.
// It never blocks (provider.ReadyNotifier's rule).
func (w *Watch) Ready() {
	select {
	case w.ready <- struct{}{}:
	default:
	}
}

// Status returns the last known credit.
func (w *Watch) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.st
}

// Run checks FirstAfter each Ready and then every Every, until ctx ends.
func (w *Watch) Run(ctx context.Context) error {
	timer := time.NewTimer(w.o.Every)
	defer timer.Stop()
	w.setNext(w.o.Now().Add(w.o.Every))
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.ready:
			timer.Reset(w.o.FirstAfter)
			w.setNext(w.o.Now().Add(w.o.FirstAfter))
			continue
		case <-timer.C:
		}
		w.Check(ctx) //nolint:errcheck // the outcome is in Status and the log
		timer.Reset(w.o.Every)
		w.setNext(w.o.Now().Add(w.o.Every))
	}
}

func (w *Watch) setNext(t time.Time) {
	w.mu.Lock()
	w.st.NextCheck = t
	w.mu.Unlock()
}

// Check asks for the credit now and, when it is below Low for the first time since it was last
// above, queues the alert. It returns the status after the check.
func (w *Watch) Check(ctx context.Context) (Status, error) {
	w.check.Lock()
	defer w.check.Unlock()
	answer, err := w.o.Ask(ctx, w.o.Code)
	now := w.o.Now()
	w.mu.Lock()
	w.st.Checks++
	if err != nil {
		w.st.Failed++
		w.st.Error, w.st.ErrorAt = err.Error(), now
		st := w.st
		w.mu.Unlock()
		w.o.Log.Warn("sim: credit check failed", "code", w.o.Code, "err", err)
		w.save(st)
		return st, err
	}
	w.st.Answer, w.st.At, w.st.Error, w.st.ErrorAt = answer, now, "", time.Time{}
	amount, ok := ParseAmount(answer)
	if !ok {
		w.st.Amount = nil
		w.st.Unparsed++
		st := w.st
		w.mu.Unlock()
		w.o.Log.Warn("sim: no amount found in the credit answer", "code", w.o.Code, "answer", answer)
		w.save(st)
		return st, nil
	}
	w.st.Amount = &amount
	raise := w.o.Low > 0 && amount < w.o.Low && !w.st.Below && w.o.Alert != nil
	if w.o.Low > 0 && amount >= w.o.Low {
		w.st.Below = false
	}
	w.mu.Unlock()
	var alertErr error
	if raise {
		if alertErr = w.o.Alert(ctx, w.alertText(amount, answer)); alertErr == nil {
			w.mu.Lock()
			w.st.Below = true
			w.st.Alerts++
			w.mu.Unlock()
			w.o.Log.Warn("sim: credit below the threshold: alert queued", "amount", amount, "low", w.o.Low)
		} else {
			w.o.Log.Error("sim: credit below the threshold, and the alert could not be queued", "err", alertErr)
		}
	}
	st := w.Status()
	w.save(st)
	return st, alertErr
}

func (w *Watch) alertText(amount float64, answer string) string {
	cur := ""
	if w.o.Currency != "" {
		cur = " " + w.o.Currency
	}
	return fmt.Sprintf("SIM credit low: %s%s (alert below %s). The network said: %s",
		strconv.FormatFloat(amount, 'f', -1, 64), cur, strconv.FormatFloat(w.o.Low, 'f', -1, 64), answer)
}

// save writes the status where a restart finds it (temp file, fsync, rename).
func (w *Watch) save(st Status) {
	if w.o.StateFile == "" {
		return
	}
	b, _ := json.Marshal(st)
	if err := atomicfile.Write(w.o.StateFile, b); err != nil {
		w.o.Log.Warn("sim: could not keep the credit state", "err", err)
	}
}
