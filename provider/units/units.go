// Package units is the list of services this box is built with. Adding a service is one new
// package under provider/ that declares a provider.Unit, plus one line here.
package units

import (
	"multimsg/provider"
	"multimsg/provider/mail"
	"multimsg/provider/sms"
	"multimsg/provider/webhook"
	"multimsg/provider/whatsapp"
)

// All returns the services' units in the order their tables are written back.
func All() []provider.Unit {
	return []provider.Unit{
		mail.Unit,
		whatsapp.Unit,
		sms.Unit,
		webhook.Unit,
	}
}
