// Package config defines raygate's static configuration file: its shape, its
// defaults and its validation. Load reads a YAML file, rejects unknown fields,
// fills defaults, resolves relative paths against the file's folder and
// validates everything, reporting each problem as FILE:LINE: message.
//
// The structs below are the reference: every field documents its default.
package config

// Config is the whole file.
type Config struct {
	// Listen is the public listener's host:port. Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// TLS, when set, makes the public listener serve HTTPS. The certificate
	// and key are re-read on every reload, so rotating them needs no restart.
	TLS *TLS `yaml:"tls"`
	// MetricsListen is the host:port of the separate listener that serves
	// /metrics (Prometheus), /healthz and /readyz. It must differ from
	// Listen. Default 127.0.0.1:9090.
	MetricsListen string `yaml:"metricsListen"`
	// Server bounds what a client of the public listener may send and how
	// long it may take, and names the proxies trusted to report the
	// client's address.
	Server Server `yaml:"server"`
	// Authentication lists the ways a caller can prove who it is.
	Authentication Authentication `yaml:"authentication"`
	// Authorization adds policy sources to the clusters' own bindings.
	Authorization Authorization `yaml:"authorization"`
	// Clusters are the Ray clusters behind the gateway and who may do what
	// on each.
	Clusters []Cluster `yaml:"clusters"`
	// Discovery finds more clusters (KubeRay RayClusters) at run time.
	Discovery Discovery `yaml:"discovery"`
	// Kubernetes says how to reach the Kubernetes API server, when a
	// Kubernetes feature is on. Default: in-cluster credentials.
	Kubernetes *KubernetesAPI `yaml:"kubernetes"`
	// Audit says where the audit log goes.
	Audit Audit `yaml:"audit"`
	// Proxy tunes the connection to the Ray clusters.
	Proxy Proxy `yaml:"proxy"`
	// Log configures raygate's own operational log (not the audit log).
	Log Log `yaml:"log"`
	// ShutdownTimeout bounds how long a stopping gateway waits for in-flight
	// requests to finish, after ShutdownDelay. WebSockets still open then
	// are closed. Default 30s.
	ShutdownTimeout Duration `yaml:"shutdownTimeout"`
	// ShutdownDelay is how long a stopping gateway keeps serving with
	// /readyz failing before it stops accepting connections, so that load
	// balancers and Kubernetes Endpoints stop sending it traffic first.
	// Default 0s (stop accepting at once).
	ShutdownDelay Duration `yaml:"shutdownDelay"`
	// Limits are the abuse limits: request rate and concurrency per user
	// and per cluster. Default: no limits.
	Limits Limits `yaml:"limits"`
	// Webhook, when set, makes `raygate serve` also serve the KubeRay
	// admission webhook on its own TLS listener.
	Webhook *Webhook `yaml:"webhook"`
	// ExternalURL is the gateway's public base URL as browsers reach it:
	// scheme, host and optional port, no path (https://raygate.example.com).
	// Browser sign-in builds its callback URL from it
	// (EXTERNALURL/_raygate/callback) and checks that cookie-authenticated
	// state changes come from it. https, except on a loopback host. Default:
	// derived from listen when listen is a loopback address
	// (http://127.0.0.1:8080, https with tls); otherwise required for
	// browser sign-in.
	ExternalURL string `yaml:"externalURL"`

	// File is the path the config was loaded from (not part of the file).
	File string `yaml:"-"`

	warnings Problems
}

// TLS names a certificate and its private key, both PEM files.
type TLS struct {
	// CertFile is the PEM certificate chain. Required.
	CertFile string `yaml:"certFile"`
	// KeyFile is the PEM private key. Required.
	KeyFile string `yaml:"keyFile"`
}

