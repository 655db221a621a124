// Package config is the gateway's configuration file (TOML, SPEC §6): one Config struct with its
// defaults, the embedded default used when no file exists, and Validate, which names the key at
// fault. Only cmd/multimsg and the gateway wiring read it; packages take their own small options.
package config

import (
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// DefaultPath is where the box keeps its configuration.
const DefaultPath = "/etc/multimsg/multimsg.toml"

// Embedded is the configuration used when no file exists: the gateway works out of the box and
// delivers mail into a Maildir under the data directory, where a newcomer can see it.
//
//go:embed default.toml
var Embedded string

// Config is the whole configuration file.
type Config struct {
	Listen        string   `toml:"listen"`
	DataDir       string   `toml:"data_dir"`
	Interface     string   `toml:"interface"`
	UnknownDevice string   `toml:"unknown_device"`
	AllowMACs     []string `toml:"allow_macs"`
	Watchdog      string   `toml:"watchdog"`
	RestoreClock  bool     `toml:"restore_clock"` // a board without an RTC: never start before the last time seen
	HostNames     []string `toml:"host_names"`    // names device routes accept in Host, besides IPs, localhost and the hostname

	Admin    Admin    `toml:"admin"`
	Delivery Delivery `toml:"delivery"`
	Store    Store    `toml:"store"`
	Limits   Limits   `toml:"limits"`
	Update   Update   `toml:"update"`

	Mail MailService `toml:"mail"`
	Wpp1 WppService  `toml:"wpp1"`
	SMS  SMSService  `toml:"sms"`

	SMTPIn SMTPIn `toml:"smtp_in"`
}

// SMTPIn is the [smtp_in] table: the SMTP listener for devices that send alert mails (mailin).
type SMTPIn struct {
	Listen        string              `toml:"listen"` // "" = off
	Hostname      string              `toml:"hostname"`
	MaxSize       Size                `toml:"max_size"`
	MaxRecipients int                 `toml:"max_recipients"`
	Relay         bool                `toml:"relay"` // a full address is relayed by the mail service
	Rate          float64             `toml:"rate"`  // mails a second per device after burst; 0 = unpaced
	Burst         int                 `toml:"burst"`
	MaxConns      int                 `toml:"max_conns"`
	StartTLS      bool                `toml:"starttls"` // offer STARTTLS with a certificate made on first start
	Auth          string              `toml:"auth"`     // off | optional | required
	Users         []SMTPUser          `toml:"user"`
	Aliases       map[string][]string `toml:"aliases"` // "oncall@box" = ["sms:15551234567", "mail:ops@example.com"]
	Text          map[string]SMTPText `toml:"text"`    // per service: how a mail becomes its text
}

// SMTPUser is one [[smtp_in.user]]: a device's AUTH login.
type SMTPUser struct {
	Name         string `toml:"name"`
	PasswordHash string `toml:"password_hash"` // bcrypt, from `multimsg passwd`
	MAC          string `toml:"mac"`           // optional: the login is valid from this device only
}

// SMTPText is one [smtp_in.text.<service>]: content is "subject+body", "subject" or "body";
// max_chars bounds the text (0: the service's own bound).
type SMTPText struct {
	Content  string `toml:"content"`
	MaxChars int    `toml:"max_chars"`
}

// Admin is the [admin] table.
type Admin struct {
	PasswordHash  string `toml:"password_hash"`
	MetricsPublic bool   `toml:"metrics_public"`
}

// Delivery is the [delivery] table.
type Delivery struct {
	TTL         Duration `toml:"ttl"`
	RetryMin    Duration `toml:"retry_min"`
	RetryMax    Duration `toml:"retry_max"`
	Workers     int      `toml:"workers"`
	SendTimeout Duration `toml:"send_timeout"`
}

// Store is the [store] table: retention (SPEC §1) and the quota.
type Store struct {
	QuotaBytes      Size     `toml:"quota"`
	Unparameterised Duration `toml:"unparameterised"` // preprocess jobs are deleted after this
	Unconsulted     Duration `toml:"unconsulted"`     // finished, unconsulted jobs are archived after this
	KeepArchived    Duration `toml:"keep_archived"`   // archived jobs are purged after this
	SweepEvery      Duration `toml:"sweep_every"`
	MaxPreprocess   int      `toml:"max_preprocess"`     // uploads waiting for /msg per device
	MaxDevices      int      `toml:"max_devices"`        // the device registry's bound
	DeviceIdle      Duration `toml:"device_idle"`        // a device not seen for this long leaves the registry
	DiskFloor       int      `toml:"disk_floor_percent"` // % of the data partition the store leaves free (outbox, key, config)
}

// Update is the [update] table: firmware updates through RAUC (SPEC §12, docs/UPDATE.md).
type Update struct {
	SpoolDir  string `toml:"spool_dir"`  // where an uploaded bundle waits for RAUC: tmpfs, never data_dir
	MaxBundle Size   `toml:"max_bundle"` // the largest bundle POST /admin/api/update takes
}

// Limits is the [limits] table: what one request may carry.
type Limits struct {
	MaxBody  Size     `toml:"max_body"`
	MaxFiles int      `toml:"max_files"`
	MaxField Size     `toml:"max_field"`
	ReadTime Duration `toml:"read_timeout"`

	MaxForm       Size     `toml:"max_form"`         // a form body: /msg, /cons, admin routes
	MaxArgs       int      `toml:"max_args"`         // fields in an urlencoded body
	BodyBudget    Size     `toml:"body_budget"`      // upload bytes held at once, all requests together
	BodyWait      Duration `toml:"body_wait"`        // an upload waits this long for budget, then 503
	MaxConnsPerIP int      `toml:"max_conns_per_ip"` // open connections from one address
	Concurrency   int      `toml:"concurrency"`      // connections served at once
}

// ServiceCommon are the keys every service table has.
type ServiceCommon struct {
	Fallback      []string `toml:"fallback"`
	FallbackAfter Duration `toml:"fallback_after"`
}

// MailService is the [mail] table.
type MailService struct {
	ServiceCommon
	Sender []MailSender `toml:"sender"`
}

// MailSender is one [[mail.sender]].
type MailSender struct {
	Name        string   `toml:"name"`
	Host        string   `toml:"host"`
	Port        int      `toml:"port"`
	TLS         string   `toml:"tls"`
	Username    string   `toml:"username"`
	Password    string   `toml:"password"`
	From        string   `toml:"from"`
	CAFile      string   `toml:"ca_file"` // PEM CA certificates to trust for tls/starttls (a relay with a private CA)
	Maildir     string   `toml:"maildir"`
	Subject     string   `toml:"subject"` // default subject; {device} is replaced by the device
	Concurrency int      `toml:"concurrency"`
	Rate        float64  `toml:"rate"`
	Timeout     Duration `toml:"timeout"`
}

// WppService is the [wpp1] table.
type WppService struct {
	ServiceCommon
	Sender []WppSender `toml:"sender"`
}

// WppSender is one [[wpp1.sender]].
type WppSender struct {
	Name            string   `toml:"name"`
	APIURL          string   `toml:"api_url"`
	PhoneNumberID   string   `toml:"phone_number_id"`
	Token           string   `toml:"token"`
	Rate            float64  `toml:"rate"`
	PerRecipientGap Duration `toml:"per_recipient_gap"`
	Concurrency     int      `toml:"concurrency"`
	Timeout         Duration `toml:"timeout"`
}

// SMSService is the [sms] table.
type SMSService struct {
	ServiceCommon
	Sender []SMSSender `toml:"sender"`
}

// SMSSender is one [[sms.sender]]: one modem.
type SMSSender struct {
	Name         string   `toml:"name"`
	Device       string   `toml:"device"`
	Baud         int      `toml:"baud"`
	PIN          string   `toml:"pin"`
	Segments     int      `toml:"segments"`
	ResetCommand string   `toml:"reset_command"`
	Timeout      Duration `toml:"timeout"`       // one AT command
	SendTimeout  Duration `toml:"send_timeout"`  // one AT+CMGS (the modem may take up to a minute)
	HealthEvery  Duration `toml:"health_every"`  // how often signal, SIM and registration are read
	PowerTimeout Duration `toml:"power_timeout"` // AT+CFUN=1: how long the radio may take to power up
	// StatusReports: sends ask for status reports (TP-SRR); default (unset) true.
	StatusReports *bool `toml:"status_reports"`
	// PollEvery: how often the modem's message store is read for what no indication
	// announced ("0s" default 5m).
	PollEvery Duration `toml:"poll_every"`
	// SendUnregisteredAfter: how long the modem may say "not registered" before sends are
	// tried anyway and the network answers ("0s" default 1m; negative: never).
	SendUnregisteredAfter Duration `toml:"send_unregistered_after"`
}

// Default returns the built-in defaults every file starts from.
func Default() Config {
	return Config{
		Listen:        ":8080",
		DataDir:       "/var/lib/multimsg",
		UnknownDevice: "reject",
		Delivery: Delivery{
			TTL:         Duration(24 * time.Hour),
			RetryMin:    Duration(5 * time.Second),
			RetryMax:    Duration(10 * time.Minute),
			Workers:     64,
			SendTimeout: Duration(2 * time.Minute),
		},
		Store: Store{
			QuotaBytes:      256 << 20,
			Unparameterised: Duration(24 * time.Hour),
			Unconsulted:     Duration(24 * time.Hour),
			KeepArchived:    Duration(7 * 24 * time.Hour),
			SweepEvery:      Duration(time.Minute),
			MaxPreprocess:   100,
			MaxDevices:      1024,
			DeviceIdle:      Duration(30 * 24 * time.Hour),
			DiskFloor:       10,
		},
		Limits: Limits{
			MaxBody:  32 << 20,
			MaxFiles: 16,
			MaxField: 64 << 10,
			ReadTime: Duration(30 * time.Second),

			MaxForm:       64 << 10,
			MaxArgs:       64,
			BodyBudget:    64 << 20,
			BodyWait:      Duration(5 * time.Second),
			MaxConnsPerIP: 32,
			Concurrency:   256,
		},
		Wpp1: WppService{ServiceCommon: ServiceCommon{Fallback: []string{"sms"}, FallbackAfter: Duration(2 * time.Minute)}},
		Mail: MailService{ServiceCommon: ServiceCommon{FallbackAfter: Duration(2 * time.Minute)}},
		SMS:  SMSService{ServiceCommon: ServiceCommon{FallbackAfter: Duration(2 * time.Minute)}},
		SMTPIn: SMTPIn{Hostname: "multimsg", MaxSize: 10 << 20, MaxRecipients: 32, Relay: true,
			Rate: 1, Burst: 20, MaxConns: 64, Auth: "off"},

		Update: Update{SpoolDir: "/run/multimsg/update", MaxBundle: 512 << 20},
	}
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

// Parse decodes TOML text on top of Default and validates it. name is used in messages.
func Parse(text, name string) (Config, error) {
	c := Default()
	md, err := toml.Decode(text, &c)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", name, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		sort.Strings(keys)
		return Config{}, fmt.Errorf("config %s: unknown key(s): %s", name, strings.Join(keys, ", "))
	}
	c.fillSenderDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", name, err)
	}
	return c, nil
}

