package probe

import "fmt"

// Class is the classification of one probe step. The values are stable: the
// checks package switches on them and they appear in JSON output.
type Class string

// Classes. Transport classes come from the socket error; the rest from the
// server's NT status or from what the step saw on the wire.
const (
	ClassOK      Class = "ok"
	ClassSkipped Class = "skipped" // an earlier step failed, or the step was not possible

	// Transport.
	ClassRefused     Class = "refused"     // ECONNREFUSED (nothing listening, or a firewall REJECT)
	ClassUnreachable Class = "unreachable" // EHOSTUNREACH / ENETUNREACH
	ClassTimeout     Class = "timeout"     // the deadline passed (silent peer, DROP, SIGSTOPped smbd)
	ClassReset       Class = "reset"       // ECONNRESET / EPIPE
	ClassClosed      Class = "closed"      // the peer closed the connection (EOF)

	// Negotiation.
	ClassNoCommonDialect Class = "no-common-dialect" // STATUS_NOT_SUPPORTED, DialectIndex 0xFFFF, or a hang-up on SMB2 by an SMB1-only server

	// Authentication. Samba answers STATUS_LOGON_FAILURE for a wrong
	// password, an unknown user and a refused NTLMv1 response alike
	// (auth/ntlmssp, source3/auth/auth_util.c map the detail away); only
	// the smbd log tells them apart. ClassNTLMPolicy is set by Run when an
	// NTLMv1 login fails while NTLMv2 with the same credentials succeeds.
	ClassLogonFailure    Class = "logon-failure"    // STATUS_LOGON_FAILURE: bad password or unknown user
	ClassBadPassword     Class = "bad-password"     // STATUS_WRONG_PASSWORD (when a server says so)
	ClassUnknownUser     Class = "unknown-user"     // STATUS_NO_SUCH_USER
	ClassAccountDisabled Class = "account-disabled" // STATUS_ACCOUNT_DISABLED / LOCKED_OUT / EXPIRED / PASSWORD_EXPIRED
	ClassNTLMPolicy      Class = "ntlm-policy"      // NTLMv1 refused by "ntlm auth = ntlmv2-only"
	ClassAccessDenied    Class = "access-denied"    // STATUS_ACCESS_DENIED (e.g. encryption required on SMB2_02/SMB2_10, signing)

	// IPC$ and srvsvc (pysmb's "Unable to connect to IPC$", "Unable to
	// locate/bind to Server Service RPC endpoint").
	ClassIPCUnavailable     Class = "ipc-unavailable"
	ClassRPCEndpointMissing Class = "rpc-endpoint-missing"
	ClassRPCBindFailed      Class = "rpc-bind-failed"

	// Share and file.
	ClassShareMissing Class = "share-missing" // STATUS_BAD_NETWORK_NAME
	ClassShareDenied  Class = "share-denied"  // STATUS_ACCESS_DENIED on the tree connect or the listing
	ClassFileMissing  Class = "file-missing"  // the configured file does not exist
	ClassFileMismatch Class = "file-mismatch" // the file's SHA-256 differs from the expected one

	ClassProtocolError Class = "protocol-error" // malformed or unexpected reply
	ClassError         Class = "error"          // anything else (NT status kept as evidence)
)

// NTStatus is an NTSTATUS code ([MS-ERREF] 2.3). It marshals to JSON as
// "0xC000006D" so that logs and tickets can be searched for it.
type NTStatus uint32

// NT status codes the probes classify or show. go-smb2 keeps its table
// internal, so we keep our own for the codes we care about.
const (
	StatusSuccess                = NTStatus(0x00000000)
	StatusPending                = NTStatus(0x00000103)
	StatusMoreProcessingRequired = NTStatus(0xC0000016)
	StatusInvalidParameter       = NTStatus(0xC000000D)
	StatusAccessDenied           = NTStatus(0xC0000022)
	StatusObjectNameNotFound     = NTStatus(0xC0000034)
	StatusObjectPathNotFound     = NTStatus(0xC000003A)
	StatusNoSuchUser             = NTStatus(0xC0000064)
	StatusWrongPassword          = NTStatus(0xC000006A)
	StatusLogonFailure           = NTStatus(0xC000006D)
	StatusAccountRestriction     = NTStatus(0xC000006E)
	StatusInvalidLogonHours      = NTStatus(0xC000006F)
	StatusInvalidWorkstation     = NTStatus(0xC0000070)
	StatusPasswordExpired        = NTStatus(0xC0000071)
	StatusAccountDisabled        = NTStatus(0xC0000072)
	StatusNotSupported           = NTStatus(0xC00000BB)
	StatusNetworkAccessDenied    = NTStatus(0xC00000CA)
	StatusBadNetworkName         = NTStatus(0xC00000CC)
	StatusRequestNotAccepted     = NTStatus(0xC00000D0)
	StatusPipeDisconnected       = NTStatus(0xC00000B0)
	StatusPipeBroken             = NTStatus(0xC000014B)
	StatusInvalidNetworkResponse = NTStatus(0xC00000C3)
	StatusUserSessionDeleted     = NTStatus(0xC0000203)
	StatusConnectionDisconnected = NTStatus(0xC000020C)
	StatusConnectionRefused      = NTStatus(0xC0000236)
	StatusAccountExpired         = NTStatus(0xC0000193)
	StatusAccountLockedOut       = NTStatus(0xC0000234)
	StatusPasswordMustChange     = NTStatus(0xC0000224)
	StatusNetworkSessionExpired  = NTStatus(0xC000035C)
	StatusIOTimeout              = NTStatus(0xC00000B5)
	StatusNoLogonServers         = NTStatus(0xC000005E)
	StatusNTLMBlocked            = NTStatus(0xC0000418)
	StatusBufferOverflow         = NTStatus(0x80000005)
	StatusNoMoreFiles            = NTStatus(0x80000006)
)

