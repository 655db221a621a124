// Package config is the gateway's configuration file (TOML, SPEC §6): the box-level keys in one
// Config struct whose setting tags give their defaults, bounds and labels (package setting), the
// embedded default used when no file exists, and Validate, which names the key at fault. Each
// service's table belongs to its provider package (provider/units lists them): config hands it
// over undecoded and names no service key itself. Only cmd/multimsg and the gateway wiring read
// it; packages take their own small options.
package config

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"multimsg/modem"
	"multimsg/provider"
	"multimsg/provider/units"
	"multimsg/setting"
)

// DefaultPath is where the box keeps its configuration.
const DefaultPath = "/etc/multimsg/multimsg.toml"

// Embedded is the configuration used when no file exists: the gateway works out of the box and
// delivers mail into a Maildir under the data directory, where a newcomer can see it.
//
//go:embed default.toml
var Embedded string

// Config is the whole configuration file: the box-level keys, and each service's table
// (Services), which the service's own package decodes, defaults and checks.
type Config struct {
	Listen        string   `toml:"listen" setting:"label=Listen on,default=:8080,help=host:port of the device API and the admin page."`
	DataDir       string   `toml:"data_dir" setting:"label=Data directory,default=/var/lib/multimsg,required"`
	Interface     string   `toml:"interface" setting:"label=ARP interface,help=Capture ARP here; empty: the kernel neighbour table only."`
	UnknownDevice string   `toml:"unknown_device" setting:"label=Unknown devices,default=reject,choices=reject|ip,help=A device whose MAC is unknown: refused, or known by its IP."`
	AllowMACs     []string `toml:"allow_macs" setting:"label=Allowed MACs,help=Empty: every device; else only these."`
	BlockMACs     []string `toml:"block_macs" setting:"label=Blocked MACs,help=Refused even when the allow-list is empty; a block wins over an allow."`
	Watchdog      string   `toml:"watchdog" setting:"label=Watchdog device"`
	RestoreClock  bool     `toml:"restore_clock" setting:"label=Restore clock,help=A board without an RTC: never start before the last time seen."`
	HostNames     []string `toml:"host_names" setting:"label=Host names,help=Names device routes accept in Host, besides IPs, localhost and the hostname."`

	// DeviceNames is [device_names]: an admin's label per MAC ("aa:bb:cc:dd:ee:ff" = "Boiler
	// room"), shown wherever the page shows the MAC. The device-facing API never shows it.
	DeviceNames map[string]string `toml:"device_names" setting:"label=Device names,help=A label per MAC address, shown beside it on the admin pages."`

	Admin    Admin    `toml:"admin"`
	Delivery Delivery `toml:"delivery"`
	Store    Store    `toml:"store"`
	Limits   Limits   `toml:"limits"`
	Update   Update   `toml:"update"`
	SMTPIn   SMTPIn   `toml:"smtp_in"`
	SIM      SIM      `toml:"sim"`

	// Services holds each registered service's table by its name ("mail"): the *Config of its
	// provider package. Default fills one per unit of provider/units.
	Services map[string]provider.Settings `toml:"-"`
}

// SMTPIn is the [smtp_in] table: the SMTP listener for devices that send alert mails (mailin).
type SMTPIn struct {
	Listen        string              `toml:"listen" setting:"label=Listen on,help=host:port; empty: off."`
	Hostname      string              `toml:"hostname" setting:"label=Host name,default=multimsg"`
	MaxSize       Size                `toml:"max_size" setting:"label=Largest mail,default=10MiB,min=1KiB,max=1GiB"`
	MaxRecipients int                 `toml:"max_recipients" setting:"label=Most recipients,default=32,min=1,max=1000"`
	Relay         bool                `toml:"relay" setting:"label=Relay,default=true,help=A full address is relayed by the mail service."`
	Rate          float64             `toml:"rate" setting:"label=Rate,default=1,min=0,help=Mails a second per device after burst; 0 = unpaced."`
	Burst         int                 `toml:"burst" setting:"label=Burst,default=20,min=1"`
	MaxConns      int                 `toml:"max_conns" setting:"label=Most connections,default=64,min=1,max=4096"`
	StartTLS      bool                `toml:"starttls" setting:"label=STARTTLS,help=Offer STARTTLS with a certificate made on first start."`
	Auth          string              `toml:"auth" setting:"label=AUTH,default=off,choices=off|optional|required"`
	Users         []SMTPUser          `toml:"user" setting:"label=Users"`
	Aliases       map[string][]string `toml:"aliases" setting:"label=Aliases,help=\"oncall@box\" = [\"sms:15551234567\", \"mail:ops@example.com\"]"`
	Text          map[string]SMTPText `toml:"text" setting:"label=Text per service,help=How a mail becomes a service's text."`
}

