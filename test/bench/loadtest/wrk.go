package main

import (
	"bufio"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// load is what one wrk run measured.
type load struct {
	requests float64
	seconds  float64
	p50, p99 time.Duration
	timeouts int
}

func (l load) rps() float64 { return l.requests / l.seconds }

// wrk drives url for d with conns connections on one thread, pinned to
// core 1 when the placement pins.
func (p placement) wrk(url, auth string, d time.Duration, conns int) (load, error) {
	args := []string{"-t", "1", "-c", strconv.Itoa(conns), "-d", strconv.Itoa(int(d.Seconds())) + "s", "--latency", "--timeout", "10s"}
	if auth != "" {
		args = append(args, "-H", "Authorization: "+auth)
	}
	out, err := p.command(1, "wrk", append(args, url)...).CombinedOutput()
	if err != nil {
		return load{}, fmt.Errorf("wrk: %v: %s", err, out)
	}
	return parseWrk(string(out))
}

var (
	errLine = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	reqLine = regexp.MustCompile(`^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)\b`)
	pctLine = regexp.MustCompile(`^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$`)
)

// parseWrk reads the request count, the run's length and the p50 and p99
// latencies from wrk's report; a report with non-2xx answers or failed
// connections is refused, so a misconfigured proxy never passes for a
// fast one. Requests still unanswered after wrk's timeout (10 s) are
// counted in timeouts.
func parseWrk(out string) (load, error) {
	var l load
	if strings.Contains(out, "Non-2xx") {
		return l, fmt.Errorf("wrk saw errors:\n%s", out)
	}
	if m := errLine.FindStringSubmatch(out); m != nil {
		if m[1] != "0" || m[2] != "0" || m[3] != "0" {
			return l, fmt.Errorf("wrk saw errors:\n%s", out)
		}
		l.timeouts, _ = strconv.Atoi(m[4])
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := reqLine.FindStringSubmatch(line); m != nil {
			l.requests, _ = strconv.ParseFloat(m[1], 64)
			l.seconds = toDuration(m[2], m[3]).Seconds()
		}
		if m := pctLine.FindStringSubmatch(line); m != nil {
			d := toDuration(m[2], m[3])
			if m[1] == "50" {
				l.p50 = d
			} else {
				l.p99 = d
			}
		}
	}
	if l.requests == 0 || l.seconds == 0 || l.p50 == 0 || l.p99 == 0 {
		return l, fmt.Errorf("cannot read wrk output:\n%s", out)
	}
	return l, nil
}

func toDuration(v, unit string) time.Duration {
	f, _ := strconv.ParseFloat(v, 64)
	switch unit {
	case "us":
		return time.Duration(f * float64(time.Microsecond))
	case "ms":
		return time.Duration(f * float64(time.Millisecond))
	case "m":
		return time.Duration(f * float64(time.Minute))
	default:
		return time.Duration(f * float64(time.Second))
	}
}
