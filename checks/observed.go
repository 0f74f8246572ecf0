package checks

import "fmt"

// LiveViewError says why the run could not observe the target at all, or
// "" when it could. The live view was taken when the probe reached the
// target's TCP stack: the primary port accepted, or refused (a refusal is
// an answer from the host: nothing listens there). A name that does not
// resolve, a route that goes nowhere, a connect that times out or fails
// locally (an IPv6 zone that does not exist) leaves the agent blind: the
// report is CRITICAL then (host-unreachable, timeout, connect-failed), and
// `agent fix` refuses to plan a change against a host it never saw. It
// reads the same answer (probe.dial_error) the catalog trees branch on.
func (f *Facts) LiveViewError() string {
	if f == nil || f.Probe == nil {
		return "no probe ran against the target"
	}
	answer, ok := dialError(f)
	switch {
	case !ok:
		return "no TCP connect was attempted to " + f.Probe.Target
	case answer == "none" || answer == "refused":
		return ""
	}
	t, _ := tcpPrimary(f)
	why := t.Error
	if why == "" {
		why = string(t.Class)
	}
	return fmt.Sprintf("tcp connect to %s: %s (%s)", t.Addr, answer, why)
}
