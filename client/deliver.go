package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Progress reports a step of Deliver: the job id once known, and the state (empty
// while uploading).
type Progress func(id string, s State)

// Deliver is a whole job as `multimsg send` runs it, over the seed's routes so it works
// with every box: upload (encrypted unless plain), set the parameters, wait until the
// job is finished, polling every poll. The id is returned as soon as it is known, also
// with an error, so the caller can tell the user which job to consult.
func (c *Client) Deliver(ctx context.Context, files []File, p Params, encrypt bool, poll time.Duration, progress Progress) (string, State, error) {
	report := func(id string, s State) {
		if progress != nil {
			progress(id, s)
		}
	}
	id, err := c.Upload(ctx, files, encrypt)
	if err != nil {
		return "", "", err
	}
	report(id, Preprocess)
	if err := c.SetParams(ctx, id, p); err != nil {
		return id, Preprocess, err
	}
	s, err := c.WaitFinished(ctx, id, poll, func(s State) { report(id, s) })
	return id, s, err
}

// Outcome turns a finished state into nil (delivered) or an error wrapping
// ErrNotDelivered that says what it means for the user.
func Outcome(s State) error {
	switch s {
	case Delivered:
		return nil
	case Partial:
		return fmt.Errorf("%w: partial: some files were delivered, the others failed for good (the admin page shows each file's reason)", ErrNotDelivered)
	case Failed:
		return fmt.Errorf("%w: failed: nothing was delivered — a permanent error (bad destination, rejected content) or out of time (the admin page shows the reason)", ErrNotDelivered)
	}
	return fmt.Errorf("%w: job is still %s", ErrNotDelivered, s)
}

// ParseInfo parses the -info flag: a JSON object, or "" for none.
func ParseInfo(s string) (map[string]any, error) {
	if s == "" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
		return nil, fmt.Errorf(`-info %.60q: want a JSON object, e.g. {"subject": "Door open"}`, s)
	}
	return m, nil
}
