package discovery

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/route"
)

// TestDiscoverer runs the informers over fake clients: a cluster appears
// with its token, follows a rotated Secret, and disappears when deleted;
// a cluster in an unselected namespace never appears.
func TestDiscoverer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	scheme := runtime.NewScheme()
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme, map[schema.GroupVersionResource]string{RayClusters: "RayClusterList"},
		rayCluster("team-a", "ray1", tokenMode(nil)), rayCluster("other", "ray1"))
	core := fake.NewClientset(headService("team-a", "ray1"), headService("other", "ray1"), tokenSecret("team-a", "ray1", "first", true))
	changes := make(chan *route.Discovered, 16)
	d, err := New(config.KubernetesDiscovery{Namespaces: []string{"team-a"}, UpstreamFrom: config.UpstreamFromService}, core, dyn,
		slog.New(slog.NewTextHandler(io.Discard, nil)), func(x *route.Discovered) { changes <- x })
	if err != nil {
		t.Fatal(err)
	}
	d.Start(ctx)
	sctx, scancel := context.WithTimeout(ctx, 10*time.Second)
	defer scancel()
	if err := d.WaitForSync(sctx); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, ok func(*route.Discovered) bool) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for !ok(d.Discovered()) {
			select {
			case <-changes:
			case <-deadline:
				t.Fatalf("timed out waiting until %s; have %+v", what, d.Discovered())
			}
		}
	}
	waitFor("team-a/ray1 is served with its token", func(x *route.Discovered) bool {
		c := x.Clusters["team-a/ray1"]
		return c != nil && c.Token == "first"
	})
	if d.Discovered().Clusters["other/ray1"] != nil {
		t.Fatal("a cluster outside the selected namespaces is served")
	}
	s := tokenSecret("team-a", "ray1", "second", true)
	if _, err := core.CoreV1().Secrets("team-a").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("the rotated token is used", func(x *route.Discovered) bool {
		c := x.Clusters["team-a/ray1"]
		return c != nil && c.Token == "second"
	})
	if err := dyn.Resource(RayClusters).Namespace("team-a").Delete(ctx, "ray1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("the deleted cluster is gone", func(x *route.Discovered) bool { return x.Clusters["team-a/ray1"] == nil })
}

// TestPruneSecret keeps nothing of a Secret but its token.
func TestPruneSecret(t *testing.T) {
	s := tokenSecret("team-a", "ray1", "tok", true)
	s.Data["other"] = []byte("x")
	s.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{...}"}
	out, _ := pruneSecret(s)
	p := out.(*corev1.Secret)
	if len(p.Data) != 1 || string(p.Data[TokenKey]) != "tok" || p.Annotations != nil {
		t.Fatalf("pruned = %+v", p)
	}
}
