package whatsapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"path"
	"strings"
	"unicode/utf8"

	"multimsg/provider"
)

// Limits of the Cloud API that Check enforces, so that a request WhatsApp would refuse for its
// shape is refused at /msg (400) instead of failing at send time.
const (
	// MaxTextChars: text.body of a text message, in characters.
	MaxTextChars = 4096
	// MaxCaptionChars: caption of an image, video or document message.
	MaxCaptionChars = 1024
	// MaxTemplateParamChars: one body parameter of a template (a template body is at most 1024).
	MaxTemplateParamChars = 1024
	// MaxTemplateParams: body parameters per template we accept from one text file.
	MaxTemplateParams = 100
	// MaxFilenameBytes: the document filename we pass on.
	MaxFilenameBytes = 240
)

// Media WhatsApp accepts, per message type: MIME types and size limits from Meta's "Supported
// media types" (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types).
// Meta writes the limits as "5 MB", "16 MB", "100 MB"; we read them as decimal megabytes, the
// stricter reading, so that nothing Check accepts is over the limit under either one.
type mediaKind struct {
	maxBytes int64
	mimes    []string
	caption  bool
}

var mediaKinds = map[string]mediaKind{
	"image": {5_000_000, []string{"image/jpeg", "image/png"}, true},
	"audio": {16_000_000, []string{"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}, false},
	"video": {16_000_000, []string{"video/mp4", "video/3gpp"}, true},
	"document": {100_000_000, []string{
		"text/plain", "application/pdf",
		"application/msword", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/vnd.ms-excel", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"application/vnd.ms-powerpoint", "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	}, true},
}

// mimeAliases maps what clients send to the name Meta lists.
var mimeAliases = map[string]string{
	"image/jpg":         "image/jpeg",
	"image/pjpeg":       "image/jpeg",
	"audio/mp3":         "audio/mpeg",
	"audio/x-m4a":       "audio/mp4",
	"audio/m4a":         "audio/mp4",
	"audio/x-aac":       "audio/aac",
	"audio/opus":        "audio/ogg",
	"video/3gp":         "video/3gpp",
	"application/x-pdf": "application/pdf",
}

// extMIME is our own table (Buildroot images often have no /etc/mime.types, and the standard
// library's built-in table lacks most of these).
var extMIME = map[string]string{
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
	".aac": "audio/aac", ".amr": "audio/amr", ".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".ogg": "audio/ogg", ".opus": "audio/ogg",
	".mp4": "video/mp4", ".3gp": "video/3gpp",
	".txt": "text/plain", ".pdf": "application/pdf",
	".doc": "application/msword", ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xls": "application/vnd.ms-excel", ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".ppt": "application/vnd.ms-powerpoint", ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}

// mediaMIME decides the MIME type a media file is uploaded with: the part's Content-Type when it
// names one, else the file name's extension, else the content's signature.
func mediaMIME(f provider.File) string {
	mt, _, _ := mime.ParseMediaType(f.MIME)
	mt = strings.ToLower(mt)
	if a, ok := mimeAliases[mt]; ok {
		mt = a
	}
	if mt != "" && mt != "application/octet-stream" {
		return mt
	}
	name := f.Filename
	if name == "" {
		name = f.Name
	}
	if m, ok := extMIME[strings.ToLower(path.Ext(name))]; ok {
		return m
	}
	mt, _, _ = mime.ParseMediaType(http.DetectContentType(f.Data))
	if a, ok := mimeAliases[mt]; ok {
		mt = a
	}
	return mt
}

// templateName reports whether s is a template name as Meta takes it: 1 to 512 of a–z, 0–9
// and _. A loop, not a regexp: `{1,512}` compiles into 512 states, 2–2.5 ms and 365 KB at
// every start of the binary (issue 19).
func templateName(s string) bool {
	if len(s) == 0 || len(s) > 512 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// languageCode reports whether s is a template language code: 2–3 lower-case letters, then
// optionally _ and 2–4 letters (en, es, en_US, zh_Hant).
func languageCode(s string) bool {
	lang, region, hasRegion := strings.Cut(s, "_")
	if len(lang) < 2 || len(lang) > 3 || !letters(lang, false) {
		return false
	}
	return !hasRegion || len(region) >= 2 && len(region) <= 4 && letters(region, true)
}

func letters(s string, upperToo bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || upperToo && c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// ParamMode says how a text file becomes a template's body parameters.
type ParamMode string

const (
	// ParamsText: the whole text is the single body parameter {{1}} (the default).
	ParamsText ParamMode = "text"
	// ParamsLines: each line of the text is one body parameter, in order: {{1}}, {{2}}, ...
	ParamsLines ParamMode = "lines"
	// ParamsNone: the template has no body parameters; the text file only triggers it.
	ParamsNone ParamMode = "none"
)

// UnmarshalJSON takes "text", "lines", "none", or true (= text) / false (= none).
func (m *ParamMode) UnmarshalJSON(b []byte) error {
	switch string(bytes.TrimSpace(b)) {
	case "true":
		*m = ParamsText
		return nil
	case "false":
		*m = ParamsNone
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`params must be "text", "lines", "none", true or false`)
	}
	switch ParamMode(s) {
	case ParamsText, ParamsLines, ParamsNone:
		*m = ParamMode(s)
		return nil
	}
	return fmt.Errorf(`params %q: want "text", "lines" or "none"`, s)
}

// Template is info.template: send text files as this approved template instead of free text,
// which WhatsApp only allows inside the 24-hour window after the recipient last wrote to us.
//
//	{"template": {"name": "door_alert", "language": "en_US", "params": "lines"}}
type Template struct {
	Name     string    `json:"name"`
	Language string    `json:"language"`
	Params   ParamMode `json:"params,omitempty"`
}

// UnmarshalJSON refuses keys a template does not have, so a typo is an error, not a default.
func (t *Template) UnmarshalJSON(b []byte) error {
	type plain Template
	var p plain
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("template: %v (it takes name, language, params)", err)
	}
	if dec.More() {
		return errors.New("template: trailing data")
	}
	*t = Template(p)
	if t.Params == "" {
		t.Params = ParamsText
	}
	return nil
}

func (t *Template) validate() error {
	if !templateName(t.Name) {
		return provider.Checkf("info", "template.name %q: want the approved template's name (lower-case letters, digits, _)", t.Name)
	}
	if !languageCode(t.Language) {
		return provider.Checkf("info", "template.language %q: want the template's language code, e.g. en_US or es", t.Language)
	}
	return nil
}

// Info is wpp1's info object: {"caption": "...", "template": {...}}.
type Info struct {
	Caption  string    `json:"caption,omitempty"`
	Template *Template `json:"template,omitempty"`
}

// infoKeys are the keys wpp1 takes in info.
var infoKeys = []string{"caption", "template"}

// DecodeInfo decodes and checks wpp1's info; unknown keys are an error naming them.
func DecodeInfo(in provider.Info) (Info, error) {
	var out Info
	var caption *string
	var tmpl *Template
	if err := provider.DecodeInfo(in, infoKeys, map[string]any{"caption": &caption, "template": &tmpl}); err != nil {
		return out, err
	}
	if caption != nil {
		out.Caption = *caption
	}
	if n := utf8.RuneCountInString(out.Caption); n > MaxCaptionChars {
		return out, provider.Checkf("info", "caption has %d characters; WhatsApp takes at most %d", n, MaxCaptionChars)
	}
	if tmpl != nil {
		if err := tmpl.validate(); err != nil {
			return out, err
		}
		out.Template = tmpl
	}
	return out, nil
}

// checkDest: E.164 without the plus, 8 to 15 digits (SPEC §1), and no leading 0 (no country
// code starts with 0; "0049…" is the dialling prefix, not the number).
func checkDest(dest string) error {
	if len(dest) < 8 || len(dest) > 15 {
		return provider.Checkf("dest", "%q: want an international number of 8 to 15 digits, country code first, no + or spaces", clip(dest, 40))
	}
	for i := 0; i < len(dest); i++ {
		if dest[i] < '0' || dest[i] > '9' {
			return provider.Checkf("dest", "%q: digits only (no +, spaces or dashes), country code first", clip(dest, 40))
		}
	}
	if dest[0] == '0' {
		return provider.Checkf("dest", "%q starts with 0: give the country code without the 00 or 0 prefix (e.g. 4915…)", dest)
	}
	return nil
}

// checkText checks a text file as a free-text body.
func checkText(f provider.File) (string, error) {
	if !utf8.Valid(f.Data) {
		return "", provider.Checkf("type", "file %q is not UTF-8 text", f.Name)
	}
	s := string(f.Data)
	if strings.TrimSpace(s) == "" {
		return "", provider.Checkf("type", "file %q is empty; WhatsApp does not send empty text", f.Name)
	}
	if n := utf8.RuneCountInString(s); n > MaxTextChars {
		return "", provider.Checkf("type", "file %q has %d characters; a WhatsApp text takes at most %d (send it as a document instead)", f.Name, n, MaxTextChars)
	}
	return s, nil
}

// templateParams turns a text file into the template's body parameters. WhatsApp refuses a
// parameter with a newline, a tab or more than 4 consecutive spaces, so whitespace runs inside a
// parameter are folded to one space.
func templateParams(t *Template, f provider.File) ([]string, error) {
	if !utf8.Valid(f.Data) {
		return nil, provider.Checkf("type", "file %q is not UTF-8 text", f.Name)
	}
	s := string(f.Data)
	var raw []string
	switch t.Params {
	case ParamsNone:
		return nil, nil
	case ParamsLines:
		s = strings.TrimRight(s, "\r\n")
		raw = strings.Split(s, "\n")
	default:
		raw = []string{s}
	}
	if len(raw) > MaxTemplateParams {
		return nil, provider.Checkf("type", "file %q has %d lines; a template takes at most %d parameters", f.Name, len(raw), MaxTemplateParams)
	}
	out := make([]string, len(raw))
	for i, r := range raw {
		p := strings.Join(strings.Fields(r), " ")
		if p == "" {
			if t.Params == ParamsLines {
				return nil, provider.Checkf("type", "file %q: line %d is empty; each line is one template parameter and WhatsApp refuses empty ones", f.Name, i+1)
			}
			return nil, provider.Checkf("type", "file %q is empty; template %s takes it as its parameter", f.Name, t.Name)
		}
		if n := utf8.RuneCountInString(p); n > MaxTemplateParamChars {
			return nil, provider.Checkf("type", "file %q: template parameter %d has %d characters; at most %d", f.Name, i+1, n, MaxTemplateParamChars)
		}
		out[i] = p
	}
	return out, nil
}

// checkMedia checks an image, audio, video or document file and returns its MIME type.
func checkMedia(f provider.File) (string, error) {
	k, ok := mediaKinds[f.Type]
	if !ok {
		return "", provider.Checkf("type", "wpp1 does not take type %q (file %q)", f.Type, f.Name)
	}
	if len(f.Data) == 0 {
		return "", provider.Checkf("type", "file %q is empty", f.Name)
	}
	if int64(len(f.Data)) > k.maxBytes {
		return "", provider.Checkf("type", "file %q is %d bytes; WhatsApp takes %s files of at most %d bytes", f.Name, len(f.Data), f.Type, k.maxBytes)
	}
	mt := mediaMIME(f)
	found := false
	for _, m := range k.mimes {
		if m == mt {
			found = true
			break
		}
	}
	if !found {
		shown := mt
		if shown == "" {
			shown = "unknown"
		}
		return "", provider.Checkf("type", "file %q is %s; WhatsApp takes %s files as: %s", f.Name, shown, f.Type, strings.Join(k.mimes, ", "))
	}
	if mt == "audio/ogg" && !isOpus(f.Data) {
		return "", provider.Checkf("type", "file %q is Ogg audio without the Opus codec; WhatsApp only takes Opus in Ogg", f.Name)
	}
	return mt, nil
}

// isOpus reports whether an Ogg stream's first page carries an Opus identification header.
func isOpus(b []byte) bool {
	if !bytes.HasPrefix(b, []byte("OggS")) {
		return false
	}
	return bytes.Contains(b[:min(len(b), 512)], []byte("OpusHead"))
}

// documentFilename is the name a document is shown under: the uploaded file name without any
// directory part, else the form field name.
func documentFilename(f provider.File) string {
	name := f.Filename
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(name, ""))
	if strings.TrimSpace(name) == "" {
		name = f.Name
	}
	if len(name) > MaxFilenameBytes {
		ext := path.Ext(name)
		if len(ext) > 16 {
			ext = ""
		}
		name = truncUTF8(name[:len(name)-len(ext)], MaxFilenameBytes-len(ext)) + ext
	}
	return name
}

// check is Driver.Check without the receiver: everything about r WhatsApp would refuse.
func check(r provider.Request) error {
	if err := checkDest(r.Dest); err != nil {
		return err
	}
	info, err := DecodeInfo(r.Info)
	if err != nil {
		return err
	}
	if len(r.Files) == 0 {
		return provider.Checkf("type", "the job has no files")
	}
	var texts, captioned int
	for _, f := range r.Files {
		switch f.Type {
		case "text":
			texts++
			if info.Template != nil {
				if _, err := templateParams(info.Template, f); err != nil {
					return err
				}
				continue
			}
			if _, err := checkText(f); err != nil {
				return err
			}
		default:
			if _, err := checkMedia(f); err != nil {
				return err
			}
			if mediaKinds[f.Type].caption {
				captioned++
			}
		}
	}
	if info.Template != nil && texts == 0 {
		return provider.Checkf("info", "template is sent for text files and this job has none")
	}
	if info.Caption != "" && captioned == 0 {
		return provider.Checkf("info", "caption goes with image, video and document files and this job has none")
	}
	return nil
}
