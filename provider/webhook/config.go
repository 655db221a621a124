package webhook

import (
	"fmt"

	"multimsg/provider"
	"multimsg/setting"
)

// Unit is the webhook service's entry in provider/units: the [webhook] table and its URLs.
var Unit = provider.Unit{Name: ServiceName, New: provider.Defaults[Config]}

// ServiceName is the service's name in /msg and in the configuration.
const ServiceName = "webhook"

// Config is the [webhook] table.
type Config struct {
	provider.Common
	Sender []SenderConfig `toml:"sender" setting:"label=Receivers,help=URLs that take signed JSON posts (inbound SMS forwarding, devices' documents)."`
}

// SenderConfig is one [[webhook.sender]]: a URL and the secret its posts are signed with.
type SenderConfig struct {
	Name    string           `toml:"name" setting:"label=Name,required"`
	URL     string           `toml:"url" setting:"label=URL,required,help=http or https; posts are not redirected."`
	Secret  string           `toml:"secret" setting:"label=Secret,required,secret,help=The HMAC-SHA256 key receivers verify X-Multimsg-Signature with."`
	Timeout setting.Duration `toml:"timeout" setting:"label=Timeout,default=10s,positive,help=One post, connection included."`
}

// Validate: names are unique; each URL is http(s).
func (c *Config) Validate() error {
	for i, s := range c.Sender {
		if _, err := New(Options{Name: s.Name, URL: s.URL, Secret: s.Secret}); err != nil {
			return setting.Errorf(fmt.Sprintf("sender[%d].url", i), "%q is not an http or https URL", s.URL)
		}
	}
	return provider.CheckSenderNames(provider.Names(c.Sender, func(s SenderConfig) string { return s.Name }))
}

// Build makes the webhook service, one driver per URL.
func (c *Config) Build(env provider.Env) (*provider.Service, error) {
	senders := make([]provider.Sender, 0, len(c.Sender))
	for _, s := range c.Sender {
		d, err := New(Options{Name: s.Name, URL: s.URL, Secret: s.Secret, Timeout: s.Timeout.D()})
		if err != nil {
			return nil, err
		}
		senders = append(senders, provider.Sender{Name: s.Name, Driver: d, Concurrency: 2})
	}
	svc := Service(senders)
	svc.Fallback, svc.FallbackAfter = c.Fallback, c.FallbackAfter.D()
	return svc, nil
}