// SMTPUser is one [[smtp_in.user]]: a device's AUTH login.
type SMTPUser struct {
	Name         string `toml:"name" setting:"label=Name,required"`
	PasswordHash string `toml:"password_hash" setting:"label=Password hash,secret,help=bcrypt, from multimsg passwd."`
	MAC          string `toml:"mac" setting:"label=MAC,help=Optional: the login is valid from this device only."`
}

// SMTPText is one [smtp_in.text.<service>]: content is "subject+body", "subject" or "body";
// max_chars bounds the text (0: the service's own bound).
type SMTPText struct {
	Content  string `toml:"content" setting:"choices=|subject+body|subject|body"`
	MaxChars int    `toml:"max_chars" setting:"min=0"`
}

// Admin is the [admin] table.
type Admin struct {
	PasswordHash  string `toml:"password_hash" setting:"label=Password hash,secret,help=bcrypt, from multimsg passwd; empty: one is made on first start."`
	MetricsPublic bool   `toml:"metrics_public" setting:"label=Public metrics"`
}

// Delivery is the [delivery] table.
type Delivery struct {
	TTL         Duration `toml:"ttl" setting:"label=Time to live,default=24h,positive"`
	RetryMin    Duration `toml:"retry_min" setting:"label=First retry after,default=5s,positive"`
	RetryMax    Duration `toml:"retry_max" setting:"label=Longest retry wait,default=10m,positive"`
	Workers     int      `toml:"workers" setting:"label=Workers,default=64,min=1,max=4096"`
	SendTimeout Duration `toml:"send_timeout" setting:"label=Send timeout,default=2m,positive"`
}

// Store is the [store] table: retention (SPEC §1) and the quota.
type Store struct {
	QuotaBytes      Size     `toml:"quota" setting:"label=Quota,default=256MiB,min=1MiB"`
	Unparameterised Duration `toml:"unparameterised" setting:"label=Delete unparameterised after,default=24h,positive"`
	Unconsulted     Duration `toml:"unconsulted" setting:"label=Archive unconsulted after,default=24h,positive"`
	KeepArchived    Duration `toml:"keep_archived" setting:"label=Keep archived,default=7d,positive"`
	SweepEvery      Duration `toml:"sweep_every" setting:"label=Sweep every,default=1m,positive"`
	MaxPreprocess   int      `toml:"max_preprocess" setting:"label=Uploads waiting per device,default=100,min=1,max=1048576"`
	MaxDevices      int      `toml:"max_devices" setting:"label=Most devices,default=1024,min=1,max=1048576"`
	DeviceIdle      Duration `toml:"device_idle" setting:"label=Forget devices after,default=30d,positive"`
	DiskFloor       int      `toml:"disk_floor_percent" setting:"label=Disk kept free (%),default=10,min=0,max=90,help=Of the data partition, for the outbox, key and config."`
	InboxMax        int      `toml:"inbox_max" setting:"label=Inbound SMS kept,default=5000,min=1,max=1048576,help=Past it the oldest forwarded are purged; with none forwarded the modem keeps the new one."`
	InboxBytes      Size     `toml:"inbox_bytes" setting:"label=Inbound SMS bytes kept,default=8MiB,min=1KiB"`
}

// Update is the [update] table: firmware updates through RAUC (SPEC §12, docs/UPDATE.md).
type Update struct {
	SpoolDir  string `toml:"spool_dir" setting:"label=Spool directory,default=/run/multimsg/update,help=Where an uploaded bundle waits for RAUC: a tmpfs, never under data_dir."`
	MaxBundle Size   `toml:"max_bundle" setting:"label=Largest bundle,default=512MiB,min=1MiB,max=4GiB"`
}

