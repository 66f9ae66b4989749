package authz

import "testing"

func TestMutates(t *testing.T) {
	for _, tc := range []struct {
		action Action
		method string
		want   bool
	}{
		{ActionJobsSubmit, "POST", true},
		{ActionJobsSubmit, "PUT", true}, // package upload
		{ActionJobsSubmit, "GET", true}, // package lookup, part of a submission
		{ActionJobsStop, "POST", true},
		{ActionJobsStopAny, "DELETE", true},
		{ActionServeDeploy, "PUT", true},
		{ActionServeDeploy, "DELETE", true},
		{ActionClusterAdmin, "POST", true},
		{ActionClusterAdmin, "PATCH", true},
		{ActionClusterAdmin, "GET", false},
		{ActionClusterAdmin, "HEAD", false},
		{ActionClusterRead, "GET", false},
		{ActionDashboardView, "GET", false},
		{ActionClusterRead, "POST", true},
		{ActionClusterAdmin, "get", true}, // not a method raygate reads as GET
	} {
		if got := Mutates(tc.action, tc.method); got != tc.want {
			t.Errorf("Mutates(%s, %s) = %v, want %v", tc.action, tc.method, got, tc.want)
		}
	}
}

func TestIsRead(t *testing.T) {
	reads := map[Action]bool{ActionDashboardView: true, ActionClusterRead: true, ActionLogsRead: true}
	for _, a := range Actions {
		if got := IsRead(a); got != reads[a] {
			t.Errorf("IsRead(%s) = %v, want %v", a, got, reads[a])
		}
	}
}
