package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Ray is a running single-node Ray cluster with token authentication on.
type Ray struct {
	Name string
	Proc *Proc
	// Dashboard is the base URL of the dashboard/Jobs API.
	Dashboard string
	// Token is the cluster's Ray token; TokenFile holds it.
	Token, TokenFile string
	// TempDir is the cluster's Ray temp dir.
	TempDir string
}

// Offsets of a cluster's ports from its base port. Every cluster on the
// machine gets its own base, so several run side by side.
const (
	offGCS        = 379
	offDashboard  = 265
	offClient     = 1
	offAgentHTTP  = 365
	offAgentGRPC  = 366
	offMetrics    = 80
	offNodeMgr    = 10
	offObjectMgr  = 11
	offRuntimeEnv = 12
	offMinWorker  = 500
	offMaxWorker  = 899
)

// StartRay starts `ray start --head --block` from the virtualenv venv,
// with its temp dir and token file under dir.
func StartRay(ctx context.Context, venv, dir, name string) (*Ray, error) {
	base, err := pickBase()
	if err != nil {
		return nil, err
	}
	tok := make([]byte, 24)
	_, _ = rand.Read(tok)
	token := hex.EncodeToString(tok)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tokenFile := filepath.Join(dir, name+".token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		return nil, err
	}
	// Ray's socket paths must stay short: keep the temp dir under /tmp.
	tmp, err := os.MkdirTemp("", "rg-ray-")
	if err != nil {
		return nil, err
	}
	p := func(off int) string { return strconv.Itoa(base + off) }
	args := []string{"start", "--head", "--block", "--disable-usage-stats",
		"--port", p(offGCS), "--dashboard-host", "127.0.0.1", "--dashboard-port", p(offDashboard),
		"--ray-client-server-port", p(offClient), "--dashboard-agent-listen-port", p(offAgentHTTP),
		"--dashboard-agent-grpc-port", p(offAgentGRPC), "--metrics-export-port", p(offMetrics),
		"--node-manager-port", p(offNodeMgr), "--object-manager-port", p(offObjectMgr),
		"--runtime-env-agent-port", p(offRuntimeEnv),
		"--min-worker-port", p(offMinWorker), "--max-worker-port", p(offMaxWorker),
		"--num-cpus", "2", "--temp-dir", tmp,
	}
	env := []string{
		"RAY_AUTH_MODE=token", "RAY_AUTH_TOKEN=" + token,
		"PATH=" + filepath.Join(venv, "bin") + ":" + os.Getenv("PATH"),
		"RAY_USAGE_STATS_ENABLED=0",
		// Stop at once on SIGTERM instead of draining for 30s.
		"RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S=0",
	}
	proc, err := Start("ray-"+name, dir, env, filepath.Join(venv, "bin", "ray"), args...)
	if err != nil {
		return nil, err
	}
	r := &Ray{Name: name, Proc: proc, Dashboard: "http://127.0.0.1:" + p(offDashboard), Token: token, TokenFile: tokenFile, TempDir: tmp}
	hdr := http.Header{"X-Ray-Authorization": {"Bearer " + token}}
	if err := WaitHTTP(ctx, proc, r.Dashboard+"/api/jobs/", hdr, 3*time.Minute, func(r *http.Response) bool { return r.StatusCode == 200 }); err != nil {
		r.Stop()
		return nil, fmt.Errorf("ray %s: %w", name, err)
	}
	return r, nil
}

// Stop stops the cluster and removes its temp dir.
func (r *Ray) Stop() {
	r.Proc.Stop(30 * time.Second)
	_ = os.RemoveAll(r.TempDir)
}

// pickBase finds a base port whose cluster ports are all free, away from
// the kernel's ephemeral range and Ray's default worker ports.
func pickBase() (int, error) {
	for i := 0; i < 50; i++ {
		n, _ := rand.Int(rand.Reader, big.NewInt(9))
		base := 20000 + int(n.Int64())*1000
		ports := []int{}
		for _, off := range []int{offGCS, offDashboard, offClient, offAgentHTTP, offAgentGRPC, offMetrics, offNodeMgr, offObjectMgr, offRuntimeEnv, offMinWorker, offMaxWorker} {
			ports = append(ports, base+off)
		}
		if portsFree(ports...) && claimBase(base) {
			return base, nil
		}
	}
	return 0, fmt.Errorf("no free port range for a Ray cluster")
}

var claimed = map[int]bool{}

// claimBase keeps two clusters started at once in one process apart.
func claimBase(base int) bool {
	mu.Lock()
	defer mu.Unlock()
	if claimed[base] {
		return false
	}
	claimed[base] = true
	return true
}
