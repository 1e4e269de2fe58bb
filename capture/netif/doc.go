// Package netif asks the kernel about a capture's interface (Linux only):
// the one check both live backends make to end a capture whose interface
// went down or away. It holds the OS-specific code package capture must
// not.
package netif
