// Package flowtest builds flow records for tests of the conversions a
// flow.Flow goes through (packing, session files): Filled sets every field,
// found by reflection, so a round trip that forgets a field fails as soon
// as the field is added, without anyone updating the test. It does not
// import testing: non-test code never imports it.
package flowtest

import (
	"fmt"
	"net/netip"
	"reflect"
	"time"

	"github.com/flowaudit/flowaudit/capture/flow"
)

// Filled returns a Flow whose every field, and every field of the structs
// it points to (ICMP error, process, local drop), holds a non-zero value
// distinct from the others' (n counts them, and seed shifts them, so two
// calls with different seeds differ in every field). Addresses are IPv6
// documentation addresses (2001:db8::/32) and times are in UTC. It panics
// on a field of a kind it cannot fill: a new kind of field needs a line
// here, and the tests that use it fail until it has one.
func Filled(seed int) flow.Flow {
	var f flow.Flow
	Fill(&f, seed)
	return f
}

// Fill sets every field of the struct ptr points to as Filled does, for
// other records that are converted (capture.Stats in session files): a
// slice gets two elements, a map one.
func Fill(ptr any, seed int) {
	v := reflect.ValueOf(ptr).Elem()
	n := seed * 1000
	fill(v, v.Type().Name(), &n)
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	addrType     = reflect.TypeFor[netip.Addr]()
	addrPortType = reflect.TypeFor[netip.AddrPort]()
	prefixType   = reflect.TypeFor[netip.Prefix]()
)

func fill(v reflect.Value, path string, n *int) {
	*n++
	k := *n
	switch v.Type() {
	case timeType:
		v.Set(reflect.ValueOf(time.Unix(1_800_000_000+int64(k), int64(k)).UTC()))
		return
	case addrType:
		v.Set(reflect.ValueOf(addr(k)))
		return
	case addrPortType:
		v.Set(reflect.ValueOf(netip.AddrPortFrom(addr(k), uint16(k))))
		return
	case prefixType:
		v.Set(reflect.ValueOf(netip.PrefixFrom(addr(k), 64)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("%s-%d", path, k))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(k%100 + 1))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(k%200 + 1))
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		if v.Type().Elem().Kind() == reflect.String {
			s.Index(0).SetString(fmt.Sprintf("%s-%d-a.example", path, k))
			s.Index(1).SetString(fmt.Sprintf("%s-%d-b.example", path, k))
		} else {
			fill(s.Index(0), path+"[0]", n)
			fill(s.Index(1), path+"[1]", n)
		}
		v.Set(s)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			panic("flowtest: no filler for " + path + " of type " + v.Type().String())
		}
		m := reflect.MakeMap(v.Type())
		key := reflect.New(v.Type().Key()).Elem()
		key.SetString(fmt.Sprintf("%s-%d", path, k))
		val := reflect.New(v.Type().Elem()).Elem()
		fill(val, path+"[]", n)
		m.SetMapIndex(key, val)
		v.Set(m)
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), fmt.Sprintf("%s[%d]", path, i), n)
		}
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), path, n)
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			if !v.Type().Field(i).IsExported() {
				panic("flowtest: " + path + " has an unexported field")
			}
			fill(v.Field(i), path+"."+v.Type().Field(i).Name, n)
		}
	default:
		panic("flowtest: no filler for " + path + " of type " + v.Type().String())
	}
}

// addr is the k-th IPv6 documentation address.
func addr(k int) netip.Addr {
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(k >> 8), 15: byte(k)})
}

// Zeroes lists the fields of f (by path, "Flow.ICMP.Reason") that hold
// their zero value: a test checks that a conversion's output is as full
// as Filled made its input, and names what it dropped.
func Zeroes(f *flow.Flow) []string {
	var out []string
	zeroes(reflect.ValueOf(f).Elem(), "Flow", &out)
	return out
}

func zeroes(v reflect.Value, path string, out *[]string) {
	switch {
	case v.Kind() == reflect.Pointer && !v.IsNil():
		zeroes(v.Elem(), path, out)
	case v.Kind() == reflect.Struct && v.Type() != timeType && v.Type() != addrType && v.Type() != addrPortType && v.Type() != prefixType:
		for i := range v.NumField() {
			zeroes(v.Field(i), path+"."+v.Type().Field(i).Name, out)
		}
	case v.IsZero():
		*out = append(*out, path)
	}
}
