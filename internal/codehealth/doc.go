// Package codehealth holds no code: its test checks rules on the module's
// source that no compiler or linter in `make lint` checks, such as the
// length of functions.
package codehealth