// SIM is the [sim] table: the SMS fallback's SIM as a managed resource — its credit asked by USSD
// on a schedule, and one alert job each time it falls below low_balance (docs/SIM.md).
type SIM struct {
	Sender       string   `toml:"sender" setting:"label=Modem,help=The sms sender whose SIM is watched; empty: the first."`
	BalanceUSSD  string   `toml:"balance_ussd" setting:"label=Balance code,help=The USSD code whose answer carries the credit, e.g. *100#; empty: not watched."`
	BalanceEvery Duration `toml:"balance_every" setting:"label=Check every,default=6h,min=1m,help=And once first_check after the modem is up."`
	FirstCheck   Duration `toml:"first_check" setting:"label=First check after,default=30s,min=100ms,max=1h,help=How long after the modem is up the first check runs (a modem just registered often refuses USSD for a few seconds)."`
	LowBalance   float64  `toml:"low_balance" setting:"label=Alert below,min=0,help=Alert when the amount in the answer is below it; 0: never."`
	Alert        SIMAlert `toml:"alert"`
}

// SIMAlert is where the low-credit alert goes: a job like any other.
type SIMAlert struct {
	Serv string `toml:"serv" setting:"label=Service"`
	Dest string `toml:"dest" setting:"label=Destination"`
}

// Validate: a code is a USSD string; an alert threshold needs somewhere to alert.
func (s *SIM) Validate() error {
	if s.BalanceUSSD != "" && !modem.ValidUSSDCode(s.BalanceUSSD) {
		return setting.Errorf("balance_ussd", "%q is not a USSD code (digits, * and #, ending in #)", s.BalanceUSSD)
	}
	if s.LowBalance > 0 && s.BalanceUSSD == "" {
		return setting.Errorf("low_balance", "needs sim.balance_ussd, the code that asks for the credit")
	}
	if s.LowBalance > 0 && (s.Alert.Serv == "" || s.Alert.Dest == "") {
		return setting.Errorf("alert", "low_balance is set: give the alert's serv and dest, e.g. { serv = \"mail\", dest = \"ops@example.com\" }")
	}
	return nil
}

// Limits is the [limits] table: what one request may carry.
type Limits struct {
	MaxBody  Size     `toml:"max_body" setting:"label=Largest upload,default=32MiB,min=1KiB,max=1GiB"`
	MaxFiles int      `toml:"max_files" setting:"label=Most files,default=16,min=1,max=1024"`
	MaxField Size     `toml:"max_field" setting:"label=Largest form field,default=64KiB,min=1KiB"`
	ReadTime Duration `toml:"read_timeout" setting:"label=Read timeout,default=30s,positive"`

	MaxForm       Size     `toml:"max_form" setting:"label=Largest form,default=64KiB,min=1KiB,max=1MiB,help=A form body: /msg, /cons, admin routes."`
	MaxArgs       int      `toml:"max_args" setting:"label=Most form fields,default=64,min=8,max=4096"`
	BodyBudget    Size     `toml:"body_budget" setting:"label=Upload budget,default=64MiB,max=4GiB,help=Upload bytes held at once, all requests together."`
	BodyWait      Duration `toml:"body_wait" setting:"label=Wait for budget,default=5s,min=0s,max=1m,help=An upload waits this long for budget, then 503."`
	MaxConnsPerIP int      `toml:"max_conns_per_ip" setting:"label=Connections per address,default=32,min=1,max=65536"`
	Concurrency   int      `toml:"concurrency" setting:"label=Connections at once,default=256,min=1,max=65536"`
}

// Duration and Size are setting's: service packages use them without importing config.
type (
	Duration = setting.Duration
	Size     = setting.Size
)

// ParseSize parses "256MiB", "32MB", "64KiB", "1024".
func ParseSize(x string) (int64, error) { return setting.ParseSize(x) }

// Default returns the built-in defaults every file starts from: the tags' defaults, and each
// registered service's table with its own.
func Default() Config {
	var c Config
	setting.ApplyDefaults(&c)
	c.Services = make(map[string]provider.Settings)
	for _, u := range units.All() {
		c.Services[u.Name] = u.New()
	}
	return c
}

// ErrNoFile says the configuration file does not exist.
var ErrNoFile = errors.New("config: no configuration file")