// Server tunes the public listener. The timeouts and sizes apply to new
// connections and need a restart to change; trustedProxies reloads.
type Server struct {
	// ReadHeaderTimeout bounds the time from a request's first byte to the
	// end of its headers; a slower client is disconnected. Default 10s.
	ReadHeaderTimeout Duration `yaml:"readHeaderTimeout"`
	// BodyTimeout bounds the time from the end of a request's headers to
	// the end of its body (uploads included); a slower client is
	// disconnected. Responses (log streams) and WebSockets are not bounded
	// by it. Default 5m.
	BodyTimeout Duration `yaml:"bodyTimeout"`
	// IdleTimeout closes a kept-alive connection that sends no new request
	// for this long. Default 2m.
	IdleTimeout Duration `yaml:"idleTimeout"`
	// MaxRequestTargetBytes bounds the request target (path and query)
	// in bytes; a longer one is refused with 414. Default 8192.
	MaxRequestTargetBytes int `yaml:"maxRequestTargetBytes"`
	// MaxHeaderBytes bounds the header section of a request in bytes; a
	// larger one is refused with 431. Default 32768.
	MaxHeaderBytes int `yaml:"maxHeaderBytes"`
	// MaxPendingHeadBytes bounds the memory all connections together hold
	// for request heads still arriving (beyond the first 4 KiB of each); a
	// head that would take more is refused with 503. Default 67108864
	// (64 MiB).
	MaxPendingHeadBytes int64 `yaml:"maxPendingHeadBytes"`
	// TrustedProxies lists the networks (CIDRs, or single addresses) of
	// proxies in front of raygate whose X-Forwarded-For is believed: for a
	// request from one of them, the client is the right-most address in
	// X-Forwarded-For that is not itself a trusted proxy. Default none:
	// X-Forwarded-For is ignored and the client is the TCP peer.
	TrustedProxies []string `yaml:"trustedProxies"`
}

// Authentication configures the identity methods. A request is
// authenticated by the first method whose credential it carries; a present
// but invalid credential is refused, never passed to another method.
type Authentication struct {
	// OIDC lists trusted OpenID Connect issuers whose bearer JWTs are
	// accepted.
	OIDC []OIDC `yaml:"oidc"`
	// APIKeys lists static API keys, stored only as SHA-256 hashes.
	APIKeys []APIKey `yaml:"apiKeys"`
	// Kubernetes accepts Kubernetes ServiceAccount tokens (TokenReview).
	Kubernetes *KubernetesAuthn `yaml:"kubernetes"`
	// TokenCache bounds the cache of verified bearer tokens.
	TokenCache TokenCache `yaml:"tokenCache"`
	// Session configures the encrypted cookie that keeps a browser signed
	// in. Required when an OIDC issuer has login: true.
	Session Session `yaml:"session"`
	// IAP, when set, accepts the signed header Google Cloud's
	// Identity-Aware Proxy adds to every request it lets through.
	IAP *IAP `yaml:"iap"`
	// SharedIssuerNamespace says that all OIDC issuers name the same
	// people and groups, so a name means the same from any of them.
	// Default false: with more than one issuer, each must have its own
	// usernamePrefix and groupsPrefix, none a prefix of another's, so one
	// issuer can never mint a name another issuer's users are bound by.
	SharedIssuerNamespace bool `yaml:"sharedIssuerNamespace"`
}

