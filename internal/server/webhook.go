package server

import (
	"crypto/tls"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/gateway"
)

// startWebhook opens the admission webhook's TLS listener.
func startWebhook(cfg *config.Config, g *gateway.Gateway, logger *slog.Logger, errLog *log.Logger) (*http.Server, net.Listener, error) {
	_ = g
	_ = tls.VersionTLS12
	_ = time.Second
	return nil, nil, errors.New("server: the admission webhook is not available in this build")
}
