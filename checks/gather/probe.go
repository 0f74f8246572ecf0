package gather

import (
	"context"
	"slices"
	"time"

	"github.com/smb-agent/smb-agent/checks"
	"github.com/smb-agent/smb-agent/checks/probe"
	"github.com/smb-agent/smb-agent/configs"
)

// probeOptions builds the probe run from the agent config: the target port
// first (every SMB probe uses it), plus 139 when the target is 445 and
// `smb ports` has 139, so that a NetBIOS-port-only listener is seen too.
// When a client profile authenticates with NTLMv1 only, the probe also
// logs in that way, to see what that client sees ("ntlm auth =
// ntlmv2-only" refuses it: libcli/auth/ntlm_check.c; test/
// TestProbeNTLMv1AgainstNTLMv2Only). The
// password is passed through, never stored in Facts.
func probeOptions(cfg *configs.Config, clients []configs.ClientProfile, password string, targetPort int, smbPorts []int, timeout time.Duration) probe.Options {
	ports := []int{targetPort}
	if targetPort == 445 && slices.Contains(smbPorts, 139) {
		ports = append(ports, 139)
	}
	ntlmv1 := false
	for _, c := range clients {
		ntlmv1 = ntlmv1 || c.Auth == configs.AuthNTLMv1
	}
	return probe.Options{
		Ports:      ports,
		Timeout:    timeout,
		User:       cfg.Credentials.User,
		Password:   password,
		Domain:     cfg.Credentials.Domain,
		Guest:      cfg.Credentials.Guest,
		Share:      cfg.Share,
		File:       cfg.File.Path,
		FileSHA256: cfg.File.SHA256,
		NTLMv1:     ntlmv1,
	}
}

const probeName = "the target"

// probeGatherer runs the probes against the target (probe.Run) with what
// is left of the configured timeout, so that the run as a whole stays
// within it (plus the margins), and at least half of it. A serve round
// carries the NT1 answer of the round before when nothing it depends on
// changed (carryNT1).
type probeGatherer struct{}

func (probeGatherer) Name() string                  { return probeName }
func (probeGatherer) Deadline(e *env) time.Duration { return e.untilEnd() }
func (probeGatherer) Failed(*checks.Facts, string)  {}

func (probeGatherer) Gather(ctx context.Context, e *env) (func(*checks.Facts), error) {
	if !e.probing {
		return nil, nil
	}
	budget := max(e.timeout-time.Since(e.began), e.timeout/2)
	popts := probeOptions(e.Config, e.Clients, e.Password, e.port, e.params.SMBPorts, budget)
	popts.CarryNT1 = carryNT1(e.Previous, e.ProcRoot, e.started)
	r := probe.Run(ctx, e.host, popts)
	return func(f *checks.Facts) {
		f.Probe = r
		e.probeResult = r
	}, nil
}
