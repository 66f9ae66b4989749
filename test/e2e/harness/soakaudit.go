package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// soakCall is a request the soak sent that raygate answered, by the
// request id raygate gave it (X-Request-Id).
type soakCall struct {
	rid, desc string
	// mutation is a request that changes a cluster and was forwarded (a
	// submission or stop that got 200): it has a write-ahead audit record.
	mutation bool
}

// sent remembers a request raygate answered, for the audit check.
func (k *soak) sent(rid, method, path string, u *soakUser, status int) {
	if rid == "" {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.calls = append(k.calls, soakCall{
		rid:      rid,
		desc:     fmt.Sprintf("%s %s as %s (%d)", method, path, u.name, status),
		mutation: method != "GET" && method != "HEAD" && status == 200,
	})
}

// checkAudit reads the audit log and checks every request the soak sent:
// exactly one response record, and for a forwarded mutation exactly one
// request (write-ahead) record before it; nothing else has a request
// record. A response record is written as the request ends (a WebSocket's
// when the connection closes), so it waits up to wait for the last ones.
func (k *soak) checkAudit(ctx context.Context, path string, wait time.Duration, rep *SoakReport) error {
	k.mu.Lock()
	calls := append([]soakCall(nil), k.calls...)
	k.mu.Unlock()
	deadline := time.Now().Add(wait)
	for {
		stages, err := auditStages(path, calls)
		if err != nil {
			return err
		}
		var problems []string
		mutations := 0
		for _, c := range calls {
			if c.mutation {
				mutations++
			}
			if p := auditProblem(c, stages[c.rid]); p != "" {
				problems = append(problems, c.desc+": "+p)
			}
		}
		if len(problems) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			rep.AuditChecked, rep.AuditMutations, rep.AuditProblems = len(calls), mutations, len(problems)
			rep.AuditExamples = problems[:min(5, len(problems))]
			return nil
		}
		sleep(ctx, 500*time.Millisecond)
	}
}

// auditProblem says what is wrong with the stages recorded for c, in
// file order; "" when nothing is.
func auditProblem(c soakCall, stages []string) string {
	want := "response"
	if c.mutation {
		want = "request,response"
	}
	if got := strings.Join(stages, ","); got != want {
		return fmt.Sprintf("audit stages [%s], want [%s]", got, want)
	}
	return ""
}

// auditStages returns, for each request id of calls, the stages of its
// audit records in file order.
func auditStages(path string, calls []soakCall) (map[string][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("soak: audit log: %w", err)
	}
	defer f.Close()
	ours := make(map[string][]string, len(calls))
	for _, c := range calls {
		ours[c.rid] = nil
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var rec struct {
			RequestID string `json:"request_id"`
			Stage     string `json:"stage"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return nil, fmt.Errorf("soak: audit line is not one JSON object: %q", sc.Text())
		}
		if s, ok := ours[rec.RequestID]; ok {
			ours[rec.RequestID] = append(s, rec.Stage)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("soak: audit log: %w", err)
	}
	return ours, nil
}
