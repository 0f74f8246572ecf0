package checks

import (
	"fmt"
	"slices"
	"sort"

	"github.com/smb-agent/smb-agent/checks/catalog"
	"github.com/smb-agent/smb-agent/configs"
)

// The catalog's decision trees ask questions by fact key
// (checks/catalog/data/facts.yaml); this file answers each key from the
// gathered facts. An answer is one of the fact's documented answers, or
// known=false: the walk then stops there and says the fact is unknown,
// which is better than a guess.

// answerCtx is what an answer may depend on besides the facts: the client
// the finding is about (config.dialect_gap differs per client).
type answerCtx struct {
	f      *Facts
	client configs.ClientProfile
}

type answerFunc func(*answerCtx) (string, bool)

var answerFuncs = map[string]answerFunc{
	"config.loads":                         ansConfigLoads,
	"config.warnings":                      ansConfigWarnings,
	"config.dialect_gap":                   ansDialectGap,
	"config.encryption_blocks_client":      ansEncryptionBlocks,
	"config.signing_blocks_client":         ansSigningBlocks,
	"config.signing_risk_client":           ansSigningRisk,
	"probe.dialect_gap":                    ansLiveDialectGap,
	"probe.live_matches_config":            ansLiveMatchesConfig,
	"config.ntlm_auth":                     ansNTLMAuth,
	"config.smb1_enabled":                  ansSMB1Enabled,
	"config.port_listed":                   ansPortListed,
	"config.bind_covers_target":            ansBindCovers,
	"config.hosts_exclude_client":          ansHostsExclude,
	"config.hosts_exclude_agent":           ansHostsExcludeAgent,
	"config.ipc_user_denied":               ansIPCUserDenied,
	"config.rpc_pipes":                     ansRPCPipes,
	"config.share_state":                   ansShareState,
	"client.smb1_only":                     ansClientSMB1Only,
	"process.smbd_state":                   ansSmbdState,
	"process.uses_conf":                    ansUsesConf,
	"process.started_before_config_change": ansStartedBeforeChange,
	"process.max_smbd_reached":             ansMaxSmbdReached,
	"process.smbd_child_died":              ansChildDied,
	"process.dcerpcd_running":              ansDcerpcdRunning,
	"process.rpc_helpers_ok":               ansRPCHelpersOK,
	"process.rpc_worker_died":              ansRPCWorkerDied,
	"socket.listening_on_port":             ansListeningOnPort,
	"socket.bound_to_target":               ansBoundToTarget,
	"socket.matches_config":                ansSocketsMatchConfig,
	"socket.accept_backlog":                ansAcceptBacklog,
	"firewall.verdict":                     ansFirewallVerdict,
	"net.target_address":                   ansTargetAddress,
	"net.route_to_client":                  ansRouteToClient,
	"probe.dial_error":                     ansDialError,
	"probe.negotiate":                      ansNegotiate,
	"probe.session_setup":                  ansSessionSetup,
	"probe.login_status":                   ansLoginStatus,
	"client.ntlmv1_refused":                ansNTLMv1Refused,
	"probe.share_listing":                  ansShareListing,
	"probe.share_connect":                  ansShareConnect,
	"log.hosts_denied":                     ansLogHostsDenied,
	"log.auth_status":                      ansLogAuthStatus,
	"log.dcerpcd_error":                    ansLogDcerpcdError,
	"account.status":                       ansAccountStatus,
}

// registerAnswer adds the answer function of a fact only one pattern asks
// about, from that pattern's file.
func registerAnswer(key string, fn answerFunc) {
	if _, dup := answerFuncs[key]; dup {
		panic("checks: answer for " + key + " registered twice")
	}
	answerFuncs[key] = fn
}

// AnswerKeys lists the fact keys this package can answer, sorted.
func AnswerKeys() []string {
	keys := make([]string, 0, len(answerFuncs))
	for k := range answerFuncs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Answer answers one decision-tree fact key for client (nil: the default
// client) from f.
func Answer(key string, f *Facts, client *configs.ClientProfile) (string, bool) {
	fn, ok := answerFuncs[key]
	if !ok || f == nil {
		return "", false
	}
	c := &answerCtx{f: f}
	if client != nil {
		c.client = *client
	} else if len(f.Clients) > 0 {
		c.client = f.Clients[0]
	} else {
		c.client, _ = configs.Preset(configs.DefaultClient)
	}
	got, known := fn(c)
	if known {
		// An answer the catalog does not declare for the fact would match
		// no branch, or the wrong one: a programming error that must show
		// in the first test that meets it (runCheck turns the panic into an
		// agent error, never a crash).
		if fact, ok := catalog.LookupFact(key); !ok || !slices.Contains(fact.Answers, got) {
			panic(fmt.Sprintf("checks: answer %q for fact %s is not one the catalog declares", got, key))
		}
	}
	return got, known
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
