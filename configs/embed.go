package configs

import _ "embed"

// ShippedYAML is configs/agent.yaml: every key with its default and what it
// does. Packaging installs it as /etc/smb-agent/agent.yaml; a test keeps it
// equal to DefaultConfig().
//
//go:embed agent.yaml
var ShippedYAML []byte
