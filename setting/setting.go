// Package setting describes a table of settings from the struct tags of the Go struct that holds
// it, so that an option is one field with its tag, and the description a settings page renders
// is the same one the configuration is defaulted and checked by:
//
//	Port int `toml:"port" setting:"label=Port,default=25,min=1,max=65535"`
//
// The setting tag is a comma-separated list; help= comes last and takes the rest of the tag:
//
//	label=Text       what a form shows (default: the TOML key)
//	default=V        the value a zero field gets (lists: a|b)
//	min=V, max=V     bounds of a number, a Duration ("1s") or a Size ("1KiB")
//	positive         a number or Duration must be above zero
//	required         a string or list must not be empty
//	choices=a|b      the values a string (or each element of a list) may take; a leading | allows ""
//	secret           a password or token: a page shows it masked, logs never print it
//	help=Text        one sentence for the page
//
// Rules that involve more than one field are a method Validate() error on the struct; an error
// it returns as *Error names a key relative to that struct. Check prefixes keys, so every error
// names its full key ("mail.sender[0].port") and a page can show it next to its field.
package setting

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Kind is what sort of value a field holds.
type Kind string

// The kinds of fields.
const (
	String   Kind = "string"
	Int      Kind = "int"
	Float    Kind = "float"
	Bool     Kind = "bool"
	Dur      Kind = "duration"
	ByteSize Kind = "size"
	List     Kind = "list"   // a list of strings
	Map      Kind = "map"    // a table of free keys, checked by Validate
	Table    Kind = "table"  // a nested table: Fields
	Tables   Kind = "tables" // an array of tables ([[sender]]): Fields describes one element
)

// Field describes one setting.
type Field struct {
	Key      string // the TOML key within its table: "port"
	Label    string
	Kind     Kind
	Default  string // as the tag writes it; "" when none
	Min, Max string // as the tag writes them; "" when unbounded
	Positive bool
	Required bool
	Choices  []string
	Secret   bool
	Help     string
	Repeated bool    // Kind Tables
	Fields   []Field // Kind Table and Tables
}

// Error is a setting that is not acceptable, named by its full key.
type Error struct {
	Key string // "mail.sender[0].port"; "" for the table as a whole
	Msg string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return e.Msg
	}
	return e.Key + ": " + e.Msg
}

// Errorf makes an *Error for key.
func Errorf(key, format string, args ...any) *Error {
	return &Error{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Prefix returns err with its key under prefix ("mail" + "sender[0].port"); any other error
// becomes an *Error for prefix itself.
func Prefix(prefix string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		return &Error{Key: prefix, Msg: err.Error()}
	}
	return &Error{Key: join(prefix, e.Key), Msg: e.Msg}
}

func join(prefix, key string) string {
	switch {
	case prefix == "":
		return key
	case key == "":
		return prefix
	case strings.HasPrefix(key, "["):
		return prefix + key
	}
	return prefix + "." + key
}

// Validator is a struct with rules across its fields; Check calls it after the fields' own.
type Validator interface {
	Validate() error
}

var (
	durationType = reflect.TypeOf(Duration(0))
	sizeType     = reflect.TypeOf(Size(0))
)

// field is one struct field with its parsed tag.
type field struct {
	Field
	index []int
}

// fieldsOf lists t's settings: fields with a toml key, embedded structs flattened.
func fieldsOf(t reflect.Type) ([]field, error) {
	var out []field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		key, _, _ := strings.Cut(sf.Tag.Get("toml"), ",")
		if sf.Anonymous && key == "" && sf.Type.Kind() == reflect.Struct {
			inner, err := fieldsOf(sf.Type)
			if err != nil {
				return nil, err
			}
			for _, f := range inner {
				f.index = append([]int{i}, f.index...)
				out = append(out, f)
			}
			continue
		}
		if key == "" || key == "-" || !sf.IsExported() {
			continue
		}
		f, err := parseTag(key, sf.Type, sf.Tag.Get("setting"))
		if err != nil {
			return nil, fmt.Errorf("setting: %s.%s: %w", t.Name(), sf.Name, err)
		}
		f.index = []int{i}
		out = append(out, f)
	}
	return out, nil
}

func kindOf(t reflect.Type) (Kind, error) {
	switch {
	case t == durationType:
		return Dur, nil
	case t == sizeType:
		return ByteSize, nil
	}
	switch t.Kind() {
	case reflect.String:
		return String, nil
	case reflect.Int, reflect.Int64, reflect.Int32:
		return Int, nil
	case reflect.Float64:
		return Float, nil
	case reflect.Bool:
		return Bool, nil
	case reflect.Map:
		return Map, nil
	case reflect.Struct:
		return Table, nil
	case reflect.Slice:
		switch t.Elem().Kind() {
		case reflect.String:
			return List, nil
		case reflect.Struct:
			return Tables, nil
		}
	}
	return "", fmt.Errorf("type %s is not a setting", t)
}

