package checks

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smb-agent/smb-agent/checks/catalog"
	"github.com/smb-agent/smb-agent/checks/probe"
)

// Every fact key the catalog's decision trees ask about has an answer
// function here, and nothing answers a key the catalog does not document.
func TestEveryCatalogFactKeyHasAnAnswer(t *testing.T) {
	_, err := catalog.Load()
	require.NoError(t, err)
	keys := catalog.FactKeys()
	require.NotEmpty(t, keys)
	for _, k := range keys {
		_, ok := answerFuncs[k]
		require.True(t, ok, "no answer function for catalog fact %q", k)
	}
	for _, k := range AnswerKeys() {
		require.True(t, slices.Contains(keys, k), "answer function for %q, which the catalog does not document", k)
	}
}

// Every answer is one of the fact's documented answers, over a spread of
// hand-built hosts.
func TestAnswersAreDocumented(t *testing.T) {
	hosts := map[string]*Facts{
		"healthy":      newFacts(t, "[global]\n", withRemoteIP("10.0.0.5")),
		"min SMB3":     newFacts(t, "[global]\nserver min protocol = SMB3\nhosts deny = 10.0.0.0/8\n", withRemoteIP("10.0.0.5")),
		"refused":      newFacts(t, "[global]\n", withTCP(probe.ClassRefused, probe.TCPRefused), withoutSmbd()),
		"invalid":      newFacts(t, "[global]\nserver min protocol = SMB9\n"),
		"login failed": newFacts(t, "[global]\nntlm auth = disabled\nrpc start on demand helpers = no\n", withLogin(probe.ClassLogonFailure, probe.StatusLogonFailure)),
		"no probe":     newFacts(t, "[global]\n[IPC$]\nhosts allow = 1.2.3.4\n", withoutProbe(), withRemoteIP("10.0.0.5")),
	}
	for name, f := range hosts {
		for _, fact := range catalog.Facts() {
			got, ok := Answer(fact.Key, f, nil)
			if !ok {
				continue
			}
			require.True(t, slices.Contains(fact.Answers, got), "%s: %s answered %q, documented %v", name, fact.Key, got, fact.Answers)
		}
	}
}

func TestAnswerSpotChecks(t *testing.T) {
	f := newFacts(t, "[global]\nserver min protocol = SMB3\nhosts deny = 10.0.0.0/8\n", withRemoteIP("10.0.0.5"))
	for key, want := range map[string]string{
		"config.loads":                "yes",
		"config.dialect_gap":          "min-above-client-max",
		"config.hosts_exclude_client": "global",
		"client.smb1_only":            "no",
		"probe.negotiate":             "no-common-dialect",
		"process.smbd_state":          "responsive",
		"socket.listening_on_port":    "smbd",
		"firewall.verdict":            "accept",
		"probe.dial_error":            "none",
		"config.port_listed":          "yes",
	} {
		got, ok := Answer(key, f, nil)
		require.True(t, ok, key)
		require.Equal(t, want, got, key)
	}
	_, ok := Answer("no.such.key", f, nil)
	require.False(t, ok)
}
