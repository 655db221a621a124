package whatsapp

import (
	"strings"
	"testing"

	"multimsg/setting"
)

// TestSenderDefaults: the [[wpp1.sender]] defaults are those New gives a zero Options.
func TestSenderDefaults(t *testing.T) {
	var s SenderConfig
	setting.ApplyDefaults(&s)
	if s.APIURL != DefaultAPIURL || s.Rate != DefaultRate || s.Concurrency != DefaultConcurrency ||
		s.Timeout.D() != DefaultTimeout || s.PerRecipientGap.D() != DefaultPerRecipientGap {
		t.Errorf("SenderConfig defaults = %+v, want Options' (%s, %v/s, %d, %v, %v)", s, DefaultAPIURL, DefaultRate, DefaultConcurrency, DefaultTimeout, DefaultPerRecipientGap)
	}
	c := Unit.New().(*Config)
	if c.FallbackAfter.D() != DefaultFallbackAfter || len(c.Fallback) != 1 || c.Fallback[0] != "sms" {
		t.Errorf("[wpp1] defaults = %+v", c.Common)
	}
}

// TestConfigChecksAsNew: the configuration refuses what New refuses, by the same check, and
// names the key.
func TestConfigChecksAsNew(t *testing.T) {
	for _, tc := range []struct {
		s   SenderConfig
		key string
	}{
		{SenderConfig{Name: "a", APIURL: "ftp://x", PhoneNumberID: "1", Token: "t"}, "sender[0].api_url"},
		{SenderConfig{Name: "a", APIURL: DefaultAPIURL, PhoneNumberID: "12a", Token: "t"}, "sender[0].phone_number_id"},
		{SenderConfig{Name: "a", APIURL: DefaultAPIURL, PhoneNumberID: "1", Token: "t t"}, "sender[0].token"},
	} {
		c := &Config{Sender: []SenderConfig{tc.s}}
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.key+":") {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", tc.s, err, tc.key)
		}
		if _, nerr := New(Options{Name: "a", APIURL: tc.s.APIURL, PhoneNumberID: tc.s.PhoneNumberID, Token: tc.s.Token}, nil); nerr == nil {
			t.Errorf("New(%+v) accepted what the configuration refuses", tc.s)
		}
	}
}
