package gateway

import (
	"fmt"
	"net"
	"os"
	"reflect"
	"slices"
	"strings"

	"multimsg/config"
	"multimsg/identity"
	"multimsg/provider/sms"
	"multimsg/provider/units"
	"multimsg/setting"
	"multimsg/settings"
)

// Config is the configuration the gateway runs with now (the start's, or the last Reload's).
// Its service tables are shared with the gateway: change a copy (settings.Copy).
func (g *Gateway) Config() config.Config { return *g.cur.Load() }

// Reload applies next to the running gateway without a restart and without losing a job
// (docs/DESIGN.md, "Applying settings live"): the services whose tables changed are rebuilt
// while no send is in flight (dispatch.Dispatcher.Swap; queued jobs stay queued), the device
// policy (unknown_device, allow_macs, block_macs, device_names), the ARP watcher's interface (a new table on the
// new one; lan.Switch) and the admin password switch over for the requests that
// follow. Keys that only a start reads (listen, data_dir, limits, …) are reported in
// Applied.Restart and take effect at the next start. next must be valid (config.Validate);
// Reload checks it again and changes nothing if it is not.
func (g *Gateway) Reload(next config.Config) (settings.Applied, error) {
	if err := next.Validate(); err != nil {
		return settings.Applied{}, err
	}
	g.reloadMu.Lock()
	defer g.reloadMu.Unlock()
	if g.stopped {
		return settings.Applied{}, fmt.Errorf("the gateway is stopping")
	}
	prev := g.cur.Load()
	a := settings.Applied{Changed: config.Changed(prev, &next)}
	for _, k := range a.Changed {
		if liveKey(k) {
			a.Live = append(a.Live, k)
		} else {
			a.Restart = append(a.Restart, k)
		}
	}
	if next.Interface != prev.Interface {
		// first: a table that cannot open (the interface went away since Check) changes nothing
		if err := g.neigh.Switch(next.Interface); err != nil {
			return settings.Applied{}, setting.Errorf("interface", "%v", err)
		}
	}
	var err error
	if slices.ContainsFunc(a.Live, serviceKey) {
		err = g.Disp.Swap(changedServices(prev, &next), func() error {
			var rerr error
			a.Rebuilt, rerr = g.replaceServices(prev, &next)
			return rerr
		})
	}
	if g.SIM != nil && slices.Contains(a.Rebuilt, sms.ServiceName) {
		if d, merr := g.modem(next.SIM.Sender); merr == nil {
			d.NotifyReady(g.SIM.Ready) // the credit watch hears the new modem's registration
		}
	}
	g.id.SetPolicy(policy(&next))
	if next.Admin.PasswordHash != prev.Admin.PasswordHash {
		h, herr := adminHash(next, os.Stderr, g.log) // empty: the hash made on first start
		if herr == nil {
			g.admin.SetHash(h)
		} else if err == nil {
			err = herr
		}
	}
	g.cur.Store(&next)
	g.log.Info("settings applied", "changed", strings.Join(a.Changed, ","), "rebuilt", strings.Join(a.Rebuilt, ","),
		"at_next_start", strings.Join(a.Restart, ","))
	return a, err
}

// changedServices are the services whose tables differ between prev and next: those Reload
// rebuilds (replaceServices), whose sends in flight a Swap may interrupt.
func changedServices(prev, next *config.Config) []string {
	var out []string
	for _, u := range units.All() {
		if !reflect.DeepEqual(prev.Service(u.Name), next.Service(u.Name)) {
			out = append(out, u.Name)
		}
	}
	return out
}

// liveKey says whether a change of key is applied by Reload.
func liveKey(k string) bool {
	switch k {
	case "allow_macs", "block_macs", "device_names", "unknown_device", "admin.password_hash", "interface":
		return true
	}
	// What the modems receive is read by the inbox, built at start (gateway/inbound.go).
	for _, p := range []string{"sms.inbound", "sms.inbox", "sms.report_wait"} {
		if k == p || strings.HasPrefix(k, p+".") || strings.HasPrefix(k, p+"[") {
			return false
		}
	}
	return serviceKey(k)
}

// serviceKey says whether key is in a service's table ("mail", "mail.sender[0].port").
func serviceKey(k string) bool {
	for _, u := range units.All() {
		if k == u.Name || strings.HasPrefix(k, u.Name+".") {
			return true
		}
	}
	return false
}

// policy is the device policy of cfg (SPEC §3; MACs as config.Validate wrote them).
func policy(cfg *config.Config) identity.Policy {
	return identity.NewPolicy(cfg.UnknownDevice == "ip", cfg.AllowMACs, cfg.BlockMACs, cfg.DeviceNames)
}

// Check tells what only the running box can: the ARP interface must be one it has
// (settings.Applier). A start on a missing one fails, so the page must not save it.
func (g *Gateway) Check(next *config.Config) error {
	if next.Interface == "" || next.Interface == g.Config().Interface {
		return nil
	}
	if _, err := net.InterfaceByName(next.Interface); err != nil {
		var names []string
		if ifs, ierr := net.Interfaces(); ierr == nil {
			for _, i := range ifs {
				names = append(names, i.Name)
			}
		}
		return setting.Errorf("interface", "this box has no interface %q (it has: %s)", next.Interface, strings.Join(names, ", "))
	}
	return nil
}

// Live says whether a change of key is applied without a restart (settings.Applier).
func (g *Gateway) Live(key string) bool { return liveKey(key) }
