package main

import (
	"fmt"
	"sort"
	"time"
)

// sample is one proxy's turn.
type sample struct {
	load
	cpuPerReq time.Duration
}

// ratio is a figure of a proxy divided by the bare proxy's in the turn
// next to it.
type ratio struct {
	rps, p50, p99, cpu float64
}

// pair is a proxy's turn and the bare proxy's turn right before or after
// it.
type pair struct {
	t, base sample
}

// rounds holds every round's pairs, by the name of the proxy compared
// with the bare proxy.
type rounds []map[string]pair

// settle is the pause between two turns, so that what a proxy does after
// its load stops (closing connections, a collection) is not counted in
// the next turn.
const settle = 300 * time.Millisecond

// measure runs n rounds. In each, every proxy other than the bare one
// gets a turn of d at conns connections right next to a turn of the bare
// proxy, the bare proxy first in every other round; the order of the
// proxies rotates every round. Each figure is compared with the bare
// turn next to it, seconds apart, so that a change in what else the
// machine runs moves both. It prints each pair.
func measure(pl placement, targets []*target, n int, d time.Duration, conns int, showCPU bool) (rounds, error) {
	bare, others := targets[0], targets[1:]
	var out rounds
	turn := func(t *target) (sample, error) {
		time.Sleep(settle)
		before, err := cpuTime(t.p.pid())
		if err != nil {
			return sample{}, fmt.Errorf("%s: %w", t.name, err)
		}
		l, err := pl.wrk(t.url, t.auth, d, conns)
		if err != nil {
			return sample{}, fmt.Errorf("%s: %w", t.name, err)
		}
		after, err := cpuTime(t.p.pid())
		if err != nil {
			return sample{}, fmt.Errorf("%s: %w", t.name, err)
		}
		if after <= before {
			return sample{}, fmt.Errorf("%s: process %d used no CPU for %.0f requests: something else answered", t.name, t.p.pid(), l.requests)
		}
		return sample{load: l, cpuPerReq: time.Duration(float64(after-before) / l.requests)}, nil
	}
	for r := 0; r < n; r++ {
		got := map[string]pair{}
		fmt.Printf("  round %d\n", r+1)
		for i := range others {
			t := others[(i+r)%len(others)]
			var p pair
			var err error
			first, second := bare, t
			if (r+i)%2 == 1 {
				first, second = t, bare
			}
			a, err := turn(first)
			if err != nil {
				return nil, err
			}
			b, err := turn(second)
			if err != nil {
				return nil, err
			}
			if first == bare {
				p = pair{t: b, base: a}
			} else {
				p = pair{t: a, base: b}
			}
			got[t.name] = p
			printPair(t.name, p, first == bare, showCPU)
		}
		out = append(out, got)
	}
	return out, nil
}

func printPair(name string, p pair, bareFirst, showCPU bool) {
	line := func(name string, s sample) string {
		l := fmt.Sprintf("    %-20s %8.0f req/s  p50 %6.3f ms  p99 %7.3f ms", name, s.rps(), ms(s.p50), ms(s.p99))
		if showCPU {
			l += fmt.Sprintf("  %6.1f µs CPU/req", us(s.cpuPerReq))
		}
		if s.timeouts > 0 {
			l += fmt.Sprintf("  (%d timed out)", s.timeouts)
		}
		return l
	}
	q := ratioOf(p.t, p.base)
	cmp := fmt.Sprintf("   ×bare: req/s %.2f  p50 %.2f  p99 %.2f", q.rps, q.p50, q.p99)
	if showCPU {
		cmp += fmt.Sprintf("  CPU %.2f", q.cpu)
	}
	if bareFirst {
		fmt.Println(line(nameBare, p.base))
		fmt.Println(line(name, p.t) + cmp)
	} else {
		fmt.Println(line(name, p.t) + cmp)
		fmt.Println(line(nameBare, p.base))
	}
}

func ratioOf(s, base sample) ratio {
	return ratio{
		rps: s.rps() / base.rps(),
		p50: float64(s.p50) / float64(base.p50),
		p99: float64(s.p99) / float64(base.p99),
		cpu: float64(s.cpuPerReq) / float64(base.cpuPerReq),
	}
}

// summary is a proxy's medians over the rounds: of its own figures, and
// of its ratios to the bare turn next to it.
type summary struct {
	s      sample
	vsBare ratio
	// vsOAuth2 is throughput relative to oauth2-proxy's, each taken
	// relative to its own bare turn in the same round.
	vsOAuth2 float64
	addedP50 time.Duration
}

// summarize returns name's summary; for the bare proxy, the medians of
// all its turns.
func (rs rounds) summarize(name string) summary {
	var rps, p50, p99, cpu, qr, q50, q99, qc, qo, added []float64
	for _, got := range rs {
		for n, p := range got {
			s := p.t
			if name == nameBare {
				s = p.base
			} else if n != name {
				continue
			}
			rps = append(rps, s.rps())
			p50 = append(p50, float64(s.p50))
			p99 = append(p99, float64(s.p99))
			cpu = append(cpu, float64(s.cpuPerReq))
			q := ratioOf(s, p.base)
			qr, q50, q99, qc = append(qr, q.rps), append(q50, q.p50), append(q99, q.p99), append(qc, q.cpu)
			added = append(added, float64(s.p50-p.base.p50))
			if o, ok := got[nameOAuth2]; ok {
				qo = append(qo, q.rps/ratioOf(o.t, o.base).rps)
			}
		}
	}
	var out summary
	out.s.requests, out.s.seconds = median(rps), 1
	out.s.p50, out.s.p99 = time.Duration(median(p50)), time.Duration(median(p99))
	out.s.cpuPerReq = time.Duration(median(cpu))
	out.vsBare = ratio{rps: median(qr), p50: median(q50), p99: median(q99), cpu: median(qc)}
	out.vsOAuth2 = median(qo)
	out.addedP50 = time.Duration(median(added))
	return out
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
