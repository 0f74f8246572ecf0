package prometheus

import (
	"encoding/json"
	"fmt"
)

// DashboardExpressions returns every PromQL expression of the dashboard:
// each panel target's and each annotation's, in order.
func DashboardExpressions(dashboard []byte) ([]string, error) {
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Annotations struct {
			List []struct {
				Expr string `json:"expr"`
			} `json:"list"`
		} `json:"annotations"`
	}
	if err := json.Unmarshal(dashboard, &d); err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	var out []string
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			return nil, fmt.Errorf("dashboard: panel %q has no query", p.Title)
		}
		for _, t := range p.Targets {
			if t.Expr == "" {
				return nil, fmt.Errorf("dashboard: panel %q has a target without expr", p.Title)
			}
			out = append(out, t.Expr)
		}
	}
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			out = append(out, a.Expr)
		}
	}
	return out, nil
}