// Load reads the file at path on top of Default. A missing file is ErrNoFile (wrapped).
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Config{}, fmt.Errorf("%w: %s", ErrNoFile, path)
		}
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return Parse(string(b), path)
}

// LoadDefault parses the embedded default configuration.
func LoadDefault() (Config, error) { return Parse(Embedded, "(embedded default)") }

// Parse decodes TOML text on top of Default and validates it. name is used in messages. The
// box-level keys are decoded into Config; each service's table is handed, undecoded, to the
// settings of its unit. A key neither knows is refused by its name.
func Parse(text, name string) (Config, error) {
	c, err := Decode(text, name)
	if err != nil {
		return Config{}, err
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", name, err)
	}
	return c, nil
}

// Decode is Parse without Validate: a file read onto the defaults, unknown keys refused, for a
// caller that completes it before checking it (a restored backup whose secrets were left out).
func Decode(text, name string) (Config, error) {
	c := Default()
	md, err := toml.Decode(text, &c)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", name, err)
	}
	var tables map[string]toml.Primitive
	smd, err := toml.Decode(text, &tables)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", name, err)
	}
	for _, u := range units.All() {
		p, ok := tables[u.Name]
		if !ok {
			continue
		}
		s := c.Services[u.Name]
		if err := smd.PrimitiveDecode(p, s); err != nil {
			return Config{}, fmt.Errorf("config %s: %s: %w", name, u.Name, err)
		}
		setting.ApplyElementDefaults(s)
	}
	var unknown []string
	for _, k := range md.Undecoded() {
		if c.Services[k[0]] == nil {
			unknown = append(unknown, k.String())
		}
	}
	for _, k := range smd.Undecoded() {
		if len(k) > 1 && c.Services[k[0]] != nil {
			unknown = append(unknown, k.String())
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return Config{}, fmt.Errorf("config %s: unknown key(s): %s", name, strings.Join(unknown, ", "))
	}
	return c, nil
}

// Encode writes c as TOML that Parse reads back to the same value, secrets included: the
// box-level keys, then each service's table in the order of provider/units.
func (c *Config) Encode(w io.Writer) error {
	if err := toml.NewEncoder(w).Encode(c); err != nil {
		return fmt.Errorf("config: encode: %w", err)
	}
	for _, u := range units.All() {
		s, ok := c.Services[u.Name]
		if !ok {
			continue
		}
		if _, err := io.WriteString(w, "\n"); err != nil {
			return fmt.Errorf("config: encode: %w", err)
		}
		if err := toml.NewEncoder(w).Encode(map[string]any{u.Name: s}); err != nil {
			return fmt.Errorf("config: encode %s: %w", u.Name, err)
		}
	}
	return nil
}

// Service returns the settings of the named service: those of the file, or its defaults.
func (c *Config) Service(name string) provider.Settings {
	if s, ok := c.Services[name]; ok {
		return s
	}
	for _, u := range units.All() {
		if u.Name == name {
			return u.New()
		}
	}
	return nil
}

// Validate checks every value against its tag, then the rules across keys, then each
// service's table, and names the key at fault. It also writes MAC addresses in one form.
func (c *Config) Validate() error {
	if err := setting.CheckFields(c); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return setting.Errorf("listen", "%q is not host:port (%v)", c.Listen, err)
	}
	if err := c.devices(); err != nil {
		return err
	}
	for _, h := range c.HostNames {
		if h == "" || len(h) > 253 || strings.ContainsAny(h, " /:@[]") {
			return fmt.Errorf("host_names: %q is not a host name", h)
		}
	}
	if err := c.Update.inside(c.DataDir); err != nil {
		return err
	}
	if err := c.SMTPIn.targets(c.isService); err != nil {
		return err
	}
	if a := c.SIM.Alert.Serv; a != "" && !c.isService(a) {
		return setting.Errorf("sim.alert.serv", "%q is not a service (%s)", a, strings.Join(serviceNames(), ", "))
	}
	return c.validateServices()
}

func (c *Config) isService(name string) bool { return c.Service(name) != nil }

