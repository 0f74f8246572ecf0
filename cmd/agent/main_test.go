package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestIsServe(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"serve"}, true},
		{[]string{"--config", "/etc/smb-agent/agent.yaml", "serve", "--listen", "127.0.0.1:9445"}, true},
		{[]string{"--config=/x.yaml", "serve"}, true},
		{[]string{"diagnose", "--json"}, false},
		{[]string{"config", "dump"}, false},
		{[]string{"--config", "serve", "diagnose"}, false},
		{nil, false},
	} {
		require.Equal(t, tc.want, command(tc.args) == "serve", "%q", tc.args)
	}
}

func TestCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"config", "dump", "--smb-conf", "x"}, "config"},
		{[]string{"--config", "/etc/smb-agent/agent.yaml", "config", "get", "path"}, "config"},
		{[]string{"--config", "config"}, ""},
		{[]string{"-v", "diagnose"}, "diagnose"},
		{nil, ""},
	} {
		require.Equal(t, tc.want, command(tc.args), "%q", tc.args)
	}
}
