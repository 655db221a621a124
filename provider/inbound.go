package provider

import (
	"context"
	"time"
)

// Inbound is one message a receiving driver took in: for SMS, one SMS-DELIVER PDU (one part of
// a concatenated text), decoded. Reassembling parts is the receiver's job, over what it stored.
type Inbound struct {
	Service string // the service whose sender received it ("sms")
	Sender  string // the sender (modem) that received it
	From    string // the originator as sent (E.164 with "+" when international)
	Sent    time.Time
	Text    string // decoded text of this part (GSM 7-bit, UCS-2) or "" for 8-bit data
	Data    []byte // the user data of an 8-bit part (nil for text)
	Concat  *Concat
	PDU     []byte // the whole PDU as received, kept for diagnosis
}

// Concat says which part of a concatenated message an Inbound is (3GPP TS 23.040 §9.2.3.24.1).
type Concat struct {
	Ref     int // the reference shared by every part (8- or 16-bit)
	RefBits int // 8 or 16
	Parts   int // how many parts the message has
	Seq     int // this part's number, 1-based
}

// StatusReport is an SMS-STATUS-REPORT: what the network says became of one sent part.
type StatusReport struct {
	Service    string
	Sender     string
	Ref        int    // TP-MR of the part it reports on
	Recipient  string // TP-RA, as the network wrote it
	Status     int    // TP-ST (TS 23.040 §9.2.3.15): 0x00..0x1F delivered, 0x20.. temporary, 0x40.. permanent
	SCTime     time.Time
	Discharged time.Time
}

// Receiver takes what a receiving driver hands in. A nil error means it is durable (committed
// to the store): only then may the driver delete it from the modem. It must be safe to call
// again with the same message (a crash between commit and delete): the receiver recognises it.
type Receiver interface {
	Inbound(ctx context.Context, m Inbound) error
	StatusReport(ctx context.Context, r StatusReport) error
}

// Receiving is implemented by drivers that can take messages in. The gateway calls SetReceiver
// once, before the driver's work starts to flow.
type Receiving interface {
	SetReceiver(r Receiver)
}

// PartRef is what a driver knows of one sent part, so that a later StatusReport can be matched
// to it: for SMS, the TP-MR the modem answered to AT+CMGS and the recipient it was sent to.
type PartRef struct {
	Ref       int
	Recipient string
}
