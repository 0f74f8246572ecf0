package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	smb2 "github.com/hirochachacha/go-smb2"
	"github.com/stretchr/testify/require"
)

func TestClassify(t *testing.T) {
	opErr := func(errno syscall.Errno) error {
		return &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}
	}
	for _, tc := range []struct {
		name   string
		err    error
		class  Class
		status NTStatus
	}{
		{"nil", nil, ClassOK, 0},
		{"refused", opErr(syscall.ECONNREFUSED), ClassRefused, 0},
		{"host unreachable", opErr(syscall.EHOSTUNREACH), ClassUnreachable, 0},
		{"net unreachable", opErr(syscall.ENETUNREACH), ClassUnreachable, 0},
		{"connect timed out", opErr(syscall.ETIMEDOUT), ClassTimeout, 0},
		{"reset", opErr(syscall.ECONNRESET), ClassReset, 0},
		{"broken pipe", opErr(syscall.EPIPE), ClassReset, 0},
		{"deadline", fmt.Errorf("read: %w", os.ErrDeadlineExceeded), ClassTimeout, 0},
		{"ctx deadline", context.DeadlineExceeded, ClassTimeout, 0},
		{"eof", io.EOF, ClassClosed, 0},
		{"unexpected eof", io.ErrUnexpectedEOF, ClassClosed, 0},
		{"frame", frameErr("x"), ClassProtocolError, 0},
		// go-smb2's types, which do not implement Unwrap (v1.1.0 errors.go).
		{"smb2 transport eof", &smb2.TransportError{Err: io.EOF}, ClassClosed, 0},
		{"smb2 transport reset", &smb2.TransportError{Err: opErr(syscall.ECONNRESET)}, ClassReset, 0},
		{"smb2 transport frame", &smb2.TransportError{Err: frameErr("short")}, ClassProtocolError, 0},
		{"smb2 context timeout", &smb2.ContextError{Err: context.DeadlineExceeded}, ClassTimeout, 0},
		{"smb2 context canceled", &smb2.ContextError{Err: context.Canceled}, ClassError, 0},
		{"smb2 invalid", &smb2.InvalidResponseError{Message: "broken"}, ClassProtocolError, 0},
		{"smb2 internal", &smb2.InternalError{Message: "x"}, ClassError, 0},
		{"not supported", &smb2.ResponseError{Code: uint32(StatusNotSupported)}, ClassNoCommonDialect, StatusNotSupported},
		{"logon failure", fmt.Errorf("login: %w", &smb2.ResponseError{Code: uint32(StatusLogonFailure)}), ClassLogonFailure, StatusLogonFailure},
		{"disabled", &smb2.ResponseError{Code: uint32(StatusAccountDisabled)}, ClassAccountDisabled, StatusAccountDisabled},
		{"no such user", &smb2.ResponseError{Code: uint32(StatusNoSuchUser)}, ClassUnknownUser, StatusNoSuchUser},
		{"bad network name", &smb2.ResponseError{Code: uint32(StatusBadNetworkName)}, ClassShareMissing, StatusBadNetworkName},
		{"path error wraps", &os.PathError{Op: "open", Path: "srvsvc", Err: &smb2.ResponseError{Code: uint32(StatusConnectionRefused)}}, ClassRPCEndpointMissing, StatusConnectionRefused},
		{"permission", os.ErrPermission, ClassAccessDenied, StatusAccessDenied},
		{"status error", &StatusError{Op: "x", Class: ClassNTLMPolicy, Status: StatusLogonFailure}, ClassNTLMPolicy, StatusLogonFailure},
		{"other", errors.New("boom"), ClassError, 0},
	} {
		c, st := Classify(tc.err)
		require.Equal(t, tc.class, c, tc.name)
		require.Equal(t, tc.status, st, tc.name)
	}
}

