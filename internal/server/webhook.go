package server

import (
	"crypto/tls"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/webhook"
)

// admission serves the KubeRay admission webhook on its own TLS listener.
// Its handler and certificate are rebuilt on every reload.
type admission struct {
	handler atomic.Pointer[http.Handler]
	cert    atomic.Pointer[tls.Certificate]
	log     *slog.Logger
}

// prepare builds the handler and loads the certificate for cfg; commit
// puts them in force.
func (a *admission) prepare(cfg *config.Config) (func(), error) {
	if cfg.Webhook == nil {
		return func() {}, nil
	}
	h, err := webhook.NewHandler(cfg.Webhook, a.log.With("component", "webhook"))
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(cfg.Webhook.TLS.CertFile, cfg.Webhook.TLS.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("server: webhook tls: %w", err)
	}
	return func() {
		a.handler.Store(&h)
		a.cert.Store(&cert)
	}, nil
}

// start opens the webhook listener for cfg, whose handler prepare built.
func (a *admission) start(cfg *config.Config, errLog *log.Logger) (*http.Server, net.Listener, error) {
	commit, err := a.prepare(cfg)
	if err != nil {
		return nil, nil, err
	}
	commit()
	ln, err := listen(cfg.Webhook.Listen, true, func() *tls.Certificate { return a.cert.Load() })
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			(*a.handler.Load()).ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          errLog,
	}
	return srv, ln, nil
}