func (c *Config) fillSenderDefaults() {
	for i := range c.Mail.Sender {
		s := &c.Mail.Sender[i]
		if s.Port == 0 {
			s.Port = 25
		}
		if s.TLS == "" {
			s.TLS = "none"
		}
		if s.From == "" {
			s.From = "gateway@localhost"
		}
		if s.Maildir != "" && !filepath.IsAbs(s.Maildir) && c.DataDir != "" {
			s.Maildir = filepath.Join(c.DataDir, s.Maildir)
		}
	}
	for i := range c.Wpp1.Sender {
		if c.Wpp1.Sender[i].APIURL == "" {
			c.Wpp1.Sender[i].APIURL = "https://graph.facebook.com/v21.0"
		}
	}
	for i := range c.SMS.Sender {
		s := &c.SMS.Sender[i]
		if s.Baud == 0 {
			s.Baud = 115200
		}
		if s.Segments == 0 {
			s.Segments = 6
		}
	}
}

// Validate checks every value and names the key at fault.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen: %q is not host:port (%v)", c.Listen, err)
	}
	if c.DataDir == "" {
		return errors.New("data_dir: must not be empty")
	}
	switch c.UnknownDevice {
	case "reject", "ip":
	default:
		return fmt.Errorf("unknown_device: %q, want \"reject\" or \"ip\"", c.UnknownDevice)
	}
	for i, m := range c.AllowMACs {
		hw, err := net.ParseMAC(m)
		if err != nil || len(hw) != 6 {
			return fmt.Errorf("allow_macs[%d]: %q is not a MAC address like aa:bb:cc:dd:ee:ff", i, m)
		}
		c.AllowMACs[i] = hw.String()
	}
	pos := func(key string, d Duration) error {
		if d <= 0 {
			return fmt.Errorf("%s: must be a positive duration like \"24h\", got %v", key, time.Duration(d))
		}
		return nil
	}
	for _, x := range []struct {
		k string
		d Duration
	}{
		{"delivery.ttl", c.Delivery.TTL}, {"delivery.retry_min", c.Delivery.RetryMin}, {"delivery.retry_max", c.Delivery.RetryMax},
		{"delivery.send_timeout", c.Delivery.SendTimeout},
		{"store.unparameterised", c.Store.Unparameterised}, {"store.unconsulted", c.Store.Unconsulted}, {"store.keep_archived", c.Store.KeepArchived},
		{"store.sweep_every", c.Store.SweepEvery}, {"store.device_idle", c.Store.DeviceIdle}, {"limits.read_timeout", c.Limits.ReadTime},
		{"mail.fallback_after", c.Mail.FallbackAfter}, {"wpp1.fallback_after", c.Wpp1.FallbackAfter}, {"sms.fallback_after", c.SMS.FallbackAfter},
	} {
		if err := pos(x.k, x.d); err != nil {
			return err
		}
	}
	if err := c.Update.validate(c.DataDir); err != nil {
		return err
	}
	if c.Delivery.RetryMax < c.Delivery.RetryMin {
		return errors.New("delivery.retry_max: must not be below delivery.retry_min")
	}
	if c.Delivery.Workers < 1 || c.Delivery.Workers > 4096 {
		return fmt.Errorf("delivery.workers: %d, want 1..4096", c.Delivery.Workers)
	}
	if c.Store.QuotaBytes < 1<<20 {
		return fmt.Errorf("store.quota: %d bytes is below 1MiB", c.Store.QuotaBytes)
	}
	if c.Store.DiskFloor < 0 || c.Store.DiskFloor > 90 {
		return fmt.Errorf("store.disk_floor_percent: %d, want 0..90", c.Store.DiskFloor)
	}
	if c.Store.MaxPreprocess < 1 || c.Store.MaxPreprocess > 1<<20 {
		return fmt.Errorf("store.max_preprocess: %d, want 1..1048576", c.Store.MaxPreprocess)
	}
	if c.Store.MaxDevices < 1 || c.Store.MaxDevices > 1<<20 {
		return fmt.Errorf("store.max_devices: %d, want 1..1048576", c.Store.MaxDevices)
	}
	if c.Limits.MaxBody < 1<<10 || c.Limits.MaxBody > 1<<30 {
		return fmt.Errorf("limits.max_body: %d bytes, want 1KiB..1GiB", c.Limits.MaxBody)
	}
	if c.Limits.MaxFiles < 1 || c.Limits.MaxFiles > 1024 {
		return fmt.Errorf("limits.max_files: %d, want 1..1024", c.Limits.MaxFiles)
	}
	if c.Limits.MaxField < 1<<10 {
		return fmt.Errorf("limits.max_field: %d bytes is below 1KiB", c.Limits.MaxField)
	}
	if c.Limits.MaxForm < 1<<10 || c.Limits.MaxForm > 1<<20 {
		return fmt.Errorf("limits.max_form: %d bytes, want 1KiB..1MiB", c.Limits.MaxForm)
	}
	if c.Limits.MaxField > c.Limits.MaxForm {
		return fmt.Errorf("limits.max_field: %d bytes is more than limits.max_form (%d): no form could carry it", c.Limits.MaxField, c.Limits.MaxForm)
	}
	if c.Limits.MaxArgs < 8 || c.Limits.MaxArgs > 4096 {
		return fmt.Errorf("limits.max_args: %d, want 8..4096", c.Limits.MaxArgs)
	}
	if c.Limits.BodyBudget < c.Limits.MaxBody+64<<10 || c.Limits.BodyBudget > 4<<30 {
		return fmt.Errorf("limits.body_budget: %d bytes, want at least limits.max_body + 64KiB (%d, one largest upload) and at most 4GiB", c.Limits.BodyBudget, c.Limits.MaxBody+64<<10)
	}
	if c.Limits.BodyWait.D() < 0 || c.Limits.BodyWait.D() > time.Minute {
		return fmt.Errorf("limits.body_wait: %s, want 0..1m", c.Limits.BodyWait.D())
	}
	if c.Limits.MaxConnsPerIP < 1 || c.Limits.MaxConnsPerIP > 65536 {
		return fmt.Errorf("limits.max_conns_per_ip: %d, want 1..65536", c.Limits.MaxConnsPerIP)
	}
	if c.Limits.Concurrency < 1 || c.Limits.Concurrency > 65536 {
		return fmt.Errorf("limits.concurrency: %d, want 1..65536", c.Limits.Concurrency)
	}
	for _, h := range c.HostNames {
		if h == "" || len(h) > 253 || strings.ContainsAny(h, " /:@[]") {
			return fmt.Errorf("host_names: %q is not a host name", h)
		}
	}
	if c.Admin.PasswordHash != "" && !strings.HasPrefix(c.Admin.PasswordHash, "$2") {
		return errors.New("admin.password_hash: not a bcrypt hash (make one with `multimsg passwd`)")
	}
	services := map[string]bool{"mail": true, "wpp1": true, "sms": true}
	for _, s := range []struct {
		name string
		c    ServiceCommon
	}{{"mail", c.Mail.ServiceCommon}, {"wpp1", c.Wpp1.ServiceCommon}, {"sms", c.SMS.ServiceCommon}} {
		for i, f := range s.c.Fallback {
			if !services[f] || f == s.name {
				return fmt.Errorf("%s.fallback[%d]: %q is not another service (mail, wpp1, sms)", s.name, i, f)
			}
		}
	}
	names := func(svc string, i int, name string, seen map[string]bool) error {
		if name == "" {
			return fmt.Errorf("%s.sender[%d].name: must not be empty", svc, i)
		}
		if seen[name] {
			return fmt.Errorf("%s.sender[%d].name: %q is used twice", svc, i, name)
		}
		seen[name] = true
		return nil
	}
	seen := map[string]bool{}
	for i, s := range c.Mail.Sender {
		if err := names("mail", i, s.Name, seen); err != nil {
			return err
		}
		k := fmt.Sprintf("mail.sender[%d]", i)
		if s.Maildir == "" {
			if s.Host == "" {
				return fmt.Errorf("%s.host: must be set (or maildir)", k)
			}
			if s.Port < 1 || s.Port > 65535 {
				return fmt.Errorf("%s.port: %d out of range", k, s.Port)
			}
		}
		switch s.TLS {
		case "none", "starttls", "tls":
		default:
			return fmt.Errorf("%s.tls: %q, want none, starttls or tls", k, s.TLS)
		}
		if s.Concurrency < 0 || s.Rate < 0 {
			return fmt.Errorf("%s: concurrency and rate must not be negative", k)
		}
	}
	seen = map[string]bool{}
	for i, s := range c.Wpp1.Sender {
		if err := names("wpp1", i, s.Name, seen); err != nil {
			return err
		}
		k := fmt.Sprintf("wpp1.sender[%d]", i)
		if !strings.HasPrefix(s.APIURL, "http://") && !strings.HasPrefix(s.APIURL, "https://") {
			return fmt.Errorf("%s.api_url: %q is not an http(s) URL", k, s.APIURL)
		}
		if s.PhoneNumberID == "" || s.Token == "" {
			return fmt.Errorf("%s: phone_number_id and token must be set", k)
		}
		if s.Rate < 0 || s.Rate > 80 {
			return fmt.Errorf("%s.rate: %v, want 0..80 messages/s (the Cloud API's limit)", k, s.Rate)
		}
	}
	seen = map[string]bool{}
	for i, s := range c.SMS.Sender {
		if err := names("sms", i, s.Name, seen); err != nil {
			return err
		}
		k := fmt.Sprintf("sms.sender[%d]", i)
		if s.Device == "" {
			return fmt.Errorf("%s.device: must be set (e.g. /dev/serial/by-id/...)", k)
		}
		if s.Timeout < 0 || s.SendTimeout < 0 || s.HealthEvery < 0 || s.PowerTimeout < 0 {
			return fmt.Errorf("%s: timeout, send_timeout, health_every and power_timeout must not be negative", k)
		}
		if s.Segments < 1 || s.Segments > 255 {
			return fmt.Errorf("%s.segments: %d, want 1..255", k, s.Segments)
		}
		if p := s.PollEvery.D(); p < 0 || (p > 0 && p < 10*time.Second) || p > 24*time.Hour {
			return fmt.Errorf("%s.poll_every: %s, want 10s..24h (0: the default, 5m)", k, p)
		}
		if s.PIN != "" {
			if _, err := strconv.Atoi(s.PIN); err != nil || len(s.PIN) < 4 || len(s.PIN) > 8 {
				return fmt.Errorf("%s.pin: must be 4 to 8 digits", k)
			}
		}
	}
	return c.validateSMTPIn()
}

