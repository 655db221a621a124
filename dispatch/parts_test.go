package dispatch

import (
	"testing"
	"testing/synctest"

	"multimsg/provider"
)

// TestReceiptPartsKept: the parts a driver reports sending reach the file in the store, where
// the status reports are matched to them (store.ReportPart).
func TestReceiptPartsKept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		modem := &fakeDriver{name: "m1", parts: []provider.PartRef{{Ref: 255, Recipient: "491701234567"}, {Ref: 0, Recipient: "491701234567"}}}
		h := start(t, Options{}, svc("sms", true, modem))
		id := h.queue("sms", "", 0, "a long text")
		synctest.Wait()
		ps := h.job(id).Files[0].Parts
		if len(ps) != 2 || ps[0].Ref != 255 || ps[1].Ref != 0 || ps[0].To != "491701234567" || ps[0].Reported {
			t.Fatalf("file parts = %+v, want both parts, unreported", ps)
		}
	})
}
