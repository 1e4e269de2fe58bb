// Package deptest holds no code: its test checks that the module's
// packages import only what they may (docs layering: cmd -> analyze ->
// capture, catalog; no test code or OS-specific code where it must not
// be), as tailscale's tstest/deptest does, so that layering stays true
// without review.
package deptest