func parseTag(key string, t reflect.Type, tag string) (field, error) {
	k, err := kindOf(t)
	if err != nil {
		return field{}, err
	}
	f := field{Field: Field{Key: key, Label: key, Kind: k, Repeated: k == Tables}}
	for tag != "" {
		var item string
		if strings.HasPrefix(tag, "help=") {
			item, tag = tag, ""
		} else {
			item, tag, _ = strings.Cut(tag, ",")
		}
		name, val, _ := strings.Cut(item, "=")
		switch name {
		case "label":
			f.Label = val
		case "default":
			f.Default = val
		case "min":
			f.Min = val
		case "max":
			f.Max = val
		case "choices":
			f.Choices = strings.Split(val, "|")
		case "help":
			f.Help = val
		case "secret":
			f.Secret = true
		case "required":
			f.Required = true
		case "positive":
			f.Positive = true
		default:
			return field{}, fmt.Errorf("unknown tag item %q", item)
		}
	}
	for _, b := range []string{f.Min, f.Max} {
		if b == "" {
			continue
		}
		if _, err := number(k, b); err != nil {
			return field{}, fmt.Errorf("bound %q: %w", b, err)
		}
	}
	if f.Default != "" {
		if err := set(reflect.New(t).Elem(), k, f.Default); err != nil {
			return field{}, fmt.Errorf("default %q: %w", f.Default, err)
		}
	}
	switch k {
	case Table:
		sub, err := Describe(t)
		f.Fields = sub
		return f, err
	case Tables:
		sub, err := Describe(t.Elem())
		f.Fields = sub
		return f, err
	}
	return f, nil
}

// Describe lists the settings of struct type t; it fails on a tag it cannot read.
func Describe(t reflect.Type) ([]Field, error) {
	fs, err := fieldsOf(t)
	out := make([]Field, len(fs))
	for i, f := range fs {
		out[i] = f.Field
	}
	return out, err
}

// Fields lists the settings of v, a struct or a pointer to one. A tag it cannot read is a
// programming error, found by any test that calls it: it panics.
func Fields(v any) []Field {
	fs, err := Describe(structType(reflect.TypeOf(v)))
	if err != nil {
		panic(err)
	}
	return fs
}

func structType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// number reads a bound or a value of kind k as a float64 (Durations in nanoseconds).
func number(k Kind, s string) (float64, error) {
	switch k {
	case Int, Float:
		return strconv.ParseFloat(s, 64)
	case Dur:
		d, err := ParseDuration(s)
		return float64(d), err
	case ByteSize:
		n, err := ParseSize(s)
		return float64(n), err
	}
	return 0, fmt.Errorf("a %s has no bounds", k)
}

// set writes s, a default as a tag writes it, into v.
func set(v reflect.Value, k Kind, s string) error {
	switch k {
	case String:
		v.SetString(s)
	case Int:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return err
		}
		v.SetInt(n)
	case Float:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		v.SetFloat(x)
	case Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case Dur:
		d, err := ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	case ByteSize:
		n, err := ParseSize(s)
		if err != nil {
			return err
		}
		v.SetInt(n)
	case List:
		v.Set(reflect.ValueOf(strings.Split(s, "|")).Convert(v.Type()))
	default:
		return fmt.Errorf("a %s takes no default", k)
	}
	return nil
}

// ApplyDefaults fills every zero field of *ptr that has a default, in nested tables and in the
// elements of repeated tables too. Call it on a fresh value before decoding onto it, so that a
// zero written in the file stays; elements of repeated tables, which a decoder makes afresh,
// get theirs from ApplyElementDefaults after decoding.
func ApplyDefaults(ptr any) { walkDefaults(reflect.ValueOf(ptr).Elem(), true) }

// ApplyElementDefaults fills the zero fields of every element of the repeated tables in *ptr
// (and in its nested tables), leaving the fields of *ptr itself as they are.
func ApplyElementDefaults(ptr any) { walkDefaults(reflect.ValueOf(ptr).Elem(), false) }

func walkDefaults(v reflect.Value, here bool) {
	fs, err := fieldsOf(v.Type())
	if err != nil {
		panic(err)
	}
	for _, f := range fs {
		fv := v.FieldByIndex(f.index)
		switch f.Kind {
		case Table:
			walkDefaults(fv, here)
		case Tables:
			for i := 0; i < fv.Len(); i++ {
				walkDefaults(fv.Index(i), true)
			}
		default:
			if here && f.Default != "" && fv.IsZero() {
				_ = set(fv, f.Kind, f.Default) // parseTag has read it already
			}
		}
	}
}

