package mailin

import (
	"html"
	"strings"
)

// HTMLText renders HTML as plain text for the services that take text only: tags dropped,
// entities decoded, block elements and <br> as line breaks, <script>, <style> and <head> left
// out, links kept as "text (url)" when the text does not already say the url. It is a
// tokenizer, not a browser: devices' alert mails are simple tables and paragraphs. Linear in
// the input.
func HTMLText(s string) string {
	var b strings.Builder
	b.Grow(len(s) / 2)
	var href string
	skip := ""     // the element whose content is being skipped (script, style, head, title)
	textStart := 0 // b.Len() where the current link's text began
	for i := 0; i < len(s); {
		lt := strings.IndexByte(s[i:], '<')
		if lt < 0 {
			lt = len(s) - i
		}
		if skip == "" {
			b.WriteString(collapse(strings.ReplaceAll(html.UnescapeString(s[i:i+lt]), "\u00a0", " ")))
		}
		i += lt
		if i >= len(s) {
			break
		}
		if strings.HasPrefix(s[i:], "<!--") {
			end := strings.Index(s[i+4:], "-->")
			if end < 0 {
				break
			}
			i += 4 + end + 3
			continue
		}
		gt := strings.IndexByte(s[i:], '>')
		if gt < 0 {
			break
		}
		tag := s[i+1 : i+gt]
		i += gt + 1
		closing := strings.HasPrefix(tag, "/")
		name := strings.ToLower(strings.TrimLeft(tag, "/!"))
		if k := strings.IndexAny(name, " \t\r\n/"); k >= 0 {
			name = name[:k]
		}
		if skip != "" {
			if closing && name == skip {
				skip = ""
			}
			continue
		}
		switch name {
		case "script", "style", "head", "title":
			if !closing {
				skip = name
			}
		case "br":
			b.WriteByte('\n')
		case "p", "div", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "pre", "blockquote", "hr":
			b.WriteByte('\n')
		case "li":
			if !closing {
				b.WriteString("\n- ")
			}
		case "td", "th":
			if !closing {
				b.WriteByte(' ')
			}
		case "a":
			if !closing {
				href = attr(tag, "href")
				textStart = b.Len()
			} else if href != "" {
				text := b.String()[textStart:]
				if !strings.Contains(text, href) && !strings.HasPrefix(href, "#") && !strings.HasPrefix(strings.ToLower(href), "javascript:") {
					b.WriteString(" (" + href + ")")
				}
				href = ""
			}
		}
	}
	return b.String()
}

// collapse turns runs of white space (HTML's source layout) into one space.
func collapse(s string) string {
	if strings.TrimSpace(s) == "" {
		if s == "" {
			return ""
		}
		return " "
	}
	lead := s[0] == ' ' || s[0] == '\n' || s[0] == '\t' || s[0] == '\r'
	last := s[len(s)-1]
	trail := last == ' ' || last == '\n' || last == '\t' || last == '\r'
	out := strings.Join(strings.Fields(s), " ")
	if lead {
		out = " " + out
	}
	if trail {
		out += " "
	}
	return out
}

// attr returns the value of attribute name in a tag's source (quoted or not), decoded.
func attr(tag, name string) string {
	low := strings.ToLower(tag)
	for from := 0; ; {
		k := strings.Index(low[from:], name)
		if k < 0 {
			return ""
		}
		k += from
		from = k + len(name)
		if k > 0 && low[k-1] != ' ' && low[k-1] != '\t' && low[k-1] != '\n' {
			continue
		}
		rest := strings.TrimLeft(tag[from:], " \t\n")
		if !strings.HasPrefix(rest, "=") {
			continue
		}
		rest = strings.TrimLeft(rest[1:], " \t\n")
		if rest == "" {
			return ""
		}
		var v string
		if q := rest[0]; q == '"' || q == '\'' {
			end := strings.IndexByte(rest[1:], q)
			if end < 0 {
				return ""
			}
			v = rest[1 : 1+end]
		} else {
			end := strings.IndexAny(rest, " \t\n>")
			if end < 0 {
				end = len(rest)
			}
			v = rest[:end]
		}
		return html.UnescapeString(v)
	}
}
