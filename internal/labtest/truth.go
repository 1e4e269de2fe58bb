package labtest

import (
	"fmt"
	"net/netip"
	"os"

	"go.yaml.in/yaml/v3"
)

// Truth is what a lab scenario did and what an audit of its capture must
// conclude, as lab.sh writes it (NAME.truth.yaml next to NAME.pcap).
type Truth struct {
	Scenario string `yaml:"scenario"`
	// Product is the catalog product the Expect fields refer to.
	Product string `yaml:"product"`
	// Gateway lists the gateway addresses the scenario used: the --host
	// values for an audit.
	Gateway  []string    `yaml:"gateway"`
	Resolver []string    `yaml:"resolver"`
	Flows    []TruthFlow `yaml:"flows"`
	Ports    []TruthPort `yaml:"ports"`
}

// TruthFlow is one connection attempt the scenario made.
type TruthFlow struct {
	// Row is the scenario table row; "N.dns" is the lookup row N made
	// before connecting.
	Row       string `yaml:"row"`
	Direction string `yaml:"direction"` // "out": the gateway opens it; "in": a peer does
	Protocol  string `yaml:"protocol"`  // tcp, udp or icmp (echo)
	Family    string `yaml:"family"`    // ipv4 or ipv6
	Gateway   string `yaml:"gateway"`
	Peer      string `yaml:"peer"`
	Port      uint16 `yaml:"port"` // server port; 0 for icmp
	// Name is the DNS name the gateway resolved to find Peer ("" if none).
	Name  string `yaml:"name"`
	Label string `yaml:"label"`
	// Firewall is the policy for this flow: accept, drop, reset (TCP RST)
	// or admin (ICMP/ICMPv6 admin-prohibited).
	Firewall string `yaml:"firewall"`
	// Answer is what listens behind the firewall: service, resolver,
	// closed (RST or port unreachable) or silent (UDP that never answers).
	Answer string `yaml:"answer"`
	// Outcome is the flow outcome (capture/flow Outcome values), or
	// "not-captured" when the firewall stopped an inbound flow before the
	// gateway interface.
	Outcome string `yaml:"outcome"`
	// Reason refines failures: unanswered, no-reply, rst-firewall,
	// rst-peer, rst-gateway, admin-prohibited, port-unreachable,
	// filtered-before-gateway.
	Reason   string `yaml:"reason"`
	Captured bool   `yaml:"captured"`
	// Expect is "required" when the product's requirements allow the
	// flow, "unexpected" when none does.
	Expect string `yaml:"expect"`
}

// TruthPort summarises the flows of one direction, protocol and server
// port as the capture shows them.
type TruthPort struct {
	Direction   string `yaml:"direction"`
	Protocol    string `yaml:"protocol"`
	Port        uint16 `yaml:"port"`
	Expect      string `yaml:"expect"`
	Status      string `yaml:"status"` // ok, partial, blocked or never-seen
	Established int    `yaml:"established"`
	Failed      int    `yaml:"failed"`
	Reasons     string `yaml:"reasons"` // comma-separated failure reasons
}

// LoadTruth reads and checks a truth file.
func LoadTruth(path string) (*Truth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read truth: %w", err)
	}
	tr, err := ParseTruth(b)
	if err != nil {
		return nil, fmt.Errorf("read truth %s: %w", path, err)
	}
	return tr, nil
}

// ParseTruth decodes and checks the YAML of a truth file.
func ParseTruth(b []byte) (*Truth, error) {
	var tr Truth
	if err := yaml.Unmarshal(b, &tr); err != nil {
		return nil, err
	}
	if err := tr.validate(); err != nil {
		return nil, err
	}
	return &tr, nil
}

var (
	outcomes = map[string]bool{"established": true, "rejected": true, "unreachable": true, "unanswered": true, "not-captured": true}
	statuses = map[string]bool{"ok": true, "partial": true, "blocked": true, "never-seen": true}
)

func (tr *Truth) validate() error {
	if tr.Scenario == "" || len(tr.Gateway) == 0 || len(tr.Flows) == 0 {
		return fmt.Errorf("scenario, gateway and flows are required")
	}
	for _, g := range tr.Gateway {
		if _, err := netip.ParseAddr(g); err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
	}
	for i, f := range tr.Flows {
		if _, err := netip.ParseAddr(f.Gateway); err != nil {
			return fmt.Errorf("flow %d (row %s): gateway: %w", i, f.Row, err)
		}
		if _, err := netip.ParseAddr(f.Peer); err != nil {
			return fmt.Errorf("flow %d (row %s): peer: %w", i, f.Row, err)
		}
		if f.Direction != "in" && f.Direction != "out" {
			return fmt.Errorf("flow %d (row %s): direction %q", i, f.Row, f.Direction)
		}
		if f.Protocol != "tcp" && f.Protocol != "udp" && f.Protocol != "icmp" {
			return fmt.Errorf("flow %d (row %s): protocol %q", i, f.Row, f.Protocol)
		}
		if !outcomes[f.Outcome] {
			return fmt.Errorf("flow %d (row %s): outcome %q", i, f.Row, f.Outcome)
		}
		if f.Captured != (f.Outcome != "not-captured") {
			return fmt.Errorf("flow %d (row %s): captured %v with outcome %s", i, f.Row, f.Captured, f.Outcome)
		}
	}
	for i, p := range tr.Ports {
		if !statuses[p.Status] {
			return fmt.Errorf("port %d: status %q", i, p.Status)
		}
	}
	return nil
}

// key names the requirement-level group a flow belongs to.
func (f *TruthFlow) key() string { return fmt.Sprintf("%s/%s/%d", f.Direction, f.Protocol, f.Port) }

// Orig is the side that opens the flow (the zero Addr if the truth holds
// an address LoadTruth would have refused).
func (f *TruthFlow) Orig() netip.Addr {
	if f.Direction == "out" {
		return parseOrZero(f.Gateway)
	}
	return parseOrZero(f.Peer)
}

// Resp is the responder: the side whose Port the flow is addressed to.
func (f *TruthFlow) Resp() netip.Addr {
	if f.Direction == "out" {
		return parseOrZero(f.Peer)
	}
	return parseOrZero(f.Gateway)
}

func parseOrZero(s string) netip.Addr {
	a, _ := netip.ParseAddr(s)
	return a
}
