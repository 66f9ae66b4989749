package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// NetnsRange is the address range the Kubernetes tests take their /30
// links from; nothing else on the machine uses it.
var NetnsRange = netip.MustParsePrefix("10.250.80.0/20")

// Netns is a network namespace joined to this one by a veth pair: a test
// host of its own, reachable at Addr, for backends that Kubernetes objects
// must point at (the API server refuses loopback addresses).
type Netns struct {
	// Name is the namespace's name (rg-kube-*).
	Name string
	// Host is this side's address; Addr the namespace's.
	Host, Addr netip.Addr
	veth       string
}

// NewNetns creates a namespace named rg-kube-<suffix> on a free /30 of
// NetnsRange. Everything created is removed again on failure.
func NewNetns(suffix string) (*Netns, error) {
	pfx, err := freeLink()
	if err != nil {
		return nil, err
	}
	host := pfx.Addr().Next()
	n := &Netns{Name: "rg-kube-" + suffix, Host: host, Addr: host.Next(), veth: "rgk" + suffix}
	if len(n.veth) > 13 {
		return nil, fmt.Errorf("netns suffix %q too long", suffix)
	}
	steps := [][]string{
		{"netns", "add", n.Name},
		{"link", "add", n.veth + "a", "type", "veth", "peer", "name", n.veth + "b"},
		{"link", "set", n.veth + "b", "netns", n.Name},
		{"addr", "add", n.Host.String() + "/30", "dev", n.veth + "a"},
		{"link", "set", n.veth + "a", "up"},
		{"netns", "exec", n.Name, "ip", "addr", "add", n.Addr.String() + "/30", "dev", n.veth + "b"},
		{"netns", "exec", n.Name, "ip", "link", "set", n.veth + "b", "up"},
		{"netns", "exec", n.Name, "ip", "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			n.Delete()
			return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	return n, nil
}

// freeLink picks a random /30 of NetnsRange that no interface uses.
func freeLink() (netip.Prefix, error) {
	out, err := exec.Command("ip", "-o", "addr").Output()
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("ip addr: %w", err)
	}
	links := 1 << (32 - NetnsRange.Bits() - 2)
	for i := 0; i < 50; i++ {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(links)))
		a := NetnsRange.Addr().As4()
		v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
		v += uint32(k.Int64()) * 4
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 30)
		used := false
		for a := p.Addr(); p.Contains(a); a = a.Next() {
			if strings.Contains(string(out), " "+a.String()+"/") {
				used = true
			}
		}
		if !used {
			return p, nil
		}
	}
	return netip.Prefix{}, fmt.Errorf("no free /30 in %s", NetnsRange)
}

// Delete removes the veth pair and the namespace. Processes started in it
// must be stopped first.
func (n *Netns) Delete() {
	_ = exec.Command("ip", "link", "del", n.veth+"a").Run()
	_ = exec.Command("ip", "netns", "del", n.Name).Run()
}

// Pids lists the processes still running in the namespace.
func (n *Netns) Pids() string {
	out, _ := exec.Command("ip", "netns", "pids", n.Name).Output()
	return strings.TrimSpace(string(out))
}

// StartRayInNetns starts a Ray head with token authentication inside ns,
// on Ray's default ports at ns.Addr (the dashboard on 8265), and waits
// until its Jobs API answers.
func StartRayInNetns(ctx context.Context, venv, dir string, ns *Netns) (*Ray, error) {
	tok := make([]byte, 24)
	_, _ = rand.Read(tok)
	token := hex.EncodeToString(tok)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "rg-ray-")
	if err != nil {
		return nil, err
	}
	ray := filepath.Join(venv, "bin", "ray")
	addr := ns.Addr.String()
	args := []string{"netns", "exec", ns.Name, "env",
		"RAY_AUTH_MODE=token", "RAY_AUTH_TOKEN=" + token, "RAY_USAGE_STATS_ENABLED=0",
		"RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S=0",
		"PATH=" + filepath.Join(venv, "bin") + ":" + os.Getenv("PATH"),
		ray, "start", "--head", "--block", "--disable-usage-stats",
		"--node-ip-address", addr, "--dashboard-host", addr, "--dashboard-port", "8265",
		"--num-cpus", "2", "--temp-dir", tmp,
	}
	proc, err := Start("ray-"+ns.Name, dir, nil, "ip", args...)
	if err != nil {
		return nil, err
	}
	r := &Ray{Name: ns.Name, Proc: proc, Dashboard: "http://" + addr + ":8265", Token: token, TempDir: tmp}
	hdr := http.Header{"X-Ray-Authorization": {"Bearer " + token}}
	if err := WaitHTTP(ctx, proc, r.Dashboard+"/api/jobs/", hdr, 3*time.Minute, func(r *http.Response) bool { return r.StatusCode == 200 }); err != nil {
		r.Stop()
		return nil, fmt.Errorf("ray in %s: %w", ns.Name, err)
	}
	return r, nil
}
