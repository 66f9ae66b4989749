package main

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/test/e2e/harness"
)

// TestPolicyMatchesDemo keeps test/demo/raygate.yaml, the demo's policy
// that raygate explain and its kin read in the docs and goldens, equal to
// what scripts/demo.sh serves.
func TestPolicyMatchesDemo(t *testing.T) {
	cfg, err := config.LoadPolicy("raygate.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, c := range cfg.Clusters {
		for _, b := range c.Access {
			got[c.Namespace+"/"+c.Name] = append(got[c.Namespace+"/"+c.Name],
				fmt.Sprintf("{role: %s, groups: [%s]}", b.Role, strings.Join(b.Groups, ", ")))
		}
	}
	if !reflect.DeepEqual(got, harness.DemoAccess) {
		t.Fatalf("test/demo/raygate.yaml binds\n%v\nthe demo binds\n%v", got, harness.DemoAccess)
	}
	if k := cfg.Authentication.APIKeys; len(k) != 1 || k[0].User != "ci-bot" || !reflect.DeepEqual(k[0].Groups, []string{"team-a"}) {
		t.Fatalf("API keys %+v, the demo has ci-bot in team-a", k)
	}
	want := config.OIDC{Audiences: []string{harness.ClientID, harness.CLIClientID}, CLIClientID: harness.CLIClientID, Login: true, ClientID: harness.ClientID}
	if o := cfg.Authentication.OIDC; len(o) != 1 || !reflect.DeepEqual(o[0].Audiences, want.Audiences) || o[0].CLIClientID != want.CLIClientID ||
		o[0].Login != want.Login || o[0].ClientID != want.ClientID {
		t.Fatalf("issuer %+v, the demo's is %+v", o, want)
	}
}