// OIDC is one trusted issuer.
type OIDC struct {
	// Issuer is the issuer URL, exactly as it appears in the tokens' iss
	// claim. Must be https, except on a loopback host. Required.
	Issuer string `yaml:"issuer"`
	// Audiences lists accepted aud values; a token must carry at least one.
	// Required.
	Audiences []string `yaml:"audiences"`
	// UsernameClaim is the claim that names the user. Default "email"; when
	// it is "email" and the token says email_verified=false, the token is
	// refused.
	UsernameClaim string `yaml:"usernameClaim"`
	// GroupsClaim is the claim that lists the user's groups (an array of
	// strings, or one string). Default "groups".
	GroupsClaim string `yaml:"groupsClaim"`
	// UsernamePrefix is prepended to every username from this issuer, to keep
	// issuers apart. Default "" (none); required with several issuers unless
	// sharedIssuerNamespace is true.
	UsernamePrefix string `yaml:"usernamePrefix"`
	// GroupsPrefix is prepended to every group from this issuer. Default "";
	// required with several issuers unless sharedIssuerNamespace is true.
	GroupsPrefix string `yaml:"groupsPrefix"`
	// Algorithms lists the accepted signature algorithms. Default RS256,
	// RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA. "none"
	// and the HMAC algorithms (HS*) are never accepted.
	Algorithms []string `yaml:"algorithms"`
	// ClockSkew is the tolerance applied to exp, nbf and iat. Default 30s,
	// at most 5m.
	ClockSkew Duration `yaml:"clockSkew"`
	// JWKSURL overrides the key set URL found by discovery. Default "" (use
	// discovery's jwks_uri).
	JWKSURL string `yaml:"jwksURL"`
	// CAFile is a PEM bundle trusted for the issuer's HTTPS endpoints, in
	// addition to the system roots. Default "" (system roots only).
	CAFile string `yaml:"caFile"`
	// Login offers browser sign-in with this issuer: the authorization code
	// flow with PKCE, state and nonce, ending in an encrypted session
	// cookie. Needs clientID, authentication.session keys and an
	// externalURL (or a loopback listen). Default false.
	Login bool `yaml:"login"`
	// ClientID is raygate's client id at the issuer. Required with login,
	// and must be one of audiences: ID tokens from sign-in are issued to it.
	ClientID string `yaml:"clientID"`
	// ClientSecretFile is a file holding the client secret (one line),
	// re-read on reload. The preferred way to give the secret. Default ""
	// (none: with no clientSecret either, raygate signs in as a public
	// client, relying on PKCE alone).
	ClientSecretFile string `yaml:"clientSecretFile"`
	// ClientSecret is the client secret written in the config itself.
	// Discouraged (`raygate check` warns): use clientSecretFile. At most one
	// of the two. Default "".
	ClientSecret string `yaml:"clientSecret"`
	// Scopes are the scopes sign-in asks for; must include openid. Default:
	// openid and email, then groups and profile if the issuer lists them in
	// its scopes_supported, and offline_access if it lists that (so the
	// session can be renewed with a refresh token).
	Scopes []string `yaml:"scopes"`
	// DisplayName names the issuer on the sign-in page when several
	// issuers offer login, and to `raygate login --issuer`. Default: the
	// issuer's host.
	DisplayName string `yaml:"displayName"`
	// CLIClientID offers terminal sign-in (`raygate login`) with this
	// issuer: the id of a public client at the issuer (no secret; PKCE),
	// allowed the device authorization grant and/or redirects to
	// http://127.0.0.1 on any port. The gateway names it, with the issuer
	// and scopes, at /_raygate/login-config. Must be one of audiences: the
	// ID tokens `raygate login` gets are issued to it. Default "" (no
	// terminal sign-in with this issuer).
	CLIClientID string `yaml:"cliClientID"`
}

// Session configures browser sessions: an AEAD-encrypted cookie
// (AES-256-GCM) that holds the signed-in identity, so raygate replicas
// share no state. The cookie is __Host-raygate-session (Secure, HttpOnly,
// SameSite=Lax), split into __Host-raygate-session-1, -2... when large.
type Session struct {
	// Keys are base64-encoded 32-byte keys (`openssl rand -base64 32`),
	// written in the config. Discouraged (`raygate check` warns): use
	// keyFiles. The first key of keys, then keyFiles, encrypts; every key
	// decrypts, so a new key can be added in front and the old one removed
	// once the sessions it sealed have ended.
	Keys []string `yaml:"keys"`
	// KeyFiles are files holding one base64-encoded 32-byte key each,
	// re-read on reload.
	KeyFiles []string `yaml:"keyFiles"`
	// MaxLifetime bounds a session from sign-in, however often it is
	// renewed with the refresh token. Default 12h.
	MaxLifetime Duration `yaml:"maxLifetime"`
}