func (c *Config) validateSMTPIn() error {
	m := &c.SMTPIn
	if m.Listen != "" {
		if _, _, err := net.SplitHostPort(m.Listen); err != nil {
			return fmt.Errorf("smtp_in.listen: %q is not host:port (%v); \"\" turns the listener off", m.Listen, err)
		}
	}
	if m.MaxSize < 1<<10 || m.MaxSize > 1<<30 {
		return fmt.Errorf("smtp_in.max_size: %d bytes, want 1KiB..1GiB", m.MaxSize)
	}
	if m.MaxRecipients < 1 || m.MaxRecipients > 1000 {
		return fmt.Errorf("smtp_in.max_recipients: %d, want 1..1000", m.MaxRecipients)
	}
	if m.Rate < 0 || m.Burst < 1 {
		return errors.New("smtp_in: rate must not be negative and burst must be at least 1")
	}
	if m.MaxConns < 1 || m.MaxConns > 4096 {
		return fmt.Errorf("smtp_in.max_conns: %d, want 1..4096", m.MaxConns)
	}
	switch m.Auth {
	case "off", "optional", "required":
	default:
		return fmt.Errorf("smtp_in.auth: %q, want off, optional or required", m.Auth)
	}
	if m.Auth == "required" && len(m.Users) == 0 {
		return errors.New("smtp_in.auth: \"required\" needs at least one [[smtp_in.user]]")
	}
	seen := map[string]bool{}
	for i, u := range m.Users {
		k := fmt.Sprintf("smtp_in.user[%d]", i)
		if u.Name == "" || seen[u.Name] {
			return fmt.Errorf("%s.name: empty or used twice", k)
		}
		seen[u.Name] = true
		if !strings.HasPrefix(u.PasswordHash, "$2") {
			return fmt.Errorf("%s.password_hash: not a bcrypt hash (make one with `multimsg passwd`)", k)
		}
		if u.MAC != "" {
			hw, err := net.ParseMAC(u.MAC)
			if err != nil || len(hw) != 6 {
				return fmt.Errorf("%s.mac: %q is not a MAC address like aa:bb:cc:dd:ee:ff", k, u.MAC)
			}
			m.Users[i].MAC = hw.String()
		}
	}
	services := map[string]bool{"mail": true, "wpp1": true, "sms": true}
	for name, ts := range m.Aliases {
		if !strings.Contains(name, "@") {
			return fmt.Errorf("smtp_in.aliases: %q: name an alias as an address, e.g. \"oncall@box\"", name)
		}
		if len(ts) == 0 {
			return fmt.Errorf("smtp_in.aliases.%q: no targets", name)
		}
		for i, t := range ts {
			svc, dest, ok := strings.Cut(t, ":")
			if !ok || !services[svc] || dest == "" {
				return fmt.Errorf("smtp_in.aliases.%q[%d]: %q, want service:destination with service mail, wpp1 or sms", name, i, t)
			}
		}
	}
	for svc, t := range m.Text {
		if !services[svc] {
			return fmt.Errorf("smtp_in.text.%s: not a service (mail, wpp1, sms)", svc)
		}
		switch t.Content {
		case "", "subject+body", "subject", "body":
		default:
			return fmt.Errorf("smtp_in.text.%s.content: %q, want subject+body, subject or body", svc, t.Content)
		}
		if t.MaxChars < 0 {
			return fmt.Errorf("smtp_in.text.%s.max_chars: must not be negative", svc)
		}
	}
	return nil
}

