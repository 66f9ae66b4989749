package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/raygate/raygate/internal/config"
)

// Reloader rebuilds the gateway's state when the config file, or a file it
// names (TLS material, Ray token files, CA bundles), changes on disk, and
// on demand (SIGHUP). A new config is loaded, validated and built before it
// is swapped in; if any step fails the old state stays in force.
type Reloader struct {
	// Path is the config file.
	Path string
	// Gateway is the gateway whose state is replaced.
	Gateway *Gateway
	// Interval is how often files are checked for changes; 0 disables
	// polling (reloads then happen only on Reload calls).
	Interval time.Duration
	// Prepare, if set, builds whatever else serves from the config (the
	// admission webhook). An error refuses the reload; otherwise the
	// returned commit runs when the new state is swapped in.
	Prepare func(cfg *config.Config) (commit func(), err error)

	digest [sha256.Size]byte
}

// Prime records the current files' digest so the first poll does not
// reload an unchanged config.
func (rl *Reloader) Prime() { rl.digest = rl.filesDigest() }

// Run polls for changes and reloads on every value from hup, until ctx ends.
func (rl *Reloader) Run(ctx context.Context, hup <-chan os.Signal) {
	var tick <-chan time.Time
	if rl.Interval > 0 {
		t := time.NewTicker(rl.Interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if rl.Reload("signal") != nil {
				// Rotation must not wait for a valid config.
				rl.reopenAudit()
			}
		case <-tick:
			if d := rl.filesDigest(); d != rl.digest {
				_ = rl.Reload("file change")
			}
		}
	}
}

// Reload loads, validates, builds and swaps in the config. On failure the
// state in force is kept, the failure logged and counted, and returned.
func (rl *Reloader) Reload(trigger string) error {
	g := rl.Gateway
	rl.digest = rl.filesDigest()
	err := rl.reload()
	g.metrics.Reload(err == nil)
	if err != nil {
		var ps config.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				g.log.Error("config reload refused", "trigger", trigger, "problem", p.String())
			}
		} else {
			g.log.Error("config reload refused", "trigger", trigger, "error", err)
		}
		return err
	}
	g.log.Info("config reloaded", "trigger", trigger, "file", rl.Path)
	return nil
}

func (rl *Reloader) reload() error {
	g := rl.Gateway
	cfg, err := config.Load(rl.Path)
	if err != nil {
		return err
	}
	for _, w := range cfg.Warnings() {
		g.log.Warn("config warning", "problem", w.String())
	}
	cur := g.State()
	if err := restartOnly(cur.Config, cfg); err != nil {
		return err
	}
	st, err := g.Build(cfg, cur)
	if err != nil {
		return err
	}
	commit := func() {}
	if rl.Prepare != nil {
		if commit, err = rl.Prepare(cfg); err != nil {
			return err
		}
	}
	if r, ok := g.audit.(reopener); ok {
		if err := r.Reopen(cfg.Audit.File); err != nil {
			return err
		}
	}
	g.Swap(st, cfg.ShutdownTimeout.D()+time.Minute)
	commit()
	return nil
}

// reopener is a sink writing to a file that can be reopened after
// rotation.
type reopener interface{ Reopen(file string) error }

// reopenAudit reopens the audit file of the config in force.
func (rl *Reloader) reopenAudit() {
	g := rl.Gateway
	r, ok := g.audit.(reopener)
	if !ok || g.State() == nil {
		return
	}
	file := g.State().Config.Audit.File
	if err := r.Reopen(file); err != nil {
		g.log.Error("audit file not reopened", "file", file, "error", err)
		return
	}
	g.log.Info("audit file reopened", "file", file)
}

// restartOnly refuses changes that only a restart can apply.
func restartOnly(old, next *config.Config) error {
	switch {
	case old.Listen != next.Listen:
		return fmt.Errorf("gateway: listen changed from %s to %s: restart to apply", old.Listen, next.Listen)
	case old.MetricsListen != next.MetricsListen:
		return fmt.Errorf("gateway: metricsListen changed from %s to %s: restart to apply", old.MetricsListen, next.MetricsListen)
	case (old.TLS == nil) != (next.TLS == nil):
		return errors.New("gateway: tls turned on or off: restart to apply")
	case (old.Webhook == nil) != (next.Webhook == nil):
		return errors.New("gateway: webhook turned on or off: restart to apply")
	case old.Webhook != nil && old.Webhook.Listen != next.Webhook.Listen:
		return errors.New("gateway: webhook.listen changed: restart to apply")
	case !sameListener(old.Server, next.Server):
		return errors.New("gateway: server timeouts or size limits changed: restart to apply (only server.trustedProxies reloads)")
	}
	if why := config.KubernetesRestart(old, next); why != "" {
		return fmt.Errorf("gateway: %s: restart to apply", why)
	}
	return nil
}

// sameListener reports whether two server sections agree on everything
// the public listener was started with.
func sameListener(a, b config.Server) bool {
	return a.ReadHeaderTimeout == b.ReadHeaderTimeout && a.BodyTimeout == b.BodyTimeout && a.IdleTimeout == b.IdleTimeout &&
		a.MaxRequestTargetBytes == b.MaxRequestTargetBytes && a.MaxHeaderBytes == b.MaxHeaderBytes
}

// filesDigest hashes the paths and contents of every file the config in
// force refers to (and the config file itself).
func (rl *Reloader) filesDigest() [sha256.Size]byte {
	h := sha256.New()
	files := []string{rl.Path}
	if st := rl.Gateway.State(); st != nil {
		files = st.Config.Files()
	}
	for _, f := range files {
		fmt.Fprintf(h, "%s\x00", f)
		fh, err := os.Open(f)
		if err != nil {
			fmt.Fprintf(h, "error:%v\x00", err)
			continue
		}
		_, _ = io.Copy(h, io.LimitReader(fh, config.MaxFileSize+1))
		fh.Close()
		h.Write([]byte{0})
	}
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return out
}
