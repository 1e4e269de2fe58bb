package session

import (
	"encoding"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// FieldError is a session field whose value cannot be used. Field is its
// path in the file ("flows[3].outcome", "hosts[1]", "version"), Problem
// what is wrong ("unknown outcome \"bogus\""). errors.Is(err, ErrCorrupt)
// holds for it.
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string        { return e.Field + ": " + e.Problem }
func (e *FieldError) Is(target error) bool { return target == ErrCorrupt }

// checkHosts, checkV2 and checkFlow check what decoding cannot: values
// outside a vocabulary, addresses left empty, negative counts, a flow
// ending before it starts, an ICMP error of no IP version. Any of them
// would be mis-audited or shown as they are (an unknown outcome counts as
// never seen, an ICMP reason is printed in the report). The reader checks
// each flow as it decodes it.
func checkHosts(d *capture.HostsDecision, field string) error {
	for i, a := range d.Addrs {
		if !a.IsValid() {
			return &FieldError{fmt.Sprintf("%s[%d]", field, i), `"" is not an IP address`}
		}
	}
	return nil
}

// checkV2 checks what only version 2 has: the hosts' origin and detail,
// and the context's records.
func checkV2(h *wireHeader, t *wireTrailer) *FieldError {
	if w := t.Hosts; w != nil {
		var o capture.HostsOrigin
		if err := o.UnmarshalText([]byte(w.Origin)); err != nil || o == capture.OriginSessions {
			return &FieldError{"hosts.origin", fmt.Sprintf("unknown origin %s (want flag, site, interface, inferred, recorded or none)", quote(w.Origin))}
		}
		if w.Inference != nil {
			for i, c := range w.Inference.Chosen {
				if !c.Addr.IsValid() {
					return &FieldError{fmt.Sprintf("hosts.inference.chosen[%d].addr", i), "missing (want an IP address)"}
				}
				if _, err := capture.ParseHostsBy(c.By); err != nil {
					return &FieldError{fmt.Sprintf("hosts.inference.chosen[%d].by", i), fmt.Sprintf("%s: want flows, mac or outgoing", quote(c.By))}
				}
			}
		}
	}
	if c := h.Context; c != nil {
		for i, f := range c.Catalogs {
			if got := SHA256([]byte(f.Content)); got != f.SHA256 {
				return &FieldError{fmt.Sprintf("context.catalogs[%d].sha256", i),
					fmt.Sprintf("%s is not the SHA-256 of the content recorded (%s): the session was changed", quote(f.SHA256), got)}
			}
		}
		if c.Site != nil {
			for i, a := range c.Site.Hosts {
				if !a.IsValid() {
					return &FieldError{fmt.Sprintf("context.site.hosts[%d]", i), `"" is not an IP address`}
				}
			}
		}
	}
	return nil
}

// checkFlow checks flows[i] (see checkHosts).
func checkFlow(i int, f *flow.Flow) *FieldError {
	field := func(name string) string { return fmt.Sprintf("flows[%d].%s", i, name) }
	if _, ok := flow.ParseOutcome(string(f.Outcome)); !ok {
		problem := fmt.Sprintf("unknown outcome %q", f.Outcome)
		if f.Outcome == "" {
			problem = "missing"
		}
		return &FieldError{field("outcome"), problem + " (want " + list(flow.Outcomes) + ")"}
	}
	if _, ok := flow.ParseConnState(string(f.State)); f.State != "" && !ok {
		return &FieldError{field("conn_state"), fmt.Sprintf("unknown conn_state %q (want one of Zeek's: %s)", f.State, list(flow.ConnStates))}
	}
	for _, side := range []struct {
		name string
		ap   netip.AddrPort
	}{{"orig", f.Orig}, {"resp", f.Resp}} {
		if !side.ap.Addr().IsValid() {
			return &FieldError{field(side.name), `missing (want "ip:port")`}
		}
	}
	if f.Orig.Addr().Unmap().Is4() != f.Resp.Addr().Unmap().Is4() {
		return &FieldError{fmt.Sprintf("flows[%d]", i), fmt.Sprintf("orig %s and resp %s are not of one IP version", f.Orig, f.Resp)}
	}
	if fe := checkFlowValues(f, field); fe != nil {
		return fe
	}
	return nil
}

// checkFlowValues checks the counts, times and ICMP error of a flow whose
// outcome and addresses are valid: a negative count, a flow ending before
// it starts or an ICMP error no capture can record would be audited and
// shown as they are.
func checkFlowValues(f *flow.Flow, field func(string) string) *FieldError {
	if f.Attempts < 0 {
		return &FieldError{field("attempts"), fmt.Sprintf("want a whole number (0 or more), got %d", f.Attempts)}
	}
	if f.End.Before(f.Start) {
		start := f.Start.Format(time.RFC3339Nano)
		if f.End.IsZero() {
			return &FieldError{field("end"), "missing (the flow's start is " + start + ")"}
		}
		return &FieldError{field("end"), fmt.Sprintf("%s is before the flow's start %s", f.End.Format(time.RFC3339Nano), start)}
	}
	ic := f.ICMP
	if ic == nil {
		return nil
	}
	v4 := f.Orig.Addr().Unmap().Is4()
	switch {
	case ic.Version != 4 && ic.Version != 6:
		return &FieldError{field("icmp.version"), fmt.Sprintf("want 4 (ICMP) or 6 (ICMPv6), got %d", ic.Version)}
	case v4 != (ic.Version == 4):
		flowVersion := map[bool]string{true: "IPv4", false: "IPv6"}[v4]
		return &FieldError{field("icmp.version"), fmt.Sprintf("ICMP version %d cannot answer an %s flow", ic.Version, flowVersion)}
	}
	if !flow.ValidICMPReason(ic.Reason, ic.Type, ic.Code) {
		problem := fmt.Sprintf("unknown reason %s", quote(ic.Reason))
		if ic.Reason == "" {
			problem = "missing"
		}
		return &FieldError{field("icmp.reason"), fmt.Sprintf("%s (want %s, or %s for type %d code %d)",
			problem, strings.Join(flow.ICMPReasons, ", "), flow.ICMPTypeCode(ic.Type, ic.Code), ic.Type, ic.Code)}
	}
	return nil
}

// list says "a, b or c".
func list[T ~string](set []T) string {
	parts := make([]string, len(set))
	for i, v := range set {
		parts[i] = string(v)
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	timeType            = reflect.TypeFor[time.Time]()
	addrType            = reflect.TypeFor[netip.Addr]()
	addrPortType        = reflect.TypeFor[netip.AddrPort]()
)

// locate finds the first value in raw (in field order) that does not
// decode into type t and says what is wrong with it, naming its path
// below path. It runs only after a decode failed, to turn
// encoding/json's message (Go type names, no array index) into one a
// user can act on; nil when every value decodes.
func locate(path string, raw []byte, t reflect.Type) *FieldError {
	if json.Unmarshal(raw, reflect.New(t).Interface()) == nil {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	pt := reflect.PointerTo(t)
	custom := pt.Implements(unmarshalerType) || pt.Implements(textUnmarshalerType)
	switch {
	case custom:
	case t.Kind() == reflect.Struct:
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			break
		}
		for i := range t.NumField() {
			sf := t.Field(i)
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if !sf.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			if v, ok := lookupFold(obj, name); ok {
				if fe := locate(join(path, name), v, sf.Type); fe != nil {
					return fe
				}
			}
		}
		return nil // every field decodes: not something locate can place
	case t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8:
		var arr []json.RawMessage
		if json.Unmarshal(raw, &arr) != nil {
			break
		}
		for i, v := range arr {
			if fe := locate(fmt.Sprintf("%s[%d]", path, i), v, t.Elem()); fe != nil {
				return fe
			}
		}
		return nil
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			break
		}
		for _, k := range slices.Sorted(maps.Keys(obj)) {
			if fe := locate(join(path, k), obj[k], t.Elem()); fe != nil {
				return fe
			}
		}
		return nil
	}
	return leaf(path, raw, t)
}

// lookupFold finds key as encoding/json matches field names: exactly,
// else ignoring case.
func lookupFold(obj map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	if v, ok := obj[key]; ok {
		return v, true
	}
	for k, v := range obj {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// leaf describes a value of type t that raw cannot be.
func leaf(path string, raw []byte, t reflect.Type) *FieldError {
	if path == "" {
		path = "file"
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		switch t {
		case addrType:
			return &FieldError{path, fmt.Sprintf("%s is not an IP address", quote(s))}
		case addrPortType:
			return &FieldError{path, fmt.Sprintf(`%s is not an ip:port ("192.0.2.1:25", "[2001:db8::1]:25")`, quote(s))}
		case timeType:
			return &FieldError{path, fmt.Sprintf("%s is not an RFC 3339 time", quote(s))}
		}
	}
	return &FieldError{path, "want " + want(t) + ", got " + got(raw)}
}

// want names what a JSON value of Go type t must be.
func want(t reflect.Type) string {
	switch t {
	case timeType:
		return "an RFC 3339 time string"
	case addrType:
		return "an IP address string"
	case addrPortType:
		return `an "ip:port" string`
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return fmt.Sprintf("a whole number from 0 to %d", uint64(1)<<t.Bits()-1)
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return "a whole number (0 or more)"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a " + t.String()
}

// got describes a JSON value briefly: its kind, and the value itself when
// short.
func got(raw []byte) string {
	kind := jsonKind(raw)
	switch kind {
	case "string":
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return "string " + quote(s)
		}
	case "number", "true or false":
		if len(raw) <= 24 {
			return string(raw)
		}
	}
	return kind
}

// jsonKind names the kind of a JSON value from its first byte.
func jsonKind(raw []byte) string {
	raw = []byte(strings.TrimSpace(string(raw)))
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "true or false"
	case 'n':
		return "null"
	}
	return "number"
}

// quote quotes s for an error line, shortened when long.
func quote(s string) string {
	if r := []rune(s); len(r) > 40 {
		s = string(r[:40]) + "..."
	}
	return strconv.Quote(s)
}

// oneLine keeps an error message on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