// Duration is a time.Duration written as a string in TOML ("24h", "2m", "500ms").
type Duration time.Duration

// UnmarshalText parses a Go duration, with "d" allowed for days ("7d").
func (d *Duration) UnmarshalText(b []byte) error {
	s := string(b)
	if strings.HasSuffix(s, "d") {
		n, err := strconv.ParseFloat(strings.TrimSuffix(s, "d"), 64)
		if err != nil {
			return fmt.Errorf("bad duration %q", s)
		}
		*d = Duration(n * float64(24*time.Hour))
		return nil
	}
	x, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("bad duration %q (want e.g. \"90s\", \"2m\", \"24h\", \"7d\")", s)
	}
	*d = Duration(x)
	return nil
}

// MarshalText writes the duration back.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Size is a byte count written as an integer or with a unit ("256MiB", "32MB", "64KiB").
type Size int64

// UnmarshalTOML accepts an integer or a string with a unit.
func (s *Size) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		*s = Size(x)
		return nil
	case string:
		n, err := ParseSize(x)
		if err != nil {
			return err
		}
		*s = Size(n)
		return nil
	}
	return fmt.Errorf("bad size %v (want bytes or e.g. \"256MiB\")", v)
}

// ParseSize parses "256MiB", "32MB", "64KiB", "1024".
func ParseSize(x string) (int64, error) {
	units := []struct {
		suf string
		m   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"kB", 1e3}, {"B", 1}}
	t := strings.TrimSpace(x)
	mul := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suf) {
			t, mul = strings.TrimSpace(strings.TrimSuffix(t, u.suf)), u.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q (want bytes or e.g. \"256MiB\")", x)
	}
	return n * mul, nil
}

func (u Update) validate(dataDir string) error {
	if !filepath.IsAbs(u.SpoolDir) {
		return fmt.Errorf("update.spool_dir: %q must be an absolute path (a tmpfs such as /run/multimsg/update)", u.SpoolDir)
	}
	if dataDir != "" {
		if rel, err := filepath.Rel(filepath.Clean(dataDir), filepath.Clean(u.SpoolDir)); err == nil && !strings.HasPrefix(rel, "..") {
			return fmt.Errorf("update.spool_dir: %s is inside data_dir %s: bundles must never fill the data partition both slots share", u.SpoolDir, dataDir)
		}
	}
	if u.MaxBundle < 1<<20 || u.MaxBundle > 4<<30 {
		return fmt.Errorf("update.max_bundle: %d bytes, want 1MiB..4GiB", u.MaxBundle)
	}
	return nil
}
