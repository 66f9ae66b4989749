// Command loadtest measures what raygate costs next to the proxy it is
// built on and next to what users would run instead, side by side in one
// run. It starts, each as its own process:
//
//   - an upstream that answers like a Ray head (a small JSON GET, a package
//     upload sink, a job log stream);
//   - the floor: a bare httputil.ReverseProxy over a transport tuned like
//     raygate's;
//   - raygate with OIDC bearer authentication (a real RS256 JWT from a key
//     set this command serves as a local issuer, verified once and then
//     cached), authorization, audit to a file and metrics, once with the
//     same GOGC as the others and once as shipped (its own GC default);
//   - oauth2-proxy, verifying the same bearer JWT against the same issuer.
//
// Every proxy runs with GOMAXPROCS=1, pinned to core 0 with taskset where
// the machine has two cores or more; wrk and the upstream share core 1.
// wrk drives the proxies in interleaved rounds (the order rotates every
// round) at fixed connections; the report gives requests per second, p50
// and p99 latency and CPU time per request of each proxy process (from
// /proc/PID/stat), each also as a ratio to the bare proxy in the same
// round. A one-connection run gives the latency raygate adds, and a
// 500 MiB upload and download through raygate give its resident memory
// during a transfer. The last line is
//
//	ratios: raygate/bare throughput=X.XX cpu=Y.YY; raygate/oauth2-proxy throughput=Z.ZZ
//
// with raygate, the bare proxy and oauth2-proxy all at the same GOGC.
//
//	scripts/bench.sh [--rounds 5] [--duration 10s]
//
// Ratios carry over between machines; absolute numbers do not.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

// options are the command's flags.
type options struct {
	raygate     string
	oauth2Proxy string
	rounds      int
	duration    time.Duration
	conns       int
	latRounds   int
	latDuration time.Duration
	warmup      time.Duration
	gogc        string
	streamMiB   int64
	pprof       bool
}

func main() {
	var o options
	role := flag.String("role", "", "internal: run as upstream or bare proxy")
	addr := flag.String("addr", "", "internal: listen address")
	target := flag.String("target", "", "internal: upstream URL for the bare proxy")
	flag.StringVar(&o.raygate, "raygate", "bin/raygate", "raygate binary")
	flag.StringVar(&o.oauth2Proxy, "oauth2-proxy", "", "oauth2-proxy binary (scripts/build-oauth2-proxy.sh builds v7.15.6)")
	flag.IntVar(&o.rounds, "rounds", 8, "interleaved rounds at --connections")
	flag.DurationVar(&o.duration, "duration", 4*time.Second, "length of one proxy's turn in a round")
	flag.IntVar(&o.conns, "connections", 32, "wrk connections")
	flag.IntVar(&o.latRounds, "latency-rounds", 6, "interleaved rounds at one connection")
	flag.DurationVar(&o.latDuration, "latency-duration", 3*time.Second, "length of one proxy's turn at one connection")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "unmeasured load on each proxy before the rounds")
	flag.StringVar(&o.gogc, "gogc", "100", "GOGC of every proxy in the like-for-like comparison")
	flag.Int64Var(&o.streamMiB, "stream-mib", 500, "size of the upload and the download streamed through raygate (0 skips them)")
	flag.BoolVar(&o.pprof, "pprof", false, "start raygate with --pprof and print its metrics address")
	stream := flag.Int64("stream-bytes", 0, "internal: bytes the upstream's log stream sends")
	flag.Parse()
	var err error
	switch *role {
	case "upstream":
		err = serveUpstream(*addr, *stream)
	case "bare":
		err = serveBare(*addr, *target)
	case "":
		err = run(o)
	default:
		err = fmt.Errorf("unknown role %q", *role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}
