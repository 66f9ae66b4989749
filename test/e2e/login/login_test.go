//go:build e2e

package login_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/raygate/raygate/internal/tokencache"
	"github.com/raygate/raygate/test/e2e/harness"
)

var (
	deviceRE     = regexp.MustCompile(`open this page in a browser, on this or any other device:\s+(\S+)\s+and enter the code:\s+(\S+)`)
	completeRE   = regexp.MustCompile(`\(Or open (\S+\?user_code=\S+), which fills the code in\.\)`)
	loopbackRE   = regexp.MustCompile(`open this page in a browser on this computer:\s+(http://\S+)`)
	submissionRE = regexp.MustCompile(`raysubmit_[A-Za-z0-9]+`)
)

// TestDeviceSignIn is a data scientist's day: `raygate login` started in
// the background prints the address and the code; a real Chromium opens
// Dex's page, enters the code and signs in as alice; the CLI gets the
// token; `raygate exec -- ray job submit` runs a job to SUCCEEDED as
// alice (audit log and raygate.owner); after the one-minute ID token
// expires, `raygate token` renews it and the gateway takes the new one;
// Ray's SDK in a notebook under exec works, with a fresh token from
// `raygate token` too; `raygate logout` makes the next `raygate token`
// say to sign in. Token files are 0600 and no token is in any log.
func TestDeviceSignIn(t *testing.T) {
	e := requireEnv(t)
	gw := e.gateway.URL
	term := terminal(t, e, "device")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	secrets := &secrets{}

	login, err := term.Start("login-device", "login", "--gateway", gw, "--no-open")
	if err != nil {
		t.Fatal(err)
	}
	defer login.Stop(5 * time.Second)
	m, err := harness.WaitLog(login, deviceRE, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	verification, code := m[1], m[2]
	if !strings.HasPrefix(verification, e.dex.Issuer+"/device") {
		t.Fatalf("verification address %s is not Dex's", verification)
	}
	if _, err := harness.WaitLog(login, completeRE, time.Second); err != nil {
		t.Fatal(err)
	}
	c := chromium(t, e, "device")
	if err := c.ApproveDevice(verification, code, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := login.Wait(60 * time.Second); err != nil {
		t.Fatalf("raygate login: %v\n%s", err, login.Tail(3000))
	}
	out := login.Tail(10000)
	for _, want := range []string{"Signed in to " + gw + " as alice@example.com with ", "(renewed automatically)", "team-a/ray1  developer  " + gw + "/clusters/team-a/ray1"} {
		if !strings.Contains(out, want) {
			t.Fatalf("raygate login printed no %q:\n%s", want, out)
		}
	}
	checkModes(t, term)
	first := cached(t, term, gw)
	secrets.add(first.IDToken, first.RefreshToken)

	// Ray's own CLI, unchanged, under raygate exec.
	id := submit(t, ctx, term, gw, "alice", secrets)
	checkOwner(t, e, gw, id, "alice@example.com", token(t, ctx, term, secrets))

	// The one-minute ID token expires; the next command renews it.
	before := cached(t, term, gw)
	if wait := time.Until(before.Expiry) + time.Second; wait > 0 {
		t.Logf("waiting %s for the ID token to expire", wait.Round(time.Second))
		time.Sleep(wait)
	}
	renewed := token(t, ctx, term, secrets)
	after := cached(t, term, gw)
	secrets.add(after.IDToken, after.RefreshToken)
	if renewed == before.IDToken || after.IDToken != renewed || !after.Expiry.After(time.Now().Add(30*time.Second)) {
		t.Fatalf("the expired token was not renewed: expiry %s", after.Expiry)
	}
	if after.RefreshToken == before.RefreshToken {
		t.Fatal("Dex rotates refresh tokens, but the cache kept the old one")
	}
	if who := whoami(t, gw, renewed); who != "alice@example.com" {
		t.Fatalf("the gateway sees the renewed token as %q", who)
	}
	st, err := term.Run(ctx, "raygate", "status")
	if err != nil || st.Code != 0 || !strings.Contains(st.Stdout, "alice@example.com") || !strings.Contains(st.Stdout, "team-a/ray1  developer  "+gw+"/clusters/team-a/ray1") {
		t.Fatalf("raygate status: %v %+v", err, st)
	}
	secrets.out(st.Stderr)

	// Ray's SDK, as a notebook started under raygate exec uses it.
	nb, err := term.Run(ctx, "raygate", "exec", "--", filepath.Join(components.RayVenv, "bin", "python"), "testdata/notebook.py", gw+"/clusters/team-a/ray1")
	if err != nil || nb.Code != 0 {
		t.Fatalf("notebook under raygate exec: %v\n%s\n%s", err, nb.Stdout, nb.Stderr)
	}
	secrets.out(nb.Stderr)
	var r struct{ Job, Status, Owner, Logs string }
	if err := json.Unmarshal([]byte(lastLine(nb.Stdout)), &r); err != nil || r.Status != "SUCCEEDED" || r.Owner != "alice@example.com" || !strings.Contains(r.Logs, "hello from a notebook") {
		t.Fatalf("notebook: %+v %v\n%s", r, err, nb.Stdout)
	}

	// Sign out: the next command says to sign in again.
	lo, err := term.Run(ctx, "raygate", "logout")
	if err != nil || lo.Code != 0 || !strings.HasPrefix(lo.Stdout, "Signed out of "+gw+" (alice@example.com at "+e.dex.Issuer+"): tokens removed") {
		t.Fatalf("raygate logout: %v %+v", err, lo)
	}
	tk, err := term.Run(ctx, "raygate", "token")
	if want := "raygate token: not signed in to " + gw + ": run raygate login --gateway " + gw + "\n"; err != nil || tk.Code != 1 || tk.Stdout != "" || tk.Stderr != want {
		t.Fatalf("raygate token after logout: %v %+v\nwant stderr %q", err, tk, want)
	}
	secrets.check(t, login.LogPath, e.gateway.Proc.LogPath, e.gateway.AuditPath)
}

// TestLoopbackSignIn: `raygate login --browser --no-open` prints the
// provider's address; Chromium opens it and signs in as bob on Dex's
// page; Dex sends the browser back to raygate login on 127.0.0.1, which
// tells it to return to the terminal; Ray's CLI then submits as bob.
func TestLoopbackSignIn(t *testing.T) {
	e := requireEnv(t)
	gw := e.gateway.URL
	term := terminal(t, e, "loopback")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	secrets := &secrets{}

	login, err := term.Start("login-browser", "login", "--gateway", gw, "--browser", "--no-open")
	if err != nil {
		t.Fatal(err)
	}
	defer login.Stop(5 * time.Second)
	m, err := harness.WaitLog(login, loopbackRE, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m[1], e.dex.Issuer+"/auth?") || !strings.Contains(m[1], "code_challenge_method=S256") || !strings.Contains(m[1], "redirect_uri=http%3A%2F%2F127.0.0.1%3A") {
		t.Fatalf("authorization address %s", m[1])
	}
	c := chromium(t, e, "loopback")
	if _, err := c.Navigate(m[1]); err != nil {
		t.Fatal(err)
	}
	if err := c.DexSignIn("bob@example.com", harness.Password); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitText(30*time.Second, "Signed in", "You can close this tab and return to the terminal"); err != nil {
		t.Fatal(err)
	}
	if u, _ := c.Location(); !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.Contains(u, "/callback?") {
		t.Fatalf("the browser came back to %s", u)
	}
	if err := login.Wait(30 * time.Second); err != nil {
		t.Fatalf("raygate login: %v\n%s", err, login.Tail(3000))
	}
	if out := login.Tail(10000); !strings.Contains(out, "Signed in to "+gw+" as bob@example.com with ") {
		t.Fatalf("raygate login:\n%s", out)
	}
	checkModes(t, term)
	l := cached(t, term, gw)
	secrets.add(l.IDToken, l.RefreshToken)
	id := submit(t, ctx, term, gw, "bob", secrets)
	checkOwner(t, e, gw, id, "bob@example.com", token(t, ctx, term, secrets))
	secrets.check(t, login.LogPath, e.gateway.Proc.LogPath, e.gateway.AuditPath)
}

// submit runs a job with Ray's CLI under raygate exec and returns its
// submission id once it succeeded.
func submit(t *testing.T, ctx context.Context, term *harness.Terminal, gw, who string, s *secrets) string {
	t.Helper()
	printed := "hello from " + who + " in a terminal"
	r, err := term.Run(ctx, "raygate", "exec", "--", "ray", "job", "submit", "--address", gw+"/clusters/team-a/ray1",
		"--", "python", "-c", "print('hello from "+who+"', 'in a terminal')")
	id := submissionRE.FindString(r.Stdout + r.Stderr)
	if err != nil || r.Code != 0 || id == "" || !strings.Contains(r.Stdout+r.Stderr, "succeeded") || !strings.Contains(r.Stdout+r.Stderr, printed) {
		t.Fatalf("raygate exec -- ray job submit: exit %d %v\n%s\n%s", r.Code, err, r.Stdout, r.Stderr)
	}
	s.out(r.Stdout, r.Stderr)
	return id
}

// checkOwner: the audit log and the job itself name the person.
func checkOwner(t *testing.T, e *env, gw, id, user, tok string) {
	t.Helper()
	f, err := os.Open(e.gateway.AuditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	found := false
	lines := bufio.NewScanner(f)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	for lines.Scan() {
		var ev struct {
			User, Action, Decision string
			JobID                  string `json:"job_id"`
			AuthMethod             string `json:"auth_method"`
			AuthSource             string `json:"auth_source"`
		}
		if json.Unmarshal(lines.Bytes(), &ev) == nil && ev.Action == "jobs.submit" && ev.Decision == "allow" && ev.JobID == id {
			found = true
			if ev.User != user || ev.AuthMethod != "oidc" || ev.AuthSource != e.dex.Issuer {
				t.Fatalf("audit line of %s: %s", id, lines.Text())
			}
		}
	}
	if !found {
		t.Fatalf("no audit line allows submitting %s", id)
	}
	req, _ := http.NewRequest("GET", gw+"/clusters/team-a/ray1/api/jobs/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var job struct {
		Status   string            `json:"status"`
		Metadata map[string]string `json:"metadata"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&job); err != nil || job.Status != "SUCCEEDED" || job.Metadata["raygate.owner"] != user {
		t.Fatalf("job %s: %s %+v %v", id, resp.Status, job, err)
	}
}

// token runs `raygate token`.
func token(t *testing.T, ctx context.Context, term *harness.Terminal, s *secrets) string {
	t.Helper()
	r, err := term.Run(ctx, "raygate", "token")
	tok := strings.TrimSpace(r.Stdout)
	if err != nil || r.Code != 0 || strings.Count(tok, ".") != 2 {
		t.Fatalf("raygate token: %v %+v", err, r)
	}
	s.add(tok)
	s.out(r.Stderr)
	return tok
}

func whoami(t *testing.T, gw, tok string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", gw+"/_raygate/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var w struct{ User string }
	_ = json.NewDecoder(resp.Body).Decode(&w)
	return w.User
}

// cached reads the terminal's sign-in to gw from its token cache.
func cached(t *testing.T, term *harness.Terminal, gw string) *tokencache.Login {
	t.Helper()
	tk, err := (tokencache.Store{Dir: term.ConfigDir}).Load()
	if err != nil {
		t.Fatal(err)
	}
	l := tk.Current(gw)
	if l == nil {
		t.Fatalf("no sign-in to %s in %s", gw, term.ConfigDir)
	}
	return l
}

// checkModes: only the person can read the token cache.
func checkModes(t *testing.T, term *harness.Terminal) {
	t.Helper()
	for path, want := range map[string]os.FileMode{term.ConfigDir: 0o700, filepath.Join(term.ConfigDir, tokencache.TokensFile): 0o600} {
		st, err := os.Stat(path)
		if err != nil || st.Mode().Perm() != want {
			t.Fatalf("%s: %v (%v), want mode %v", path, st.Mode().Perm(), err, want)
		}
	}
}

// secrets collects the tokens a test saw, and the output that must not
// hold them.
type secrets struct {
	tokens []string
	output []string
}

func (s *secrets) add(toks ...string) {
	for _, t := range toks {
		if t != "" {
			s.tokens = append(s.tokens, t)
		}
	}
}

func (s *secrets) out(texts ...string) { s.output = append(s.output, texts...) }

// check fails if any token appears in the files or the collected output
// (the CLI's stderr, raygate's own log, the audit log).
func (s *secrets) check(t *testing.T, files ...string) {
	t.Helper()
	texts := append([]string(nil), s.output...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, string(b))
	}
	if len(s.tokens) < 2 {
		t.Fatalf("only %d tokens collected", len(s.tokens))
	}
	for _, tok := range s.tokens {
		for i, text := range texts {
			if strings.Contains(text, tok) {
				t.Errorf("a token (%.12s...) appears in output %d", tok, i)
			}
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
