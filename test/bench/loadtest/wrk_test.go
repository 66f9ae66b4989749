package main

import (
	"testing"
	"time"
)

const wrkReport = `Running 10s test @ http://127.0.0.1:1/api/version
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms  456.00us  12.34ms   90.00%
    Req/Sec    15.00k     1.00k   17.00k    70.00%
  Latency Distribution
     50%    1.95ms
     75%    2.30ms
     90%    2.80ms
     99%  850.00us
  150000 requests in 10.00s, 20.00MB read
Requests/sec:  15000.00
Transfer/sec:      2.00MB
`

func TestParseWrk(t *testing.T) {
	l, err := parseWrk(wrkReport)
	if err != nil {
		t.Fatal(err)
	}
	if l.requests != 150000 || l.seconds != 10 || l.p50 != 1950*time.Microsecond || l.p99 != 850*time.Microsecond || l.rps() != 15000 {
		t.Fatalf("parsed %+v", l)
	}
	timedOut := wrkReport + "  Socket errors: connect 0, read 0, write 0, timeout 3\n"
	if l, err := parseWrk(timedOut); err != nil || l.timeouts != 3 {
		t.Fatalf("timeouts: %+v %v", l, err)
	}
	for _, bad := range []string{
		wrkReport + "  Non-2xx or 3xx responses: 5\n",
		wrkReport + "  Socket errors: connect 2, read 0, write 0, timeout 0\n",
		"Running 10s test\n  0 requests in 10.00s\n",
	} {
		if _, err := parseWrk(bad); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
}
