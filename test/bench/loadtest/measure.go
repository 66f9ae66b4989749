package main

import (
	"fmt"
	"sort"
	"time"
)

// sample is one proxy's turn in one round.
type sample struct {
	load
	cpuPerReq time.Duration
}

// ratio is a figure of a proxy divided by the bare proxy's in the same
// round.
type ratio struct {
	rps, p50, p99, cpu float64
}

// rounds holds every round's samples, by target name.
type rounds []map[string]sample

// measure runs n interleaved rounds: in each, every target gets d of load
// at conns connections, the order rotating by one every round so that no
// proxy always follows the same one. It prints each round.
func measure(pl placement, targets []*target, n int, d time.Duration, conns int, showCPU bool) (rounds, error) {
	var out rounds
	for r := 0; r < n; r++ {
		got := map[string]sample{}
		for i := range targets {
			t := targets[(i+r)%len(targets)]
			before, err := cpuTime(t.p.pid())
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t.name, err)
			}
			l, err := pl.wrk(t.url, t.auth, d, conns)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t.name, err)
			}
			after, err := cpuTime(t.p.pid())
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t.name, err)
			}
			got[t.name] = sample{load: l, cpuPerReq: time.Duration(float64(after-before) / l.requests)}
		}
		out = append(out, got)
		fmt.Printf("  round %d\n", r+1)
		base := got[nameBare]
		for _, t := range targets {
			s := got[t.name]
			line := fmt.Sprintf("    %-20s %8.0f req/s  p50 %6.3f ms  p99 %6.3f ms", t.name, s.rps(), ms(s.p50), ms(s.p99))
			if showCPU {
				line += fmt.Sprintf("  %6.1f µs CPU/req", us(s.cpuPerReq))
			}
			if s.timeouts > 0 {
				line += fmt.Sprintf("  (%d timed out)", s.timeouts)
			}
			if t.name != nameBare {
				q := ratioOf(s, base)
				line += fmt.Sprintf("   ×bare: req/s %.2f  p50 %.2f  p99 %.2f", q.rps, q.p50, q.p99)
				if showCPU {
					line += fmt.Sprintf("  CPU %.2f", q.cpu)
				}
			}
			fmt.Println(line)
		}
	}
	return out, nil
}

func ratioOf(s, base sample) ratio {
	return ratio{
		rps: s.rps() / base.rps(),
		p50: float64(s.p50) / float64(base.p50),
		p99: float64(s.p99) / float64(base.p99),
		cpu: float64(s.cpuPerReq) / float64(base.cpuPerReq),
	}
}

// summary is a target's medians over the rounds: of its own figures, and
// of its per-round ratios to the bare proxy (and to oauth2-proxy for
// throughput).
type summary struct {
	s        sample
	vsBare   ratio
	vsOAuth2 float64 // throughput ÷ oauth2-proxy's in the same round
	addedP50 time.Duration
}

func (rs rounds) summarize(name string) summary {
	var rps, p50, p99, cpu, qr, q50, q99, qc, qo, added []float64
	for _, got := range rs {
		s, base := got[name], got[nameBare]
		rps = append(rps, s.rps())
		p50 = append(p50, float64(s.p50))
		p99 = append(p99, float64(s.p99))
		cpu = append(cpu, float64(s.cpuPerReq))
		q := ratioOf(s, base)
		qr, q50, q99, qc = append(qr, q.rps), append(q50, q.p50), append(q99, q.p99), append(qc, q.cpu)
		qo = append(qo, s.rps()/got[nameOAuth2].rps())
		added = append(added, float64(s.p50-base.p50))
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
