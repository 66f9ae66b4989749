// Package kubeclient connects raygate to the Kubernetes API server: with
// the pod's in-cluster ServiceAccount credentials, or a kubeconfig file.
package kubeclient

import (
	"fmt"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/version"
)

// Client-side rate limits: every cache miss of a token or access review is
// a request, so client-go's defaults (5 per second) would queue callers.
const (
	QPS   = 200
	Burst = 400
)

// Clients are the typed and dynamic clients of one API server.
type Clients struct {
	// Core is the typed clientset.
	Core kubernetes.Interface
	// Dynamic reads custom resources (RayClusters).
	Dynamic dynamic.Interface
}

// Connect builds clients from cfg: its kubeconfig when set, otherwise the
// in-cluster credentials. It makes no request.
func Connect(cfg *config.KubernetesAPI) (*Clients, error) {
	rc, err := restConfig(cfg)
	if err != nil {
		return nil, err
	}
	rc.QPS, rc.Burst = QPS, Burst
	rc.UserAgent = "raygate/" + version.Get().Version
	core, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubeclient: %w", err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubeclient: %w", err)
	}
	return &Clients{Core: core, Dynamic: dyn}, nil
}

func restConfig(cfg *config.KubernetesAPI) (*rest.Config, error) {
	if cfg != nil && cfg.Kubeconfig != "" {
		rc, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("kubeclient: kubeconfig %s: %w", cfg.Kubeconfig, err)
		}
		return rc, nil
	}
	rc, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeclient: in-cluster credentials (set kubernetes.kubeconfig outside a pod): %w", err)
	}
	return rc, nil
}