var statusNames = map[NTStatus]string{
	StatusSuccess:                "STATUS_SUCCESS",
	StatusPending:                "STATUS_PENDING",
	StatusMoreProcessingRequired: "STATUS_MORE_PROCESSING_REQUIRED",
	StatusInvalidParameter:       "STATUS_INVALID_PARAMETER",
	StatusAccessDenied:           "STATUS_ACCESS_DENIED",
	StatusObjectNameNotFound:     "STATUS_OBJECT_NAME_NOT_FOUND",
	StatusObjectPathNotFound:     "STATUS_OBJECT_PATH_NOT_FOUND",
	StatusNoSuchUser:             "STATUS_NO_SUCH_USER",
	StatusWrongPassword:          "STATUS_WRONG_PASSWORD",
	StatusLogonFailure:           "STATUS_LOGON_FAILURE",
	StatusAccountRestriction:     "STATUS_ACCOUNT_RESTRICTION",
	StatusInvalidLogonHours:      "STATUS_INVALID_LOGON_HOURS",
	StatusInvalidWorkstation:     "STATUS_INVALID_WORKSTATION",
	StatusPasswordExpired:        "STATUS_PASSWORD_EXPIRED",
	StatusAccountDisabled:        "STATUS_ACCOUNT_DISABLED",
	StatusNotSupported:           "STATUS_NOT_SUPPORTED",
	StatusNetworkAccessDenied:    "STATUS_NETWORK_ACCESS_DENIED",
	StatusBadNetworkName:         "STATUS_BAD_NETWORK_NAME",
	StatusRequestNotAccepted:     "STATUS_REQUEST_NOT_ACCEPTED",
	StatusPipeDisconnected:       "STATUS_PIPE_DISCONNECTED",
	StatusPipeBroken:             "STATUS_PIPE_BROKEN",
	StatusInvalidNetworkResponse: "STATUS_INVALID_NETWORK_RESPONSE",
	StatusUserSessionDeleted:     "STATUS_USER_SESSION_DELETED",
	StatusConnectionDisconnected: "STATUS_CONNECTION_DISCONNECTED",
	StatusConnectionRefused:      "STATUS_CONNECTION_REFUSED",
	StatusAccountExpired:         "STATUS_ACCOUNT_EXPIRED",
	StatusAccountLockedOut:       "STATUS_ACCOUNT_LOCKED_OUT",
	StatusPasswordMustChange:     "STATUS_PASSWORD_MUST_CHANGE",
	StatusNetworkSessionExpired:  "STATUS_NETWORK_SESSION_EXPIRED",
	StatusIOTimeout:              "STATUS_IO_TIMEOUT",
	StatusNoLogonServers:         "STATUS_NO_LOGON_SERVERS",
	StatusNTLMBlocked:            "STATUS_NTLM_BLOCKED",
	StatusBufferOverflow:         "STATUS_BUFFER_OVERFLOW",
	StatusNoMoreFiles:            "STATUS_NO_MORE_FILES",
}

// Name is the symbolic name ("STATUS_LOGON_FAILURE"), or the hex code when
// the code is not in our table.
func (s NTStatus) Name() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return s.Hex()
}

// Hex is the code as smbd logs and Windows tools print it: 0xC000006D.
func (s NTStatus) Hex() string { return fmt.Sprintf("0x%08X", uint32(s)) }

func (s NTStatus) String() string { return s.Name() }

// MarshalText writes the hex code.
func (s NTStatus) MarshalText() ([]byte, error) { return []byte(s.Hex()), nil }

// UnmarshalText reads the hex code back.
func (s *NTStatus) UnmarshalText(b []byte) error {
	var v uint32
	if _, err := fmt.Sscanf(string(b), "0x%08X", &v); err != nil {
		return fmt.Errorf("NT status %q: %w", b, err)
	}
	*s = NTStatus(v)
	return nil
}

// classifyAuthStatus maps a SESSION_SETUP failure status to a class.
func classifyAuthStatus(s NTStatus) Class {
	switch s {
	case StatusLogonFailure:
		return ClassLogonFailure
	case StatusWrongPassword:
		return ClassBadPassword
	case StatusNoSuchUser:
		return ClassUnknownUser
	case StatusAccountDisabled, StatusAccountLockedOut, StatusAccountExpired,
		StatusPasswordExpired, StatusPasswordMustChange, StatusAccountRestriction,
		StatusInvalidLogonHours, StatusInvalidWorkstation:
		return ClassAccountDisabled
	case StatusNTLMBlocked:
		return ClassNTLMPolicy
	case StatusAccessDenied, StatusNetworkAccessDenied:
		// smbd smb2_sesssetup.c: "reject session with dialect[0x0202] as
		// encryption is required", and signing-mandatory refusals.
		return ClassAccessDenied
	case StatusNotSupported:
		return ClassNoCommonDialect
	}
	return ClassError
}
