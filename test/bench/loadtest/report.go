package main

import (
	"fmt"
	"time"
)

// Targets the report checks (none of them is a unit test: they are read
// off this command's output on a quiet machine).
const (
	minThroughput   = 0.95                  // raygate ÷ bare, like for like
	maxCPU          = 1.10                  // raygate ÷ bare, CPU per request, like for like
	minVsOAuth2     = 6.0                   // raygate ÷ oauth2-proxy, throughput
	maxAddedP50     = 50 * time.Microsecond // at one connection
	maxStreamGrowth = 32 << 20              // RSS growth during a streamed transfer
)

func report(targets []*target, heavy, light rounds, streams []streamResult, o options) {
	fmt.Printf("\nsummary at %d connections (medians over %d rounds; a ratio is the median of each turn's figure over the bare turn next to it)\n", o.conns, len(heavy))
	fmt.Printf("  %-20s %9s %9s %9s %10s | %-26s\n", "proxy", "req/s", "p50 ms", "p99 ms", "CPU µs/req", "÷ bare: req/s p50 p99 CPU")
	for _, t := range targets {
		s := heavy.summarize(t.name)
		fmt.Printf("  %-20s %9.0f %9.3f %9.3f %10.1f | %5.2f %5.2f %5.2f %5.2f\n", t.name, s.s.rps(), ms(s.s.p50), ms(s.s.p99), us(s.s.cpuPerReq),
			s.vsBare.rps, s.vsBare.p50, s.vsBare.p99, s.vsBare.cpu)
	}
	fmt.Printf("\nsummary at 1 connection (medians over %d rounds; p50 added over the bare turn next to it)\n", len(light))
	fmt.Printf("  %-20s %9s %9s %9s %14s\n", "proxy", "req/s", "p50 ms", "p99 ms", "p50 added, ms")
	for _, t := range targets {
		s := light.summarize(t.name)
		fmt.Printf("  %-20s %9.0f %9.3f %9.3f %14.3f\n", t.name, s.s.rps(), ms(s.s.p50), ms(s.s.p99), ms(s.addedP50))
	}

	rg, ship := heavy.summarize(nameRaygate), heavy.summarize(nameShipped)
	rgLight := light.summarize(nameRaygate)
	fmt.Printf("\nraygate as shipped (its default GOGC; the others at GOGC=%s): ÷ bare throughput %.2f, CPU %.2f; ÷ oauth2-proxy throughput %.2f\n",
		o.gogc, ship.vsBare.rps, ship.vsBare.cpu, ship.vsOAuth2)

	fmt.Printf("\ntargets (like for like, GOGC=%s everywhere)\n", o.gogc)
	check := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Printf("  raygate ÷ bare throughput at %d connections  %.2f  (≥ %.2f) %s\n", o.conns, rg.vsBare.rps, minThroughput, check(rg.vsBare.rps >= minThroughput))
	fmt.Printf("  raygate ÷ bare CPU per request              %.2f  (≤ %.2f) %s\n", rg.vsBare.cpu, maxCPU, check(rg.vsBare.cpu <= maxCPU))
	fmt.Printf("  raygate ÷ oauth2-proxy throughput           %.2f  (≥ %.0f) %s\n", rg.vsOAuth2, minVsOAuth2, check(rg.vsOAuth2 >= minVsOAuth2))
	fmt.Printf("  p50 added at 1 connection                   %.3f ms (≤ %.3f ms) %s\n", ms(rgLight.addedP50), ms(maxAddedP50), check(rgLight.addedP50 <= maxAddedP50))
	for _, s := range streams {
		if s.target == nameBare {
			continue
		}
		g := s.peak - s.before
		fmt.Printf("  %s RSS growth during the %d MiB %-8s %.1f MiB (≤ %d MiB) %s\n", s.target, s.bytes>>20, s.direction, mib(g), maxStreamGrowth>>20, check(g <= maxStreamGrowth))
	}
	fmt.Printf("ratios: raygate/bare throughput=%.2f cpu=%.2f; raygate/oauth2-proxy throughput=%.2f\n", rg.vsBare.rps, rg.vsBare.cpu, rg.vsOAuth2)
}
