package main

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// streamResult is one transfer through a proxy and the proxy's resident
// memory around it.
type streamResult struct {
	target, direction string
	bytes             int64
	took              time.Duration
	before, peak      int64 // RSS before the transfer, highest during it
}

func (r streamResult) String() string {
	return fmt.Sprintf("%-20s %-8s %4d MiB in %5.2f s (%4.0f MiB/s)  RSS before %5.1f MiB, peak during %5.1f MiB (+%.1f MiB)",
		r.target, r.direction, r.bytes>>20, r.took.Seconds(), float64(r.bytes>>20)/r.took.Seconds(),
		mib(r.before), mib(r.peak), mib(r.peak-r.before))
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// pattern is an endless reader of printable bytes.
type pattern struct{ i int }

const patternText = "raygate package bytes 0123456789abcdefghijklmnopqrstuvwxyz\n"

func (p *pattern) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = patternText[p.i]
		p.i = (p.i + 1) % len(patternText)
	}
	return len(b), nil
}

// streamThrough uploads n bytes as a Ray package (PUT
// /api/packages/gcs/...) or downloads n bytes of a job's logs through the
// proxy at base, sampling the proxy's RSS while it runs.
func streamThrough(t *target, base, auth, direction string, n int64) (streamResult, error) {
	res := streamResult{target: t.name, direction: direction, bytes: n}
	pid := t.p.pid()
	before, err := rss(pid)
	if err != nil {
		return res, err
	}
	res.before, res.peak = before, before
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if v, err := rss(pid); err == nil && v > res.peak {
					res.peak = v
				}
			}
		}
	}()
	start := time.Now()
	err = transfer(base, auth, direction, n)
	res.took = time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		return res, fmt.Errorf("%s: %s: %w", t.name, direction, err)
	}
	return res, nil
}

func transfer(base, auth, direction string, n int64) error {
	var req *http.Request
	var err error
	if direction == "upload" {
		req, err = http.NewRequest(http.MethodPut, base+"/api/packages/gcs/_ray_pkg_0123456789abcdef.zip", io.LimitReader(&pattern{}, n))
		if err == nil {
			req.ContentLength = n
			req.Header.Set("Content-Type", "application/octet-stream")
		}
	} else {
		req, err = http.NewRequest(http.MethodGet, base+"/api/jobs/raysubmit_Bench0123456789/logs", nil)
	}
	if err != nil {
		return err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	if direction == "upload" {
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		if err != nil {
			return err
		}
		if want := fmt.Sprintf(`{"bytes":%d}`, n); string(b) != want {
			return fmt.Errorf("upstream answered %q, want %q", b, want)
		}
		return nil
	}
	got, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("downloaded %d bytes, want %d", got, n)
	}
	return nil
}