// validateServices checks each service's table with its own rules, and that its fallbacks
// name other services.
func (c *Config) validateServices() error {
	for _, u := range units.All() {
		s := c.Service(u.Name)
		if err := setting.Prefix(u.Name, setting.Check(s)); err != nil {
			return err
		}
		for i, f := range s.Fallbacks() {
			if f == u.Name || !c.isService(f) {
				return setting.Errorf(fmt.Sprintf("%s.fallback[%d]", u.Name, i), "%q is not another service (%s)", f, strings.Join(serviceNames(), ", "))
			}
		}
	}
	return nil
}

func serviceNames() []string {
	var out []string
	for _, u := range units.All() {
		out = append(out, u.Name)
	}
	return out
}

// Bounds on the device keys: an admin's labels and lists, not a database.
const (
	MaxDeviceMACs  = 4096 // entries of allow_macs, block_macs and device_names, each
	MaxDeviceLabel = 64   // characters of a device's label
)

// devices checks allow_macs, block_macs and device_names, and writes their MACs in one form
// (lower case, colons), the form ARP gives, so a lookup by the device's MAC finds them.
func (c *Config) devices() error {
	for _, l := range []struct {
		key  string
		macs []string
	}{{"allow_macs", c.AllowMACs}, {"block_macs", c.BlockMACs}} {
		if len(l.macs) > MaxDeviceMACs {
			return setting.Errorf(l.key, "%d MAC addresses, at most %d", len(l.macs), MaxDeviceMACs)
		}
		for i, m := range l.macs {
			hw, err := ParseMAC(m)
			if err != nil {
				return setting.Errorf(fmt.Sprintf("%s[%d]", l.key, i), "%v", err)
			}
			l.macs[i] = hw
		}
	}
	if len(c.DeviceNames) > MaxDeviceMACs {
		return setting.Errorf("device_names", "%d names, at most %d", len(c.DeviceNames), MaxDeviceMACs)
	}
	if len(c.DeviceNames) == 0 {
		return nil
	}
	names := make(map[string]string, len(c.DeviceNames))
	macs := make([]string, 0, len(c.DeviceNames))
	for m := range c.DeviceNames {
		macs = append(macs, m)
	}
	sort.Strings(macs) // the same error for the same file
	for _, m := range macs {
		hw, err := ParseMAC(m)
		if err != nil {
			return setting.Errorf("device_names", "%v", err)
		}
		if _, dup := names[hw]; dup {
			return setting.Errorf("device_names", "%s is named twice (MACs are compared without case or separators)", hw)
		}
		label, err := DeviceLabel(c.DeviceNames[m])
		if err != nil {
			return setting.Errorf("device_names", "%s: %v", hw, err)
		}
		names[hw] = label
	}
	c.DeviceNames = names
	return nil
}

// DeviceLabel checks an admin's label for a device and returns it trimmed: 1 to MaxDeviceLabel
// printable characters of valid UTF-8 (no control, format or line-breaking characters, which
// would let a label disguise itself or break a page's layout or a log line).
func DeviceLabel(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("the name is not valid UTF-8")
	}
	s = strings.TrimSpace(s)
	switch n := utf8.RuneCountInString(s); {
	case n == 0:
		return "", errors.New("the name is empty (remove the entry to unname the device)")
	case n > MaxDeviceLabel:
		return "", fmt.Errorf("the name has %d characters, at most %d", n, MaxDeviceLabel)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return "", fmt.Errorf("the name holds %U, not a printable character", r)
		}
	}
	return s, nil
}

// ParseMAC reads a MAC address as the device keys take it (any case, colons or dashes) and
// writes it as they hold it: lower case with colons.
func ParseMAC(m string) (string, error) {
	hw, err := net.ParseMAC(m)
	if err != nil || len(hw) != 6 {
		return "", fmt.Errorf("%q is not a MAC address like aa:bb:cc:dd:ee:ff", m)
	}
	return hw.String(), nil
}

// Validate: retries grow from retry_min to retry_max.
func (d *Delivery) Validate() error {
	if d.RetryMax < d.RetryMin {
		return setting.Errorf("retry_max", "must not be below delivery.retry_min")
	}
	return nil
}

// Validate: a form can carry its largest field, and the budget one largest upload.
func (l *Limits) Validate() error {
	if l.MaxField > l.MaxForm {
		return setting.Errorf("max_field", "%d bytes is more than limits.max_form (%d): no form could carry it", l.MaxField, l.MaxForm)
	}
	if l.BodyBudget < l.MaxBody+64<<10 {
		return setting.Errorf("body_budget", "%d bytes, want at least limits.max_body + 64KiB (%d, one largest upload) and at most 4GiB", l.BodyBudget, l.MaxBody+64<<10)
	}
	return nil
}

