package checks

import "time"

// Host facts: the parts of Facts that describe the machine itself (files,
// processes, sockets, firewall, logs), each filled by one gatherer.

// Target is the address the probes use.
type Target struct {
	Host string `json:"host"`
	Port int    `json:"port"`
}

// FileStat is one configuration file's state.
type FileStat struct {
	Path    string    `json:"path"`
	ModTime time.Time `json:"mod_time"`
	Size    int64     `json:"size"`
	Err     string    `json:"error,omitempty"`
}

// Process is one process from /proc.
type Process struct {
	PID   int    `json:"pid"`
	PPID  int    `json:"ppid"`
	Comm  string `json:"comm"`
	State string `json:"state"` // R, S, D, T (stopped), Z, ...
	// Started is when it started (from /proc/PID/stat and btime).
	Started time.Time `json:"started"`
	Args    []string  `json:"args,omitempty"`
}

// SmbdFacts describes the smbd serving Target, if any.
type SmbdFacts struct {
	// Running: an smbd master process exists for this config (or listens
	// on the target port).
	Running bool `json:"running"`
	// Master is the parent smbd: the process that owns the listening
	// socket of the target port, else the PID in the pid file.
	Master *Process `json:"master,omitempty"`
	// PIDFile is the pid file read (in `pid directory`), PIDFromFile its
	// content (0 if missing) and PIDFileErr why it could not be read.
	PIDFile     string `json:"pid_file,omitempty"`
	PIDFromFile int    `json:"pid_from_file,omitempty"`
	PIDFileErr  string `json:"pid_file_error,omitempty"`
	// ConfigPath is the smb.conf the master was started with (-s,
	// --configfile, or the compiled-in default).
	ConfigPath string `json:"config_path,omitempty"`
	// Children are the master's child processes (per-client smbd,
	// smbd-notifyd, smbd-cleanupd).
	Children []Process `json:"children,omitempty"`
	// Dcerpcd are samba-dcerpcd and rpcd_* processes serving this config.
	Dcerpcd []Process `json:"dcerpcd,omitempty"`
	// OtherSmbd are smbd masters found that serve other configs.
	OtherSmbd []Process `json:"other_smbd,omitempty"`
	Err       string    `json:"error,omitempty"`
}

// Listener is a listening TCP socket (sock_diag, or /proc/net/tcp{,6}).
type Listener struct {
	Addr string `json:"addr"` // IP literal, "0.0.0.0" / "::" for any
	Port int    `json:"port"`
	// Backlog is the accept queue length (rx_queue of a LISTEN socket):
	// connections waiting for a stopped or wedged smbd.
	Backlog int    `json:"backlog"`
	Inode   uint64 `json:"inode"`
	// PID owns the socket, when it could be found (0 otherwise).
	PID int `json:"pid,omitempty"`
	// Family is "tcp" (IPv4) or "tcp6" (IPv6), as /proc/net names them. An
	// IPv4-mapped tcp6 listener (::ffff:a.b.c.d) is shown with Addr
	// a.b.c.d, and "::" may or may not take IPv4 (Samba sets IPV6_V6ONLY
	// on its own v6 sockets).
	Family string `json:"family,omitempty"`
}

// SocketFacts are the listening sockets on the SMB ports.
type SocketFacts struct {
	Listeners []Listener `json:"listeners"`
	Err       string     `json:"error,omitempty"`
}

// FirewallRule is one rule that touches an SMB port.
type FirewallRule struct {
	Tool   string `json:"tool"` // nft, iptables, ip6tables
	Table  string `json:"table,omitempty"`
	Chain  string `json:"chain,omitempty"`
	Text   string `json:"text"` // the rule as the tool prints it
	Ports  []int  `json:"ports"`
	Action string `json:"action"` // drop, reject, accept
	// RejectWith is the reject type (icmp port-unreachable, tcp reset,
	// host-prohibited, admin-prohibited, ...): it decides what errno the
	// client sees (111 or 113).
	RejectWith string `json:"reject_with,omitempty"`
	// Source is the rule's source match, "" = any: addresses or networks,
	// comma-separated ("10.0.0.0/8", a named set expanded), "!" in front
	// when negated, and/or "iif NAME" for an input interface match,
	// space-separated when a rule has both.
	Source  string `json:"source,omitempty"`
	Packets uint64 `json:"packets,omitempty"`
	// Hook is the netfilter hook of the rule's chain (input, prerouting,
	// ingress), "" for a chain reached by a jump. Rules are listed in the
	// order the kernel evaluates them within each chain.
	Hook string `json:"hook,omitempty"`
	// Policy marks the chain's default verdict (the last rule of a base
	// chain): "policy drop" on input with no accept for 445 before it is
	// the classic way a firewall blocks SMB.
	Policy bool `json:"policy,omitempty"`
}

// FirewallFacts are the firewall rules that touch 445/139.
type FirewallFacts struct {
	// Tools lists the tools that were found and read.
	Tools []string       `json:"tools"`
	Rules []FirewallRule `json:"rules"`
	Err   string         `json:"error,omitempty"`
}

