package provider

import (
	"encoding/json"
	"fmt"
	"mime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
)

// Registry is the set of services this box knows. Its services can be replaced at runtime
// (Replace, the settings page and SIGHUP): every holder of the *Registry (web, mailin, the
// dispatcher) sees the new set at once, and a reader gets either the old set or the new one.
type Registry struct {
	cur atomic.Pointer[services]
}

// services is one immutable set of services.
type services struct {
	byName map[string]*Service
	names  []string
}

// NewRegistry checks the services (unique names, known fallbacks) and indexes them.
func NewRegistry(svcs ...*Service) (*Registry, error) {
	r := &Registry{}
	if err := r.Replace(svcs...); err != nil {
		return nil, err
	}
	return r, nil
}

// Replace checks svcs as NewRegistry does and makes them the registry's services; on an error
// the registry keeps the ones it had. Sending on the old services' drivers is the caller's to
// stop first (dispatch.Dispatcher.Swap).
func (r *Registry) Replace(svcs ...*Service) error {
	t := &services{byName: make(map[string]*Service)}
	for _, s := range svcs {
		if _, dup := t.byName[s.Name]; dup {
			return fmt.Errorf("provider: service %q registered twice", s.Name)
		}
		seen := map[string]bool{}
		for _, snd := range s.Senders {
			if snd.Name == "" || seen[snd.Name] {
				return fmt.Errorf("provider: service %q: sender names must be unique and non-empty (%q)", s.Name, snd.Name)
			}
			seen[snd.Name] = true
		}
		t.byName[s.Name] = s
		t.names = append(t.names, s.Name)
	}
	sort.Strings(t.names)
	for _, s := range svcs {
		for _, f := range s.Fallback {
			if _, ok := t.byName[f]; !ok || f == s.Name {
				return fmt.Errorf("provider: service %q: fallback %q is not another known service", s.Name, f)
			}
		}
	}
	r.cur.Store(t)
	return nil
}

// Names lists the services, sorted.
func (r *Registry) Names() []string { return r.cur.Load().names }

// Service returns the named service.
func (r *Registry) Service(name string) (*Service, error) {
	t := r.cur.Load()
	s, ok := t.byName[name]
	if !ok {
		return nil, &CheckError{Field: "serv", Msg: "unknown service " + quote(name) + "; this box knows: " + join(t.names), Err: ErrUnknownService}
	}
	return s, nil
}

// Params are /msg's parameters, decoded but not yet checked.
type Params struct {
	Service string
	Sender  string
	Dest    string
	Types   map[string]string // file name (field name or unique uploaded name) → type
	Info    Info
}

// Resolve checks p against the job's files and the service, and returns the files with their
// types set (in upload order) and the sender chosen. It is everything /msg refuses with 400.
func (r *Registry) Resolve(p Params, files []File) ([]File, *Service, *Sender, error) {
	s, err := r.Service(p.Service)
	if err != nil {
		return nil, nil, nil, err
	}
	snd, err := s.Sender(p.Sender)
	if err != nil {
		return nil, nil, nil, err
	}
	typed, err := applyTypes(s, p.Types, files)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := snd.Driver.Check(Request{Dest: p.Dest, Files: typed, Info: p.Info}); err != nil {
		return nil, nil, nil, err
	}
	return typed, s, snd, nil
}

