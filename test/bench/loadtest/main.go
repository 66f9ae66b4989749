// Command loadtest compares raygate with a bare httputil.ReverseProxy under
// the same load, side by side in one run: a small upstream, a bare proxy
// and raygate each run as their own process; wrk drives the bare proxy and
// raygate in alternating rounds; the report gives requests per second and
// CPU time per request of each proxy process, and their ratios.
//
//	go build -o bin/raygate ./cmd/raygate
//	go run ./test/bench/loadtest --raygate bin/raygate [--rounds 3] [--duration 10s]
//
// Ratios carry over between machines; absolute numbers do not.
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

func main() {
	role := flag.String("role", "", "internal: run as upstream or bare proxy")
	addr := flag.String("addr", "", "internal: listen address")
	target := flag.String("target", "", "internal: upstream URL for the bare proxy")
	raygate := flag.String("raygate", "bin/raygate", "raygate binary")
	rounds := flag.Int("rounds", 3, "rounds per proxy")
	duration := flag.Duration("duration", 10*time.Second, "length of one round")
	conns := flag.Int("connections", 32, "wrk connections")
	flag.Parse()
	var err error
	switch *role {
	case "upstream":
		err = serveUpstream(*addr)
	case "bare":
		err = serveBare(*addr, *target)
	default:
		err = compare(*raygate, *rounds, *duration, *conns)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func serveUpstream(addr string) error {
	return http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"version":"4","ray_version":"2.60.0"}`)
	}))
}

// serveBare is the baseline: a reverse proxy with the same tuned transport
// settings raygate uses, and nothing else.
func serveBare(addr, target string) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() },
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second, ResponseHeaderTimeout: 60 * time.Second,
		},
	}
	return http.ListenAndServe(addr, rp)
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func start(name string, args ...string) (*exec.Cmd, error) {
	cmd := exec.Command(name, args...)
	cmd.Stderr = io.Discard
	cmd.Stdout = io.Discard
	return cmd, cmd.Start()
}

func waitUp(url string, hdr string) error {
	for i := 0; i < 100; i++ {
		req, _ := http.NewRequest("GET", url, nil)
		if hdr != "" {
			req.Header.Set("Authorization", hdr)
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not come up", url)
}

type proc struct {
	name, url, auth string
	cmd             *exec.Cmd
	reqs            float64
	cpu             time.Duration
	seconds         float64
}

func compare(raygateBin string, rounds int, d time.Duration, conns int) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return fmt.Errorf("wrk not found (Debian package wrk)")
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	upAddr, bareAddr, rgAddr := freeAddr(), freeAddr(), freeAddr()
	up, err := start(self, "--role", "upstream", "--addr", upAddr)
	if err != nil {
		return err
	}
	defer up.Process.Kill()
	bare, err := start(self, "--role", "bare", "--addr", bareAddr, "--target", "http://"+upAddr)
	if err != nil {
		return err
	}
	defer bare.Process.Kill()

	dir, err := os.MkdirTemp("", "raygate-loadtest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	key := "rg_loadtest_key"
	metricsAddr := freeAddr()
	sum := sha256.Sum256([]byte(key))
	cfg := fmt.Sprintf(`listen: %s
metricsListen: %s
authentication:
  apiKeys: [{name: load, sha256: %s, user: alice, groups: [team-a]}]
clusters:
  - {namespace: team-a, name: ray1, upstream: http://%s, access: [{role: developer, groups: [team-a]}]}
audit: {file: %s}

log: {level: warn}
`, rgAddr, metricsAddr, hex.EncodeToString(sum[:]), upAddr, filepath.Join(dir, "audit.log"))
	cfgPath := filepath.Join(dir, "raygate.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	rgArgs := []string{"serve", "--config", cfgPath, "--reload-interval", "0"}
	if os.Getenv("LOADTEST_PPROF") != "" {
		rgArgs = append(rgArgs, "--pprof")
		fmt.Println("raygate metrics listener (pprof):", metricsAddr)
	}
	rg, err := start(raygateBin, rgArgs...)
	if err != nil {
		return err
	}
	defer rg.Process.Kill()

	procs := []*proc{
		{name: "bare httputil.ReverseProxy", url: "http://" + bareAddr + "/api/version", cmd: bare},
		{name: "raygate (API key, audit to file)", url: "http://" + rgAddr + "/clusters/team-a/ray1/api/version", auth: "Bearer " + key, cmd: rg},
	}
	for _, p := range procs {
		if err := waitUp(p.url, p.auth); err != nil {
			return err
		}
	}
	fmt.Printf("%d rounds of %s each, %d connections, alternating\n", rounds, d, conns)
	for r := 0; r < rounds; r++ {
		for _, p := range procs {
			before, err := cpuTime(p.cmd.Process.Pid)
			if err != nil {
				return err
			}
			n, secs, err := runWrk(p.url, p.auth, d, conns)
			if err != nil {
				return err
			}
			after, _ := cpuTime(p.cmd.Process.Pid)
			p.reqs += n
			p.seconds += secs
			p.cpu += after - before
			fmt.Printf("  round %d  %-34s %9.0f req/s  %6.1f µs CPU/req\n", r+1, p.name, n/secs, float64((after-before).Microseconds())/n)
		}
	}
	fmt.Println()
	base := procs[0]
	for _, p := range procs {
		rps := p.reqs / p.seconds
		cpuPer := float64(p.cpu.Microseconds()) / p.reqs
		fmt.Printf("%-34s %9.0f req/s (x%.2f)  %6.1f µs CPU/req (x%.2f)\n", p.name, rps, rps/(base.reqs/base.seconds), cpuPer, cpuPer/(float64(base.cpu.Microseconds())/base.reqs))
	}
	return nil
}

var reqLine = regexp.MustCompile(`(\d+) requests in ([\d.]+)(m?s)`)

func runWrk(url, auth string, d time.Duration, conns int) (float64, float64, error) {
	args := []string{"-t", "2", "-c", strconv.Itoa(conns), "-d", fmt.Sprintf("%ds", int(d.Seconds()))}
	if auth != "" {
		args = append(args, "-H", "Authorization: "+auth)
	}
	out, err := exec.Command("wrk", append(args, url)...).CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("wrk: %v: %s", err, out)
	}
	if strings.Contains(string(out), "Non-2xx") {
		return 0, 0, fmt.Errorf("wrk saw errors:\n%s", out)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if m := reqLine.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.ParseFloat(m[1], 64)
			secs, _ := strconv.ParseFloat(m[2], 64)
			if m[3] == "ms" {
				secs /= 1000
			} else if m[3] == "m" {
				secs *= 60
			}
			return n, secs, nil
		}
	}
	return 0, 0, fmt.Errorf("cannot read wrk output:\n%s", out)
}

// cpuTime is a process's user+system CPU time from /proc.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks, nil
}