func TestFailuresOrderAndScope(t *testing.T) {
	r := &Result{
		TCP:      []TCPResult{{Port: 445, Step: Step{Class: ClassOK}}, {Port: 139, Step: Step{Class: ClassRefused}}},
		SMB1:     []SMB1Result{{Offer: OfferPysmb, Step: Step{Class: ClassNoCommonDialect}}, {Offer: OfferNT1, Step: Step{Class: ClassNoCommonDialect}}},
		Dialects: []DialectResult{{Dialect: SMB2_02, Negotiate: SMB2Result{Step: Step{Class: ClassNoCommonDialect}}}},
		Multi:    SMB2Result{Step: Step{Class: ClassOK}},
		Login:    &LoginResult{Step: Step{Class: ClassOK}},
		IPC:      &Step{Class: ClassOK},
		Shares:   &SharesResult{Step: Step{Class: ClassRPCEndpointMissing}},
		Share:    &ShareResult{Step: Step{Class: ClassSkipped}, List: Step{Class: ClassSkipped}},
	}
	// The NT1 offer and a single refused dialect are facts, not failures.
	require.Equal(t, []Failure{
		{Step: "tcp:139", Class: ClassRefused},
		{Step: "smb1:pysmb", Class: ClassNoCommonDialect},
		{Step: "shares", Class: ClassRPCEndpointMissing},
	}, r.Failures())
}

// TestStepsNamesEveryStep: the timings and metrics take their step names
// from Steps, so every recorded step is there, once, in a fixed order.
func TestStepsNamesEveryStep(t *testing.T) {
	ok := Step{Class: ClassOK}
	r := &Result{
		TCP:       []TCPResult{{Port: 445, Step: ok}},
		SMB1:      []SMB1Result{{Offer: OfferPysmb, Step: ok, Accepted: false, Login: &SessionResult{Step: ok}}, {Offer: OfferNT1, Step: ok}},
		Dialects:  []DialectResult{{Dialect: SMB2_02, Negotiate: SMB2Result{Step: ok}, Login: &ok}, {Dialect: SMB3_11, Negotiate: SMB2Result{Step: ok}}},
		Multi:     SMB2Result{Step: ok},
		Login:     &LoginResult{Step: ok},
		Anonymous: &SessionResult{Step: ok},
		NTLMv1:    &SessionResult{Step: ok},
		IPC:       &ok,
		Shares:    &SharesResult{Step: ok},
		Share:     &ShareResult{Step: ok, List: ok},
		File:      &FileResult{Step: ok},
	}
	var names []string
	classes := map[string]Class{}
	for _, s := range r.Steps() {
		names = append(names, s.Name)
		classes[s.Name] = s.Step.Class
	}
	require.Equal(t, []string{"tcp:445", "smb1:pysmb", "smb1:pysmb:login", "smb1:nt1", "negotiate:SMB2_02", "login:SMB2_02",
		"negotiate:SMB3_11", "negotiate", "login", "anonymous", "ntlmv1", "ipc", "shares", "share", "share-list", "file"}, names)
	require.Equal(t, ClassNoCommonDialect, classes["smb1:pysmb"], "an answered pysmb offer with no dialect chosen is the scorer's failure")
	require.Equal(t, ClassOK, classes["smb1:nt1"])
	require.Equal(t, []Failure{{Step: "smb1:pysmb", Class: ClassNoCommonDialect}}, r.Failures())
}

func TestRefineSMB1OnlyAndNTLMPolicy(t *testing.T) {
	r := &Result{
		SMB1:     []SMB1Result{{Offer: OfferNT1, Accepted: true}},
		Dialects: []DialectResult{{Dialect: SMB2_02, Negotiate: SMB2Result{Step: Step{Class: ClassClosed}}}},
		Multi:    SMB2Result{Step: Step{Class: ClassClosed}},
		Login:    &LoginResult{Step: Step{Class: ClassOK}},
		NTLMv1:   &SessionResult{Step: Step{Class: ClassLogonFailure}},
	}
	refine(r)
	require.Equal(t, ClassNoCommonDialect, r.Dialects[0].Negotiate.Class)
	require.Equal(t, ClassNoCommonDialect, r.Multi.Class)
	require.Equal(t, ClassNTLMPolicy, r.NTLMv1.Class)

	// A guest login proves nothing about the credentials: no verdict.
	r2 := &Result{Login: &LoginResult{Guest: true, Step: Step{Class: ClassOK}}, NTLMv1: &SessionResult{Step: Step{Class: ClassLogonFailure}}}
	refine(r2)
	require.Equal(t, ClassLogonFailure, r2.NTLMv1.Class)
	// Without an NT1 answer, a hang-up stays a hang-up.
	r3 := &Result{Multi: SMB2Result{Step: Step{Class: ClassClosed}}}
	refine(r3)
	require.Equal(t, ClassClosed, r3.Multi.Class)
}