// applyTypes gives each file its type from types, which is keyed by field name or by an
// uploaded file name that is unique in the job. A nil types map infers them (POST /send).
func applyTypes(s *Service, types map[string]string, files []File) ([]File, error) {
	out := make([]File, len(files))
	copy(out, files)
	if types == nil {
		for i := range out {
			t, err := inferType(s, out[i], len(out))
			if err != nil {
				return nil, err
			}
			out[i].Type = t
		}
		return out, nil
	}
	byName := map[string]int{}
	for i, f := range out {
		byName[f.Name] = i
	}
	byUpload := map[string]int{}
	for i, f := range out {
		if f.Filename == "" {
			continue
		}
		if _, taken := byName[f.Filename]; taken {
			continue
		}
		if _, dup := byUpload[f.Filename]; dup {
			byUpload[f.Filename] = -1
			continue
		}
		byUpload[f.Filename] = i
	}
	keys := make([]string, 0, len(types))
	for k := range types {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	set := make([]bool, len(out))
	for _, k := range keys {
		i, ok := byName[k]
		if !ok {
			i, ok = byUpload[k]
			if ok && i < 0 {
				return nil, Checkf("type", "file name %s is not unique in this job; use the form field name", quote(k))
			}
		}
		if !ok {
			return nil, Checkf("type", "type given for file %s, which this job does not have; its files: %s", quote(k), join(fileNames(out)))
		}
		if set[i] {
			return nil, Checkf("type", "file %s is given a type twice", quote(out[i].Name))
		}
		t := types[k]
		if !s.Takes(t) {
			return nil, Checkf("type", "service %s does not take type %s (file %s); it takes: %s", s.Name, quote(t), quote(k), join(s.Types))
		}
		out[i].Type = t
		set[i] = true
	}
	for i, ok := range set {
		if !ok {
			return nil, Checkf("type", "file %s has no type; give every file a type (service %s takes: %s)", quote(out[i].Name), s.Name, join(s.Types))
		}
	}
	return out, nil
}

// inferType picks a type for a file when /send gave none, by TypeFor.
func inferType(s *Service, f File, n int) (string, error) {
	if t, ok := TypeFor(s.Types, f.MIME, f.Filename, n); ok {
		return t, nil
	}
	mt, _, _ := mime.ParseMediaType(f.MIME)
	return "", Checkf("type", "cannot tell the type of file %s (content type %s) for service %s; give type as a JSON object", quote(f.Name), quote(mt), s.Name)
}

// TypeFor is the one rule for the type of a file that was given none, used by the box (POST
// /send) and by the client (multimsg send): the only type of a one-type service; else by the
// content type, or the file name's extension when that says nothing: html is the body where
// the service takes html, plain text the text, media their own kind, the rest a document or an
// attachment. A file with no content type at all is the text when it is the job's only file
// (n = 1). types are the service's; false: none of them fits.
func TypeFor(types []string, contentType, filename string, n int) (string, bool) {
	if len(types) == 1 {
		return types[0], true
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "" || mt == "application/octet-stream" {
		mt, _, _ = mime.ParseMediaType(mime.TypeByExtension(extOf(filename)))
	}
	major, _, _ := strings.Cut(mt, "/")
	var cands []string
	switch {
	case mt == "text/html":
		cands = []string{"html", "document", "file"}
	case mt == "text/plain" || (mt == "" && n == 1):
		cands = []string{"text"}
	case major == "image" || major == "audio" || major == "video":
		cands = []string{major, "file"}
	default:
		cands = []string{"document", "file"}
	}
	for _, c := range cands {
		for _, t := range types {
			if c == t {
				return c, true
			}
		}
	}
	return "", false
}

func extOf(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i:]
	}
	return ""
}

func fileNames(fs []File) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}

func quote(s string) string { return strconv.Quote(s) }

func join(xs []string) string {
	if len(xs) == 0 {
		return "(none)"
	}
	return strings.Join(xs, ", ")
}

// DecodeInfo checks info's keys against allowed, the keys the service takes (an unknown key is
// a CheckError naming it and the allowed ones), then decodes the value of each key in dst into
// the pointer dst maps it to (a value of the wrong JSON type is a CheckError naming the key).
// Keys allowed but absent leave their pointer untouched.
func DecodeInfo(info Info, allowed []string, dst map[string]any) error {
	var unknown []string
	for k := range info {
		found := false
		for _, a := range allowed {
			if a == k {
				found = true
				break
			}
		}
		if !found {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return Checkf("info", "unknown key(s) %s; this service takes: %s", join(unknown), join(allowed))
	}
	for k, ptr := range dst {
		raw, ok := info[k]
		if !ok {
			continue
		}
		if err := json.Unmarshal(raw, ptr); err != nil {
			return Checkf("info", "key %s: %v", quote(k), err)
		}
	}
	return nil
}
