package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// The admin sees the store's footprint (issue 12) in the JSON, the page and /metrics, and
// compacts the file with POST /admin/api/compact (session + CSRF).
func TestAdminSpaceAndCompact(t *testing.T) {
	b := startBox(t, "")
	id := b.send("relay", "ops@example.com", "boiler 3 pressure high")
	b.waitFor("the job to be delivered", func() bool { return b.state(id) == "delivered" })
	st := b.status()
	if st.Store.FileBytes <= 0 || st.Store.InUse <= 0 || st.Store.InUse > st.Store.FileBytes || st.Store.Headroom <= 0 {
		t.Fatalf("store status = %+v, want file, pages in use and headroom", st.Store)
	}
	cookie := b.login()
	page := b.do("GET", "/admin", nil, "Cookie", cookie)
	if !strings.Contains(page.body, `data-k="headroom"`) {
		t.Errorf("the page shows no headroom")
	}
	if r := b.do("POST", "/admin/api/compact", form(), "Content-Type", formCT, "Cookie", cookie); r.code != http.StatusForbidden {
		t.Errorf("compact without the CSRF token = %d, want 403", r.code)
	}
	r := b.do("POST", "/admin/api/compact", form("csrf", csrfOf(t, page.body)), "Content-Type", formCT, "Cookie", cookie, "Accept", "application/json")
	var out map[string]string
	if r.code != 200 || json.Unmarshal([]byte(r.body), &out) != nil || out["after_bytes"] == "" {
		t.Fatalf("compact = %d %s, want 200 with the sizes", r.code, r.body)
	}
	if got := b.state(id); got != "delivered" {
		t.Fatalf("job after compaction: %q, want delivered", got)
	}
	m := b.do("GET", "/metrics", nil, "Authorization", basic(testPassword))
	for _, name := range []string{"multimsg_store_in_use_bytes", "multimsg_store_free_in_file_bytes", "multimsg_store_headroom_bytes", "multimsg_disk_floor_bytes", "multimsg_store_file_alloc_bytes"} {
		if !strings.Contains(m.body, name+" ") {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}
