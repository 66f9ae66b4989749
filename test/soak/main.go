// Command soak runs raygate under a mixed load for a set time and checks
// that nothing drifts: it starts two real Ray clusters with token
// authentication, a real Dex and the raygate binary (as the demo does),
// then several users with different roles read, submit jobs, stop their
// own and others' jobs and tail job logs over WebSocket. Every request's
// status must be the one the role and ownership rules give, every request
// must have its audit records (one response record, after a write-ahead
// request record for a forwarded mutation), and raygate's resident memory,
// goroutines and open file descriptors (read from its metrics listener)
// must stay flat. It prints a short report and exits 1
// on any violation.
//
//	scripts/soak.sh -duration 3m
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/raygate/raygate/test/e2e/harness"
)

func main() {
	var c harness.Components
	flag.StringVar(&c.RayVenv, "ray-venv", os.Getenv("RAYGATE_RAY_VENV"), "virtualenv with ray[default] (scripts/install-ray.sh; default $RAYGATE_RAY_VENV)")
	flag.StringVar(&c.DexBin, "dex", os.Getenv("RAYGATE_DEX_BIN"), "Dex binary (scripts/build-dex.sh; default $RAYGATE_DEX_BIN)")
	flag.StringVar(&c.RaygateBin, "raygate", os.Getenv("RAYGATE_BIN"), "raygate binary (default $RAYGATE_BIN)")
	dir := flag.String("dir", ".cache/soak", "folder for logs, configs and the audit log")
	var o harness.SoakOptions
	flag.DurationVar(&o.Duration, "duration", 3*time.Minute, "how long the load runs")
	flag.IntVar(&o.Workers, "workers", 6, "concurrent request loops")
	flag.IntVar(&o.Tails, "tails", 2, "concurrent WebSocket log tails")
	flag.DurationVar(&o.Think, "think", 20*time.Millisecond, "pause between a worker's requests")
	flag.DurationVar(&o.SubmitEvery, "submit-every", 5*time.Second, "at most one job submission per this interval (each starts a real Ray job)")
	flag.DurationVar(&o.SampleEvery, "sample-every", 5*time.Second, "how often raygate's memory, goroutines and file descriptors are read")
	flag.Parse()
	if c.RayVenv == "" || c.DexBin == "" || c.RaygateBin == "" {
		fmt.Fprintln(os.Stderr, "soak: --ray-venv, --dex and --raygate are required (run scripts/soak.sh)")
		os.Exit(2)
	}
	if o.Duration <= 0 || o.Workers <= 0 || o.Tails < 0 || o.SampleEvery <= 0 {
		fmt.Fprintln(os.Stderr, "soak: -duration, -workers and -sample-every must be positive, -tails not negative")
		os.Exit(2)
	}
	ok, err := run(c, *dir, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
	if !ok {
		os.Exit(1)
	}
}

func run(c harness.Components, dir string, o harness.SoakOptions) (bool, error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false, err
	}
	_ = os.RemoveAll(abs)
	logf := func(f string, a ...any) { fmt.Printf("  "+f+"\n", a...) }
	fmt.Printf("soak: starting Dex, two Ray clusters and raygate (logs in %s)\n", abs)
	s, err := harness.StartStack(ctx, c, abs, harness.StackOptions{Log: logf})
	if err != nil {
		return false, err
	}
	defer s.Stop()
	fmt.Printf("soak: %s of load: %d workers, %d WebSocket tails\n", o.Duration, o.Workers, o.Tails)
	o.Log = logf
	rep, err := harness.Soak(ctx, s, o)
	if err != nil {
		return false, err
	}
	rep.Write(os.Stdout)
	if vs := rep.Violations(); len(vs) > 0 {
		for _, v := range vs {
			fmt.Println("soak: FAIL:", v)
		}
		return false, nil
	}
	fmt.Println("soak: PASS")
	return true, nil
}
