package setting

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// A settings page addresses a value by its full key ("sender[0].port"), the same key an
// *Error names, so a form's field, its value and its error are one name.

// locate finds key in v (a struct): the value and its description. grow lets the index of a
// repeated table be one past its end: an element with its defaults is appended.
func locate(v reflect.Value, key string, grow bool) (reflect.Value, Field, error) {
	head, rest, _ := strings.Cut(key, ".")
	name, idx := head, -1
	if i := strings.IndexByte(head, '['); i >= 0 && strings.HasSuffix(head, "]") {
		n, err := strconv.Atoi(head[i+1 : len(head)-1])
		if err != nil || n < 0 {
			return reflect.Value{}, Field{}, fmt.Errorf("bad index in %q", key)
		}
		name, idx = head[:i], n
	}
	fs, err := fieldsOf(v.Type())
	if err != nil {
		return reflect.Value{}, Field{}, err
	}
	for _, f := range fs {
		if f.Key != name {
			continue
		}
		fv := v.FieldByIndex(f.index)
		switch {
		case idx < 0 && rest == "":
			return fv, f.Field, nil
		case idx < 0 && f.Kind == Table:
			return locate(fv, rest, grow)
		case idx >= 0 && f.Kind == Tables:
			if idx == fv.Len() && grow {
				e := reflect.New(fv.Type().Elem()).Elem()
				walkDefaults(e, true)
				fv.Set(reflect.Append(fv, e))
			}
			if idx >= fv.Len() {
				return reflect.Value{}, Field{}, fmt.Errorf("no %s", head)
			}
			if rest == "" {
				return fv.Index(idx), f.Field, nil
			}
			return locate(fv.Index(idx), rest, grow)
		}
		break
	}
	return reflect.Value{}, Field{}, fmt.Errorf("no setting %q", key)
}

// Get returns the value of key in *ptr as a form shows it: durations as "24h", sizes in bytes,
// lists one item a line.
func Get(ptr any, key string) (string, error) {
	v, f, err := locate(reflect.ValueOf(ptr).Elem(), key, false)
	if err != nil {
		return "", err
	}
	switch f.Kind {
	case String:
		return v.String(), nil
	case Int, ByteSize:
		return strconv.FormatInt(v.Int(), 10), nil
	case Float:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64), nil
	case Bool:
		return strconv.FormatBool(v.Bool()), nil
	case Dur:
		return FormatDuration(Duration(v.Int())), nil
	case List:
		return strings.Join(v.Interface().([]string), "\n"), nil
	}
	return "", fmt.Errorf("%s: a %s is not one value", key, f.Kind)
}

// FormatDuration writes d as short as ParseDuration reads it back: "24h", "2m", "1h30m".
func FormatDuration(d Duration) string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Set parses text as the value of key in *ptr (as Get writes it; a list takes items on lines
// or separated by commas; an empty number is zero). An index one past the end of a repeated table appends an element
// with its defaults. A text that does not parse is an *Error naming key.
func Set(ptr any, key, text string) error {
	v, f, err := locate(reflect.ValueOf(ptr).Elem(), key, true)
	if err != nil {
		return Errorf(key, "%v", err)
	}
	text = strings.TrimSpace(text)
	switch f.Kind {
	case String:
		v.SetString(text)
		return nil
	case List:
		items := []string{}
		for _, it := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		v.Set(reflect.ValueOf(items).Convert(v.Type()))
		return nil
	case Bool:
		if text == "" || text == "off" {
			text = "false"
		} else if text == "on" {
			text = "true"
		}
	case Int, Float, Dur, ByteSize:
		if text == "" {
			text = "0" // empty is zero; the field's bounds say whether zero will do
		}
	default:
		return Errorf(key, "a %s is not set from one value", f.Kind)
	}
	if err := set(v, f.Kind, text); err != nil {
		return Errorf(key, "%q is not a %s", text, kindName(f.Kind))
	}
	return nil
}

func kindName(k Kind) string {
	switch k {
	case Int:
		return "whole number"
	case Float:
		return "number"
	case Dur:
		return "duration like 90s, 2m, 24h or 7d"
	case ByteSize:
		return "size like 1048576, 256MiB or 32MB"
	case Bool:
		return "yes or no"
	}
	return string(k)
}

// Remove deletes the element key ("sender[1]") of a repeated table in *ptr.
func Remove(ptr any, key string) error {
	i := strings.LastIndexByte(key, '[')
	if i < 0 || !strings.HasSuffix(key, "]") {
		return Errorf(key, "not an element of a repeated table")
	}
	n, err := strconv.Atoi(key[i+1 : len(key)-1])
	if err != nil {
		return Errorf(key, "bad index")
	}
	v, f, err := locate(reflect.ValueOf(ptr).Elem(), key[:i], false)
	if err != nil || f.Kind != Tables || n < 0 || n >= v.Len() {
		return Errorf(key, "no such element")
	}
	v.Set(reflect.AppendSlice(v.Slice(0, n), v.Slice(n+1, v.Len())))
	return nil
}

// SecretKeys lists the full keys of the secret fields in *ptr, in its repeated tables'
// elements too ("sender[0].password"): what a backup leaves out and a restore keeps.
func SecretKeys(ptr any) []string {
	return secretKeys(reflect.ValueOf(ptr).Elem(), "")
}

func secretKeys(v reflect.Value, prefix string) []string {
	fs, err := fieldsOf(v.Type())
	if err != nil {
		panic(err)
	}
	var out []string
	for _, f := range fs {
		fv, key := v.FieldByIndex(f.index), join(prefix, f.Key)
		switch {
		case f.Kind == Table:
			out = append(out, secretKeys(fv, key)...)
		case f.Kind == Tables:
			for i := 0; i < fv.Len(); i++ {
				out = append(out, secretKeys(fv.Index(i), fmt.Sprintf("%s[%d]", key, i))...)
			}
		case f.Secret:
			out = append(out, key)
		}
	}
	return out
}
