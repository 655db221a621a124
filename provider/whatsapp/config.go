package whatsapp

import (
	"fmt"

	"multimsg/provider"
	"multimsg/setting"
)

// Unit is the WhatsApp service's entry in provider/units: the [wpp1] table and its senders.
var Unit = provider.Unit{Name: ServiceName, New: func() provider.Settings {
	c := provider.Defaults[Config]().(*Config)
	// WhatsApp needs the uplink; the modem is the way round it (SPEC §2).
	c.Fallback = []string{"sms"}
	return c
}}

// Config is the [wpp1] table.
type Config struct {
	provider.Common
	Sender []SenderConfig `toml:"sender" setting:"label=Senders,help=WhatsApp Cloud API phone numbers; the first is the default."`
}

// SenderConfig is one [[wpp1.sender]]. The defaults are those of Options (docs/WHATSAPP.md);
// TestSenderDefaults holds the two to each other.
type SenderConfig struct {
	Name            string           `toml:"name" setting:"label=Name,required"`
	APIURL          string           `toml:"api_url" setting:"label=API URL,default=https://graph.facebook.com/v21.0,help=The Graph API base URL with its version."`
	PhoneNumberID   string           `toml:"phone_number_id" setting:"label=Phone number id,required,help=The numeric id Meta shows for the number."`
	Token           string           `toml:"token" setting:"label=Access token,required,secret,help=A system-user token with whatsapp_business_messaging."`
	Rate            float64          `toml:"rate" setting:"label=Rate,default=20,min=0,max=80,help=Messages a second (the Cloud API takes 80)."`
	PerRecipientGap setting.Duration `toml:"per_recipient_gap" setting:"label=Gap per recipient,default=6s,help=Spacing of messages to one recipient; negative: none."`
	Concurrency     int              `toml:"concurrency" setting:"label=Concurrency,default=4,min=1,max=64"`
	Timeout         setting.Duration `toml:"timeout" setting:"label=Timeout,default=30s,positive"`
}

// Validate: the account settings pass the same check New makes; names are unique.
func (c *Config) Validate() error {
	for i, s := range c.Sender {
		if err := checkAccount(s.APIURL, s.PhoneNumberID, s.Token); err != nil {
			return setting.Prefix(fmt.Sprintf("sender[%d]", i), err)
		}
	}
	return provider.CheckSenderNames(provider.Names(c.Sender, func(s SenderConfig) string { return s.Name }))
}

// Build makes the wpp1 service, one driver per sender.
func (c *Config) Build(env provider.Env) (*provider.Service, error) {
	senders := make([]provider.Sender, 0, len(c.Sender))
	for _, s := range c.Sender {
		d, err := New(Options{
			Name: s.Name, APIURL: s.APIURL, PhoneNumberID: s.PhoneNumberID, Token: s.Token,
			PerRecipientGap: s.PerRecipientGap.D(), Timeout: s.Timeout.D(), Rate: s.Rate, Concurrency: s.Concurrency,
		}, env.Log)
		if err != nil {
			return nil, err
		}
		senders = append(senders, d.Sender())
	}
	return Service(senders, c.Fallback, c.FallbackAfter.D()), nil
}
