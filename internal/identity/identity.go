// Package identity describes who a request comes from, as established by
// authentication.
package identity

// Method names how an identity was established; it is the audit log's
// auth_method.
type Method string

// Authentication methods.
const (
	MethodOIDC       Method = "oidc"
	MethodAPIKey     Method = "apikey"
	MethodSession    Method = "session"
	MethodIAP        Method = "iap"
	MethodKubernetes Method = "kubernetes"
)

// Identity is an authenticated caller. It is immutable once built: share
// it, never modify it.
type Identity struct {
	// User is the username the authorization bindings match.
	User string
	// Groups are the caller's groups, as bindings match them.
	Groups []string
	// Method is how the caller authenticated.
	Method Method
	// Source names the credential's origin: the OIDC issuer, the API key's
	// name. Never a secret.
	Source string
	// ServiceAccount is "namespace/name" for a Kubernetes service account,
	// "" otherwise.
	ServiceAccount string
}