// IAP configures Google Cloud Identity-Aware Proxy mode: the caller's
// identity is the email in the x-goog-iap-jwt-assertion header, an ES256
// JWT that IAP signs. The unsigned x-goog-authenticated-user-* headers are
// never trusted and never reach Ray.
type IAP struct {
	// Audience is the assertion's expected aud:
	// /projects/PROJECT_NUMBER/global/backendServices/SERVICE_ID, or
	// /projects/PROJECT_NUMBER/apps/PROJECT_ID on App Engine. Required.
	Audience string `yaml:"audience"`
	// JWKSURL is the key set IAP signs with. Default
	// https://www.gstatic.com/iap/verify/public_key-jwk.
	JWKSURL string `yaml:"jwksURL"`
	// ClockSkew is the tolerance applied to exp and iat. Default 30s, at
	// most 5m.
	ClockSkew Duration `yaml:"clockSkew"`
	// UsernamePrefix is prepended to every IAP user's email. Default "";
	// required with OIDC issuers too, unless sharedIssuerNamespace is true.
	UsernamePrefix string `yaml:"usernamePrefix"`
}

// APIKey is one static key. The key itself never appears in the file.
type APIKey struct {
	// Name identifies the key in logs and the audit trail. Required, unique.
	Name string `yaml:"name"`
	// SHA256 is the lowercase hex SHA-256 of the key
	// (`printf %s "$KEY" | sha256sum`). Required, unique.
	SHA256 string `yaml:"sha256"`
	// User is the identity the key authenticates as. Required.
	User string `yaml:"user"`
	// Groups are the identity's groups. Default none.
	Groups []string `yaml:"groups"`
}

// TokenCache bounds the cache of verified bearer tokens, which lets a
// repeated token skip signature verification until it expires.
type TokenCache struct {
	// Size is the maximum number of cached tokens; 0 disables the cache.
	// Default 10000.
	Size *int `yaml:"size"`
	// TTL caps how long a verified token is trusted without re-verifying,
	// even if it expires later. Default 5m.
	TTL Duration `yaml:"ttl"`
}

// Cluster is one Ray cluster behind the gateway, addressed as
// /clusters/{namespace}/{name}/.
type Cluster struct {
	// Namespace is the cluster's namespace (a DNS label). Required.
	Namespace string `yaml:"namespace"`
	// Name is the cluster's name (a DNS label). Required; namespace/name is
	// unique.
	Name string `yaml:"name"`
	// Upstream is the base URL of the cluster's dashboard/Jobs API (port
	// 8265), http or https. Required.
	Upstream string `yaml:"upstream"`
	// RayTokenFile holds the cluster's Ray authentication token; when set the
	// gateway sends it upstream as X-Ray-Authorization. Re-read on reload.
	// Default "" (no token).
	RayTokenFile string `yaml:"rayTokenFile"`
	// Access binds roles to users, groups and service accounts. A caller with
	// no binding cannot see the cluster at all (404).
	Access []Binding `yaml:"access"`
	// ActionRoles raises the least role an action needs on this cluster,
	// e.g. {logs.read: developer} keeps viewers out of log file contents.
	// Keys are action names (see Actions), values role names; an entry may
	// only raise an action's default role, never lower it. Default none.
	ActionRoles map[string]string `yaml:"actionRoles"`
}

// Binding gives a role to subjects. Roles nest: viewer < developer < admin;
// a caller matched by several bindings gets the highest role.
type Binding struct {
	// Role is viewer, developer or admin. Required.
	Role string `yaml:"role"`
	// Users are usernames as authentication reports them.
	Users []string `yaml:"users"`
	// Groups are group names as authentication reports them.
	Groups []string `yaml:"groups"`
	// ServiceAccounts are Kubernetes service accounts as "namespace/name".
	ServiceAccounts []string `yaml:"serviceAccounts"`
}

