// Package server runs `raygate serve`: it loads the config, builds the
// gateway, opens the public, metrics and (optionally) webhook listeners,
// reloads on change and SIGHUP, and drains in-flight requests on shutdown.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/raygate/raygate/internal/audit"
	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/gateway"
	"github.com/raygate/raygate/internal/httpguard"
	"github.com/raygate/raygate/internal/metrics"
	"github.com/raygate/raygate/internal/version"
)

// Options tune Run beyond the config file.
type Options struct {
	// ReloadInterval is how often referenced files are checked for changes;
	// 0 disables polling (SIGHUP still reloads).
	ReloadInterval time.Duration
	// Stderr receives the operational log; nil means os.Stderr.
	Stderr *os.File
	// Pprof serves Go's profiler under /debug/pprof/ on the metrics
	// listener.
	Pprof bool
}

// Run serves until ctx ends, then drains. cfg is the validated config
// loaded from path.
func Run(ctx context.Context, path string, cfg *config.Config, opts Options) error {
	logger := NewLogger(cfg.Log, opts.Stderr)
	for _, w := range cfg.Warnings() {
		logger.Warn("config warning", "problem", w.String())
	}
	tuneGC()
	m := metrics.New()
	sink, err := audit.Open(cfg.Audit.File, audit.Options{Log: logger, Observer: m, FlushInterval: audit.DefaultFlushInterval})
	if err != nil {
		return err
	}
	defer func() {
		// After every handler finished: what is still kept is written
		// and the file synced.
		if err := sink.Close(); err != nil {
			logger.Error("audit log not fully written at exit", "error", err)
		}
	}()

	g := gateway.New(m, logger, sink)
	kctx, stopKube := context.WithCancel(ctx)
	defer stopKube()
	if err := startKubernetes(kctx, cfg, g, m, logger); err != nil {
		return err
	}
	st, err := g.Build(cfg, nil)
	if err != nil {
		return err
	}
	g.Swap(st, 0)
	m.Reload(true)
	for issuer, ks := range st.KeySets() {
		go func() {
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := ks.Prefetch(pctx); err != nil {
				logger.Warn("oidc key set not fetched yet", "issuer", issuer, "error", err)
			}
		}()
	}

	public, err := listen(cfg.Listen, cfg.TLS != nil, func() *tls.Certificate { return g.State().Cert })
	if err != nil {
		return err
	}
	sc := cfg.Server
	public = httpguard.NewListener(public, httpguard.Limits{
		MaxRequestTarget: sc.MaxRequestTargetBytes, MaxHeaderBytes: sc.MaxHeaderBytes,
		HeaderTimeout: sc.ReadHeaderTimeout.D(), BodyTimeout: sc.BodyTimeout.D(),
		MaxPendingHeadBytes: sc.MaxPendingHeadBytes,
	})
	metricsLn, err := listen(cfg.MetricsListen, false, nil)
	if err != nil {
		public.Close()
		return err
	}

	errLog := slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	publicSrv := &http.Server{
		Handler:           g,
		ReadHeaderTimeout: sc.ReadHeaderTimeout.D(),
		IdleTimeout:       sc.IdleTimeout.D(),
		// The guard refuses heads over the configured limits first, with
		// 414 or 431; net/http's own limit is only a backstop.
		MaxHeaderBytes: sc.MaxRequestTargetBytes + sc.MaxHeaderBytes + 4096,
		ErrorLog:       errLog,
	}
	if cfg.TLS != nil {
		publicSrv.Handler, publicSrv.ConnContext = httpguard.WithTLS(g), httpguard.ConnContext
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", gateway.Healthz)
	mux.HandleFunc("GET /readyz", g.Readyz)
	mux.HandleFunc("GET /status/discovery", discoveryStatus(g))
	if opts.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	metricsSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: errLog}

	servers := []*http.Server{publicSrv, metricsSrv}
	listeners := []net.Listener{public, metricsLn}
	adm := &admission{log: logger}
	if cfg.Webhook != nil {
		srv, ln, err := adm.start(cfg, errLog)
		if err != nil {
			public.Close()
			metricsLn.Close()
			return err
		}
		servers = append(servers, srv)
		listeners = append(listeners, ln)
	}

	rctx, stopReload := context.WithCancel(ctx)
	defer stopReload()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	rl := &gateway.Reloader{Path: path, Gateway: g, Interval: opts.ReloadInterval, Prepare: adm.prepare}
	rl.Prime()
	go rl.Run(rctx, hup)
	go sink.Run(rctx, audit.DefaultRetryInterval)

	errc := make(chan error, len(servers))
	for i, srv := range servers {
		go func() {
			if err := srv.Serve(listeners[i]); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	v := version.Get()
	attrs := []any{"version", v.Version, "listen", public.Addr().String(), "tls", cfg.TLS != nil,
		"metrics", metricsLn.Addr().String(), "clusters", len(cfg.Clusters), "config", path}
	if cfg.Webhook != nil {
		attrs = append(attrs, "webhook", listeners[2].Addr().String())
	}
	logger.Info("raygate serving", attrs...)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
		logger.Error("listener failed", "error", serveErr)
	}

	drain(g, servers, logger)
	logger.Info("raygate stopped")
	return serveErr
}

// drainGrace is how long, past shutdownTimeout, handlers of connections
// closed at the deadline get to finish and write their audit lines.
const drainGrace = 5 * time.Second

// drain stops the servers in order: /readyz fails first; the listeners keep
// accepting for shutdownDelay, so load balancers take the gateway out of
// rotation before it stops; then they stop accepting, in-flight requests
// get up to shutdownTimeout to finish and WebSockets are sent a close
// frame; what is left then is closed.
func drain(g *gateway.Gateway, servers []*http.Server, logger *slog.Logger) {
	cfg := g.State().Config
	g.Drain()
	logger.Info("raygate draining", "delay", cfg.ShutdownDelay.D().String(), "timeout", cfg.ShutdownTimeout.D().String())
	time.Sleep(cfg.ShutdownDelay.D())
	logger.Info("raygate no longer accepting connections")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout.D())
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Shutdown(sctx); err != nil {
				logger.Warn("shutdown incomplete: closing the remaining connections", "error", err)
				_ = srv.Close()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := g.Shutdown(sctx); err != nil {
			logger.Warn("upgraded connections still open at the deadline were closed", "error", err)
		}
	}()
	wg.Wait()
	gctx, gcancel := context.WithTimeout(context.Background(), drainGrace)
	defer gcancel()
	if err := g.Shutdown(gctx); err != nil {
		logger.Error("request handlers still running at exit", "error", err)
	}
}

// DefaultGCPercent is the garbage collector target raygate runs with
// unless GOGC says otherwise. A proxy keeps little live memory, so Go's
// default (100, with a 4 MB minimum heap) collects every few hundred
// requests and spends its time rescanning the same roots; 400 collects a
// quarter as often for a few more megabytes of heap.
const DefaultGCPercent = 400

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(DefaultGCPercent)
	}
}

// listen opens a TCP listener, wrapped in TLS when withTLS, with the
// certificate taken from cert on every handshake (so a reload rotates it).
func listen(addr string, withTLS bool, cert func() *tls.Certificate) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("server: listen %s: %w", addr, err)
	}
	if !withTLS {
		return ln, nil
	}
	tc := &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			if c := cert(); c != nil {
				return c, nil
			}
			return nil, errors.New("no certificate configured")
		},
		NextProtos: []string{"http/1.1"},
	}
	return tls.NewListener(ln, tc), nil
}

// NewLogger returns the operational logger on stderr.
func NewLogger(c config.Log, stderr *os.File) *slog.Logger {
	if stderr == nil {
		stderr = os.Stderr
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(stderr, opts))
}