// Check checks *ptr against its tags, then calls Validate where a struct has it, tables first.
// The first fault is an *Error naming its full key.
func Check(ptr any) error {
	return check(reflect.ValueOf(ptr).Elem(), "")
}

// CheckFields is Check without *ptr's own Validate: for a Validate method that starts with it.
func CheckFields(ptr any) error {
	return checkFields(reflect.ValueOf(ptr).Elem(), "")
}

func checkFields(v reflect.Value, prefix string) error {
	fs, err := fieldsOf(v.Type())
	if err != nil {
		return err
	}
	for _, f := range fs {
		if err := checkField(f.Field, v.FieldByIndex(f.index), join(prefix, f.Key)); err != nil {
			return err
		}
	}
	return nil
}

func check(v reflect.Value, prefix string) error {
	if err := checkFields(v, prefix); err != nil {
		return err
	}
	if val, ok := v.Addr().Interface().(Validator); ok {
		return Prefix(prefix, val.Validate())
	}
	return nil
}

func checkField(f Field, v reflect.Value, key string) error {
	switch f.Kind {
	case Table:
		return check(v, key)
	case Tables:
		for i := 0; i < v.Len(); i++ {
			if err := check(v.Index(i), fmt.Sprintf("%s[%d]", key, i)); err != nil {
				return err
			}
		}
		return nil
	case List:
		if f.Required && v.Len() == 0 {
			return Errorf(key, "must not be empty")
		}
		for i := 0; i < v.Len(); i++ {
			if err := choose(f, v.Index(i).String(), fmt.Sprintf("%s[%d]", key, i)); err != nil {
				return err
			}
		}
		return nil
	case String:
		if f.Required && v.String() == "" {
			return Errorf(key, "must be set")
		}
		return choose(f, v.String(), key)
	case Int, Float, Dur, ByteSize:
		return bound(f, v, key)
	}
	return nil
}

func choose(f Field, s, key string) error {
	if len(f.Choices) == 0 {
		return nil
	}
	for _, c := range f.Choices {
		if s == c {
			return nil
		}
	}
	var named []string
	for _, c := range f.Choices {
		if c != "" {
			named = append(named, c)
		}
	}
	return Errorf(key, "%q, want %s", s, strings.Join(named, ", "))
}

func bound(f Field, v reflect.Value, key string) error {
	var x float64
	var shown string
	switch f.Kind {
	case Float:
		x = v.Float()
		shown = strconv.FormatFloat(x, 'g', -1, 64)
	case Dur:
		x = float64(v.Int())
		shown = Duration(v.Int()).D().String()
	default:
		x = float64(v.Int())
		shown = strconv.FormatInt(v.Int(), 10)
		if f.Kind == ByteSize {
			shown += " bytes"
		}
	}
	if f.Positive && x <= 0 {
		if f.Kind == Dur {
			return Errorf(key, "must be a positive duration like \"24h\", got %s", shown)
		}
		return Errorf(key, "%s, want more than 0", shown)
	}
	lo, _ := number(f.Kind, f.Min) // parseTag has read both
	hi, _ := number(f.Kind, f.Max)
	switch {
	case f.Min != "" && f.Max != "" && (x < lo || x > hi):
		return Errorf(key, "%s, want %s..%s", shown, f.Min, f.Max)
	case f.Min != "" && x < lo:
		return Errorf(key, "%s, want at least %s", shown, f.Min)
	case f.Max != "" && x > hi:
		return Errorf(key, "%s, want at most %s", shown, f.Max)
	}
	return nil
}

// Changed lists the full keys whose values differ between *a and *b, two values of the same
// struct type: what an audit log names and what decides whether a change applies live. An
// element added to or removed from a repeated table is its key with its index
// ("sender[1]"). Values are never part of the answer, so a secret's key may be listed.
func Changed(a, b any) []string {
	return changed(reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem(), "")
}

func changed(v, w reflect.Value, prefix string) []string {
	fs, err := fieldsOf(v.Type())
	if err != nil {
		panic(err)
	}
	var out []string
	for _, f := range fs {
		fv, fw, key := v.FieldByIndex(f.index), w.FieldByIndex(f.index), join(prefix, f.Key)
		switch f.Kind {
		case Table:
			out = append(out, changed(fv, fw, key)...)
		case Tables:
			for i := 0; i < max(fv.Len(), fw.Len()); i++ {
				k := fmt.Sprintf("%s[%d]", key, i)
				if i >= fv.Len() || i >= fw.Len() {
					out = append(out, k)
					continue
				}
				out = append(out, changed(fv.Index(i), fw.Index(i), k)...)
			}
		default:
			if !reflect.DeepEqual(fv.Interface(), fw.Interface()) {
				out = append(out, key)
			}
		}
	}
	return out
}
