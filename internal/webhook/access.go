package webhook

import (
	"context"
	"errors"
	"fmt"
	"os"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/raygate/raygate/internal/manifest"
)

// Authorizer answers whether a user may update an object, the way the API
// server's own authorizer would.
type Authorizer interface {
	// MayUpdate reports whether user may update resource name (of
	// KubeRay's group) in namespace, with the authorizer's reason. An
	// error means the answer is unknown; the caller denies.
	MayUpdate(ctx context.Context, user authenticationv1.UserInfo, namespace, resource, name string) (bool, string, error)
}

// AccessReviewer asks the API server with SubjectAccessReviews.
type AccessReviewer struct {
	client kubernetes.Interface
}

var _ Authorizer = (*AccessReviewer)(nil)

// NewAccessReviewer returns an Authorizer for the API server a kubeconfig
// names, or, with kubeconfig "", for the cluster raygate runs in; nil
// (and no error) when kubeconfig is "" and raygate does not run in
// Kubernetes.
func NewAccessReviewer(kubeconfig string) (*AccessReviewer, error) {
	var cfg *rest.Config
	var err error
	switch {
	case kubeconfig != "":
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	case os.Getenv("KUBERNETES_SERVICE_HOST") != "":
		cfg, err = rest.InClusterConfig()
	default:
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("webhook: kubernetes access: %w", err)
	}
	return NewAccessReviewerFor(cfg)
}

// NewAccessReviewerFor returns an Authorizer for a client config.
func NewAccessReviewerFor(cfg *rest.Config) (*AccessReviewer, error) {
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("webhook: kubernetes access: %w", err)
	}
	return &AccessReviewer{client: c}, nil
}

// MayUpdate asks the API server with a SubjectAccessReview.
func (a *AccessReviewer) MayUpdate(ctx context.Context, user authenticationv1.UserInfo, namespace, resource, name string) (bool, string, error) {
	if user.Username == "" {
		return false, "", errors.New("the request names no user")
	}
	extra := map[string]authorizationv1.ExtraValue{}
	for k, v := range user.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user.Username, UID: user.UID, Groups: user.Groups, Extra: extra,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: namespace, Verb: "update", Group: manifest.Group, Resource: resource, Name: name,
		},
	}}
	out, err := a.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil {
		return false, "", fmt.Errorf("webhook: subject access review: %w", err)
	}
	if out.Status.EvaluationError != "" && !out.Status.Allowed {
		return false, "", fmt.Errorf("webhook: subject access review: %s", out.Status.EvaluationError)
	}
	return out.Status.Allowed && !out.Status.Denied, out.Status.Reason, nil
}
