//go:build !faultinject

package fixes

// InjectedFault is the fault hook of the faultinject build; in a normal
// build there is none.
func InjectedFault() func(point, path string) error { return nil }
