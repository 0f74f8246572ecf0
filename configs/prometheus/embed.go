// Package prometheus holds what a Prometheus and Grafana set-up needs to
// watch a fleet of smb-agent hosts: recording and alerting rules
// (smb-agent-rules.yml, unit-tested by rules_test.yml with promtool) and a
// provisioning-ready Grafana dashboard. The files are embedded so that the
// end-to-end tests load exactly what ships.
package prometheus

import _ "embed"

// Rules is smb-agent-rules.yml.
//
//go:embed smb-agent-rules.yml
var Rules []byte

// Dashboard is the Grafana dashboard, grafana-smb-agent-fleet.json.
//
//go:embed grafana-smb-agent-fleet.json
var Dashboard []byte

// RulesFile and DashboardFile are the files' names in this directory.
const (
	RulesFile     = "smb-agent-rules.yml"
	DashboardFile = "grafana-smb-agent-fleet.json"
)
