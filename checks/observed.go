package checks

import (
	"fmt"

	"github.com/smb-agent/smb-agent/checks/probe"
)

// LiveViewError says why the run could not observe the target at all, or
// "" when it could. The live view was taken when the probe reached the
// target's TCP stack: the primary port accepted, or refused (a refusal is
// an answer from the host: nothing listens there). A name that does not
// resolve, a route that goes nowhere, a connect that times out or fails
// locally (an IPv6 zone that does not exist) leaves the agent blind, and
// every verdict about the host would be a guess: reports are CRITICAL then,
// and `agent fix` refuses to plan a change against a host it never saw.
func (f *Facts) LiveViewError() string {
	if f == nil || f.Probe == nil {
		return "no probe ran against the target"
	}
	if len(f.Probe.TCP) == 0 {
		return "no TCP connect was attempted to " + f.Probe.Target
	}
	t := f.Probe.TCP[0]
	switch t.Outcome {
	case probe.TCPAccepted, probe.TCPRefused:
		return ""
	}
	why := t.Error
	if why == "" {
		why = string(t.Class)
	}
	return fmt.Sprintf("tcp connect to %s: %s (%s)", t.Addr, t.Outcome, why)
}
