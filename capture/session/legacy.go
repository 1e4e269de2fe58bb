package session

import (
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/flowaudit/flowaudit/capture"
)

// Version 1 files (flowaudit before the wire structs) are read on: their
// header and flows are version 2's, with no context, and they record the
// gateway addresses as a list with a sentence saying where they came from.
// That sentence is turned into a typed origin here, once: nothing else
// reads it.

// wireTrailerV1 is version 1's share of what version 2 has in its
// trailer (version 1 wrote it first).
type wireTrailerV1 struct {
	End           time.Time    `json:"end,omitzero"`
	Hosts         []netip.Addr `json:"hosts"`
	HostsHow      string       `json:"hosts_how,omitempty"`
	HostsInferred bool         `json:"hosts_inferred,omitempty"`
	Stats         wireStats    `json:"stats"`
}

func (w *wireTrailerV1) toTrailer() Trailer {
	return Trailer{End: utc(w.End), Hosts: legacyHosts(w.Hosts, w.HostsHow, w.HostsInferred), Stats: w.Stats.toStats()}
}

// legacyHosts maps version 1's hosts, hosts_how and hosts_inferred to a
// decision. The sentences version 1 wrote: "--host", "site file F",
// "interface I addresses", the audit's "inferred from the traffic (the
// address taking part in most flows): A in N of M IPv4 flows; ..." or
// "inferred from the traffic: no candidate address", and anything a
// person wrote by hand (OriginRecorded, with the words as Note).
func legacyHosts(addrs []netip.Addr, how string, inferred bool) capture.HostsDecision {
	if len(addrs) == 0 {
		addrs = nil
	}
	d := capture.HostsDecision{Addrs: addrs}
	switch {
	case len(addrs) == 0 && how == "" && !inferred:
		return d // nothing recorded: OriginNone
	case how == legacyInferred || strings.HasPrefix(how, legacyInferred+" ") || strings.HasPrefix(how, legacyInferred+":"):
		d.Origin = capture.OriginInferred
		d.Inference, d.Note = legacyInference(how)
	case inferred:
		d.Origin, d.Note = capture.OriginInferred, how
	case how == "--host":
		d.Origin = capture.OriginFlag
	case how == "site file" || strings.HasPrefix(how, "site file "):
		d.Origin, d.SiteFile = capture.OriginSite, strings.TrimPrefix(strings.TrimPrefix(how, "site file"), " ")
	case strings.HasPrefix(how, "interface ") && strings.HasSuffix(how, " addresses") && len(how) > len("interface  addresses"):
		d.Origin, d.Iface = capture.OriginInterface, how[len("interface "):len(how)-len(" addresses")]
	default:
		d.Origin, d.Note = capture.OriginRecorded, how
	}
	return d
}

// legacyInferred starts version 1's inference sentences.
const legacyInferred = "inferred from the traffic"

// legacyInference reads the counts of version 1's inference sentence; when
// they cannot be read, it returns the sentence's detail as a note, shown
// as it is.
func legacyInference(how string) (*capture.HostsInference, string) {
	detail := how
	if _, after, ok := strings.Cut(how, "): "); ok && strings.HasPrefix(how, legacyInferred+" (") {
		detail = after
	} else if after, ok := strings.CutPrefix(how, legacyInferred+": "); ok {
		detail = after
	}
	if detail == "no candidate address" {
		return &capture.HostsInference{}, ""
	}
	inf := &capture.HostsInference{}
	for part := range strings.SplitSeq(detail, "; ") {
		c, guess, ok := legacyCount(part)
		if !ok {
			return nil, strings.ReplaceAll(detail, "; ", ", ")
		}
		inf.Chosen = append(inf.Chosen, c)
		inf.Guess = inf.Guess || guess
	}
	return inf, ""
}

// legacyGuess ends the part of a guess.
const legacyGuess = " (a guess: no address takes part in half of its family's flows)"

// legacyCount reads "A in N of M IPv4 flows", perhaps with legacyGuess.
func legacyCount(part string) (capture.HostCount, bool, bool) {
	rest, guess := strings.CutSuffix(part, legacyGuess)
	f := strings.Fields(rest)
	if len(f) != 7 || f[1] != "in" || f[3] != "of" || f[6] != "flows" {
		return capture.HostCount{}, false, false
	}
	a, err1 := netip.ParseAddr(f[0])
	n, err2 := strconv.Atoi(f[2])
	m, err3 := strconv.Atoi(f[4])
	fam := map[bool]string{true: "IPv4", false: "IPv6"}[a.Is4()]
	if err1 != nil || err2 != nil || err3 != nil || f[5] != fam {
		return capture.HostCount{}, false, false
	}
	return capture.HostCount{Addr: a, Flows: n, FamilyFlows: m}, guess, true
}
