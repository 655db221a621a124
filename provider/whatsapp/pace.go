package whatsapp

import (
	"context"
	"sync"
	"time"
)

// pairPacer spaces messages to the same recipient: the next message to a number starts no
// sooner than gap after the previous one to it has finished. Measuring from the end (not the
// start) of the previous request keeps the spacing as Meta sees it even when one request was
// slow. Sends to one recipient are serialized; sends to different recipients do not wait on each
// other. Memory is bounded by the recipients of the last gap.
type pairPacer struct {
	gap time.Duration

	mu    sync.Mutex // guards slots and every slot's users and last
	slots map[string]*pairSlot
}

type pairSlot struct {
	turn  chan struct{} // holds one token: whoever has taken it may send to this recipient
	last  time.Time     // end of the last request to this recipient; written by the turn holder
	users int           // goroutines holding or waiting for turn
}

func newPairPacer(gap time.Duration) *pairPacer {
	return &pairPacer{gap: gap, slots: make(map[string]*pairSlot)}
}

// acquire waits for to's turn and for the gap since its last message. It returns a release
// func that records when the request ended (sent=false: nothing reached Meta, no gap owed).
func (p *pairPacer) acquire(ctx context.Context, to string) (release func(sent bool), err error) {
	if p.gap <= 0 {
		return func(bool) {}, nil
	}
	p.mu.Lock()
	s := p.slots[to]
	if s == nil {
		if len(p.slots) >= 1024 {
			p.sweepLocked(time.Now())
		}
		s = &pairSlot{turn: make(chan struct{}, 1)}
		s.turn <- struct{}{}
		p.slots[to] = s
	}
	s.users++
	p.mu.Unlock()

	leave := func() {
		p.mu.Lock()
		s.users--
		if s.users == 0 && time.Since(s.last) >= p.gap {
			delete(p.slots, to)
		}
		p.mu.Unlock()
	}
	select {
	case <-s.turn:
	case <-ctx.Done():
		leave()
		return nil, ctx.Err()
	}
	p.mu.Lock()
	last := s.last
	p.mu.Unlock()
	if wait := time.Until(last.Add(p.gap)); !last.IsZero() && wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			s.turn <- struct{}{}
			leave()
			return nil, ctx.Err()
		}
	}
	return func(sent bool) {
		if sent {
			p.mu.Lock()
			s.last = time.Now()
			p.mu.Unlock()
		}
		s.turn <- struct{}{}
		leave()
	}, nil
}

// sweepLocked drops idle recipients whose gap has passed.
func (p *pairPacer) sweepLocked(now time.Time) {
	for k, s := range p.slots {
		if s.users == 0 && now.Sub(s.last) >= p.gap {
			delete(p.slots, k)
		}
	}
}

// size is the number of recipients tracked (tests).
func (p *pairPacer) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.slots)
}