// LogLine is one notable line from smbd's logs.
type LogLine struct {
	File string    `json:"file"`
	Line int       `json:"line"`
	Time time.Time `json:"time"`
	// Kind classifies it: negotiate-offer, no-protocol, auth-failure,
	// account-disabled, denied, rpc-helper, encryption-required,
	// not-permitted, bad-signature, config-load-failed, ...
	Kind string `json:"kind"`
	// ClientIP is the client's address, when the line names one.
	ClientIP string `json:"client_ip,omitempty"`
	Text     string `json:"text"`
	// Offset is the byte offset of the entry in File (Line is 0 when the
	// file was read from the middle: only its last logs.max_bytes are).
	Offset int64 `json:"offset,omitempty"`
	// User and Status are the account and NT status an authentication
	// line names ("root", "NT_STATUS_WRONG_PASSWORD").
	User   string `json:"user,omitempty"`
	Status string `json:"nt_status,omitempty"`
}

// ClientOffer is what one client offered in a failed negotiation, read
// from "Requested protocol [...]" lines (debug level 3 for class smb2).
type ClientOffer struct {
	ClientIP string    `json:"client_ip"`
	Time     time.Time `json:"time"`
	// Dialects are the offered dialect strings ("NT LM 0.12", "SMB 2.002").
	Dialects []string `json:"dialects"`
	// NoProtocol: smbd answered "No protocol supported !".
	NoProtocol bool   `json:"no_protocol"`
	File       string `json:"file"`
	Line       int    `json:"line"`
	// Offset is the byte offset of the first "Requested protocol" entry
	// in File (Line is 0 when only the file's tail was read).
	Offset int64 `json:"offset,omitempty"`
}

// LogFacts is what smbd's logs say.
type LogFacts struct {
	// Sources are the files (or "journal") read.
	Sources []string `json:"sources"`
	// Level is smbd's effective debug level per class ("all", "smb2",
	// "auth_audit"), from `log level` and smbd's -d; it decides which
	// evidence can exist at all.
	Level  map[string]int `json:"level"`
	Lines  []LogLine      `json:"lines"`
	Offers []ClientOffer  `json:"offers"`
	Err    string         `json:"error,omitempty"`
	// LevelSource says where Level comes from: "smbd -d 3", "log level =
	// 1 smb2:3 (FILE:LINE)", or that no `log level` line exists, so smbd
	// runs at 0 although testparm prints 1 (observed on Samba 4.17.12,
	// TestGatherDefaultLogLevelIsTooLow).
	LevelSource string `json:"level_source,omitempty"`
}

// Log kinds (LogLine.Kind). Each names the smbd message it comes from and
// the debug level at which smbd writes it (measured on Samba 4.17.12 with
// "log file = .../log.%m"; source lines where the message names one).
const (
	LogNegotiateOffer        = "negotiate-offer"         // "Requested protocol [X]", smb2:3 (smb2_negprot.c:1106, or smb1_negprot.c with SMB1 on); level 3 of the default class on 4.13 (behaviour registry)
	LogNoProtocol            = "no-protocol"             // "No protocol supported !", smb2:3 (smb2_negprot.c:1153)
	LogNegotiateNotSupported = "negotiate-not-supported" // native SMB2 NEGOTIATE below min/above max: NT_STATUS_NOT_SUPPORTED at smb2_negprot.c, smb2:3
	LogAuthFailure           = "auth-failure"            // "Auth: [...] status [NT_STATUS_...]" (auth_audit:2), "check_ntlm_password ... FAILED" (auth:2); one line per failed login at every level (the gatherer pairs the two)
	LogNTLMv1Refused         = "ntlmv1-refused"          // "NTLMv1 passwords NOT PERMITTED" (ntlm auth = ntlmv2-only), level 2
	LogAccountDisabled       = "account-disabled"        // "sam_account_ok: Account for user 'X' was disabled.", level 1
	LogDenied                = "denied"                  // "Denied connection from H (IP)", level 0 (hosts allow/deny)
	LogEncryptionRequired    = "encryption-required"     // "reject session with dialect[0x0202] as encryption is required", level 1
	LogNotPermitted          = "not-permitted"           // "... not permitted to access this share (S)", level 1
	LogBadSignature          = "bad-signature"           // "Bad SMB2 (sign_algo_id=N) signature for message" ("Bad SMB2 signature for message" on 4.13), level 0
	LogRPCHelper             = "rpc-helper"              // "Can't connect to a running samba-dcerpcd", level 0
	LogRPCExecFailed         = "rpc-exec-failed"         // "sys_popenv: ERROR executing command '.../rpcd_classic'", level 0
	LogConfigLoadFailed      = "config-load-failed"      // "Failed to load config file!", "Can't load X - run testparm" ("error opening config file 'X'" on 4.13), level 0
	LogInvalidValue          = "invalid-value"           // "Ignoring invalid value 'X' for parameter 'Y'", level 0
	LogNonSMBPacket          = "non-smb-packet"          // "Non-SMB packet of length N. Terminating server" (SMB1-only server, SMB2 client), level 2
	LogSocketFailed          = "socket-failed"           // "smbd_open_one_socket: open_socket_in: ..." (bind failed), level 0
	LogPipeDirFailed         = "pipe-dir-failed"         // "Failed to create pipe directory" (ncalrpc dir), level 0
)