// Audit configures the audit log: one JSON object per request.
type Audit struct {
	// File is "-" for stdout, or a file path opened for append (mode 0600)
	// and reopened on SIGHUP and every reload, so a rotated file is picked
	// up. Default "-".
	File string `yaml:"file"`
	// OnFailure says what happens to a request that changes a cluster
	// (jobs.submit, jobs.stop, jobs.stop.any, serve.deploy, and any other
	// method than GET or HEAD) when its audit record cannot be written:
	// "refuse" answers 503 and never forwards it; "continue" forwards it
	// anyway. Reads are served either way. Default "refuse".
	OnFailure string `yaml:"onFailure"`
}

// Audit failure policies.
const (
	AuditRefuse   = "refuse"
	AuditContinue = "continue"
)

// Limits are the abuse limits, checked after authentication and routing
// and before anything is sent to a cluster. A request over a limit is
// answered 429 with Retry-After.
type Limits struct {
	// PerUser limits each authenticated user across all clusters.
	PerUser Limit `yaml:"perUser"`
	// PerCluster limits all users of one cluster together.
	PerCluster Limit `yaml:"perCluster"`
	// MaxUsers bounds how many users' limit state is kept at once. A user
	// whose state is idle (no request in flight, request budget full) is
	// forgotten without effect; a new user beyond MaxUsers busy ones is
	// refused with 429. Default 100000.
	MaxUsers int `yaml:"maxUsers"`
}

// Limit is one scope's limits; 0 turns a limit off.
type Limit struct {
	// RequestsPerSecond is the sustained request rate (a token bucket).
	// Default 0 (no rate limit).
	RequestsPerSecond float64 `yaml:"requestsPerSecond"`
	// Burst is how many requests may come at once above the rate (the
	// bucket's size). Default: RequestsPerSecond rounded up, at least 1.
	Burst int `yaml:"burst"`
	// ConcurrentRequests bounds requests in flight, WebSockets excepted.
	// Default 0 (no limit).
	ConcurrentRequests int `yaml:"concurrentRequests"`
	// ConcurrentStreams bounds open WebSockets (job log tails), which last
	// as long as the stream. Default 0 (no limit).
	ConcurrentStreams int `yaml:"concurrentStreams"`
}

// Proxy tunes the upstream connections and request limits.
type Proxy struct {
	// DialTimeout bounds connecting to a Ray head. Default 5s.
	DialTimeout Duration `yaml:"dialTimeout"`
	// ResponseHeaderTimeout bounds the wait for a Ray head's response
	// headers; past it the caller gets 504. Default 60s.
	ResponseHeaderTimeout Duration `yaml:"responseHeaderTimeout"`
	// IdleConnTimeout closes idle upstream connections. Default 90s.
	IdleConnTimeout Duration `yaml:"idleConnTimeout"`
	// MaxIdleConnsPerHost is the idle upstream connection pool per Ray
	// head. Default 256.
	MaxIdleConnsPerHost int `yaml:"maxIdleConnsPerHost"`
	// MaxBodyBytes limits request bodies per kind of request.
	MaxBodyBytes BodyLimits `yaml:"maxBodyBytes"`
}

// BodyLimits are request body limits in bytes; a larger body is refused
// with 413.
type BodyLimits struct {
	// Default applies to every request not listed below. Default 1 MiB.
	Default int64 `yaml:"default"`
	// JobSubmit applies to POST /api/jobs/. Default 10 MiB.
	JobSubmit int64 `yaml:"jobSubmit"`
	// PackageUpload applies to PUT /api/packages/... (working_dir and
	// py_modules uploads). Default 100 MiB, Ray's own limit.
	PackageUpload int64 `yaml:"packageUpload"`
	// ServeDeploy applies to PUT /api/serve/applications/. Default 10 MiB.
	ServeDeploy int64 `yaml:"serveDeploy"`
}

// Log configures raygate's operational log on stderr.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is json or text. Default json.
	Format string `yaml:"format"`
}