// Validate: the admin password is a bcrypt hash.
func (a *Admin) Validate() error {
	if a.PasswordHash != "" && !isBcrypt(a.PasswordHash) {
		return setting.Errorf("password_hash", "not a bcrypt hash (make one with `multimsg passwd`)")
	}
	return nil
}

func isBcrypt(h string) bool { return strings.HasPrefix(h, "$2") }

// Validate: the spool is an absolute path.
func (u *Update) Validate() error {
	if !filepath.IsAbs(u.SpoolDir) {
		return setting.Errorf("spool_dir", "%q must be an absolute path (a tmpfs such as /run/multimsg/update)", u.SpoolDir)
	}
	return nil
}

// inside refuses a spool under the data directory.
func (u *Update) inside(dataDir string) error {
	if rel, err := filepath.Rel(filepath.Clean(dataDir), filepath.Clean(u.SpoolDir)); err == nil && !strings.HasPrefix(rel, "..") {
		return fmt.Errorf("update.spool_dir: %s is inside data_dir %s: bundles must never fill the data partition both slots share", u.SpoolDir, dataDir)
	}
	return nil
}

// Validate: the listener's address, AUTH's users.
func (m *SMTPIn) Validate() error {
	if m.Listen != "" {
		if _, _, err := net.SplitHostPort(m.Listen); err != nil {
			return setting.Errorf("listen", "%q is not host:port (%v); \"\" turns the listener off", m.Listen, err)
		}
	}
	if m.Auth == "required" && len(m.Users) == 0 {
		return setting.Errorf("auth", "\"required\" needs at least one [[smtp_in.user]]")
	}
	seen := map[string]bool{}
	for i, u := range m.Users {
		k := fmt.Sprintf("user[%d]", i)
		if seen[u.Name] {
			return setting.Errorf(k+".name", "%q is used twice", u.Name)
		}
		seen[u.Name] = true
		if !isBcrypt(u.PasswordHash) {
			return setting.Errorf(k+".password_hash", "not a bcrypt hash (make one with `multimsg passwd`)")
		}
		if u.MAC != "" {
			hw, err := ParseMAC(u.MAC)
			if err != nil {
				return setting.Errorf(k+".mac", "%v", err)
			}
			m.Users[i].MAC = hw
		}
	}
	return nil
}

// targets checks that aliases and text rules name services this box has.
func (m *SMTPIn) targets(isService func(string) bool) error {
	for name, ts := range m.Aliases {
		if !strings.Contains(name, "@") {
			return fmt.Errorf("smtp_in.aliases: %q: name an alias as an address, e.g. \"oncall@box\"", name)
		}
		if len(ts) == 0 {
			return fmt.Errorf("smtp_in.aliases.%q: no targets", name)
		}
		for i, t := range ts {
			svc, dest, ok := strings.Cut(t, ":")
			if !ok || !isService(svc) || dest == "" {
				return fmt.Errorf("smtp_in.aliases.%q[%d]: %q, want service:destination with service %s", name, i, t, strings.Join(serviceNames(), ", "))
			}
		}
	}
	for svc, t := range m.Text {
		if !isService(svc) {
			return fmt.Errorf("smtp_in.text.%s: not a service (%s)", svc, strings.Join(serviceNames(), ", "))
		}
		if err := setting.Prefix("smtp_in.text."+svc, setting.Check(&t)); err != nil {
			return err
		}
	}
	return nil
}

// Changed lists the full keys whose values differ between a and b, box keys and service
// tables ("delivery.ttl", "mail.sender[0].port"); never a value.
func Changed(a, b *Config) []string {
	out := setting.Changed(a, b)
	for _, u := range units.All() {
		sa, sb := a.Service(u.Name), b.Service(u.Name)
		switch {
		case sa == nil && sb == nil:
		case sa == nil || sb == nil:
			out = append(out, u.Name)
		default:
			for _, k := range setting.Changed(sa, sb) {
				out = append(out, u.Name+"."+k)
			}
		}
	}
	return out
}
