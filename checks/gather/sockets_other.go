//go:build !linux

package gather

import "errors"

// listenersSockDiag needs Linux's sock_diag; elsewhere /proc/net is read.
func listenersSockDiag() ([]Listener, error) { return nil, errors.New("sock_diag: not on Linux") }
