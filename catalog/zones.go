package catalog

import "sort"

// zones is the zone vocabulary the bundled products share, so that one
// site file serves every product. User catalogs may name other zones.
var zones = map[string]string{
	"admins":               "the administrators' workstations (console, web UI, Cockpit)",
	"ai-provider":          "the third-party AI classification service in use",
	"backup-server":        "the FTP, FTPS or SFTP server for backups and transaction logs",
	"clients":              "the users' mail clients and browsers",
	"cluster-peers":        "the other gateways of the same cluster or peer group",
	"directory-servers":    "LDAP / Active Directory servers and domain controllers (also NTLM)",
	"dns-servers":          "the DNS resolvers the gateway is configured with",
	"domain-mail-servers":  "the organisation's internal mail servers",
	"key-servers":          "encryption key servers (LDAP, HTTPS, HKP)",
	"letsencrypt":          "Let's Encrypt validation servers (no published ranges)",
	"lexical-data-server":  "the server lexical data is imported from",
	"mdaemon":              "the MDaemon mail server (Minger, XML API)",
	"microsoft-365":        "Microsoft 365 servers used for user verification",
	"ntp-servers":          "the NTP servers the gateway is configured with",
	"snmp-managers":        "SNMP managers that poll the gateway or receive its traps",
	"spamassassin-mirrors": "SpamAssassin rule update mirrors (see the project's MIRRORED.BY)",
	"syslog-server":        "the central syslog server",
	"vendor-support":       "the vendor's support and update address ranges",
}

// KnownZones lists the shared zone vocabulary, sorted.
func KnownZones() []string {
	out := make([]string, 0, len(zones))
	for z := range zones {
		out = append(out, z)
	}
	sort.Strings(out)
	return out
}

// ZoneDescription says what a zone of the shared vocabulary stands for,
// or "" for a zone only a user catalog names.
func ZoneDescription(name string) string { return zones[name] }
