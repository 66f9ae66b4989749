package authn

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/raygate/raygate/internal/config"
	"github.com/raygate/raygate/internal/identity"
)

// fakeSAToken is shaped like a ServiceAccount JWT (the fake API server
// does not check signatures).
func fakeSAToken(iss string, exp int64) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256"}`)) + "." + enc(fmt.Appendf(nil, `{"iss":%q,"exp":%d}`, iss, exp)) + ".c2ln"
}

// reviewer answers TokenReviews with status (or err) and counts calls.
func reviewer(status authenticationv1.TokenReviewStatus, err error, calls *int, seen *authenticationv1.TokenReview) *fake.Clientset {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		*calls++
		tr := a.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenReview)
		if seen != nil {
			*seen = *tr.DeepCopy()
		}
		if err != nil {
			return true, nil, err
		}
		out := tr.DeepCopy()
		out.Status = status
		return true, out, nil
	})
	return cs
}

func saStatus() authenticationv1.TokenReviewStatus {
	return authenticationv1.TokenReviewStatus{
		Authenticated: true, Audiences: []string{"raygate"},
		User: authenticationv1.UserInfo{Username: "system:serviceaccount:team-a:pipeline",
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"}},
	}
}

const k8sIssuer = "https://kubernetes.default.svc.cluster.local"

func TestKubernetesTokens(t *testing.T) {
	exp := time.Now().Add(time.Hour).Unix()
	tok := fakeSAToken(k8sIssuer, exp)
	for _, tc := range []struct {
		name       string
		status     authenticationv1.TokenReviewStatus
		apiErr     error
		issuers    []string
		wantReason string
		wantStatus int
	}{
		{name: "service account", status: saStatus()},
		{name: "issuer listed", status: saStatus(), issuers: []string{k8sIssuer}},
		{name: "issuer not listed", status: saStatus(), issuers: []string{"https://other"}, wantReason: ReasonUnknownIssuer, wantStatus: 401},
		{name: "not authenticated", status: authenticationv1.TokenReviewStatus{Error: "token has expired"}, wantReason: ReasonReviewRejected, wantStatus: 401},
		{name: "other audience", status: func() authenticationv1.TokenReviewStatus { s := saStatus(); s.Audiences = []string{"api"}; return s }(), wantReason: ReasonAudience, wantStatus: 401},
		{name: "audience unaware", status: func() authenticationv1.TokenReviewStatus { s := saStatus(); s.Audiences = nil; return s }(), wantReason: ReasonAudience, wantStatus: 401},
		{name: "a user, not a service account", status: func() authenticationv1.TokenReviewStatus {
			s := saStatus()
			s.User = authenticationv1.UserInfo{Username: "kubernetes-admin", Groups: []string{"system:masters"}}
			return s
		}(), wantReason: ReasonNotServiceAccount, wantStatus: 401},
		{name: "control character in a group", status: func() authenticationv1.TokenReviewStatus {
			s := saStatus()
			s.User.Groups = []string{"a\nb"}
			return s
		}(), wantReason: ReasonClaims, wantStatus: 401},
		{name: "API server down", apiErr: errors.New("connection refused"), wantReason: ReasonIdPUnavailable, wantStatus: 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			var seen authenticationv1.TokenReview
			cs := reviewer(tc.status, tc.apiErr, &calls, &seen)
			k := NewKubernetes(config.KubernetesAuthn{Audiences: []string{"raygate"}, Issuers: tc.issuers, CacheTTL: config.Duration(time.Minute)}, cs.AuthenticationV1().TokenReviews())
			b := &Bearer{Issuers: map[string]TokenVerifier{}, Kubernetes: k}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			id, err := b.Authenticate(context.Background(), r)
			if tc.wantReason != "" {
				var f *Failure
				if !errors.As(err, &f) || f.Reason != tc.wantReason || f.Status != tc.wantStatus {
					t.Fatalf("Authenticate = %v, %v; want %s (%d)", id, err, tc.wantReason, tc.wantStatus)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if seen.Spec.Token != tok || len(seen.Spec.Audiences) != 1 || seen.Spec.Audiences[0] != "raygate" {
				t.Fatalf("review asked %+v", seen.Spec)
			}
			want := identity.Identity{User: "system:serviceaccount:team-a:pipeline", Method: identity.MethodKubernetes, Source: "tokenreview", ServiceAccount: "team-a/pipeline"}
			if id.User != want.User || id.Method != want.Method || id.Source != want.Source || id.ServiceAccount != want.ServiceAccount || len(id.Groups) != 3 {
				t.Fatalf("identity = %+v", id)
			}
		})
	}
}

func TestKubernetesReviewCachedUntilExpiry(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	calls := 0
	cs := reviewer(saStatus(), nil, &calls, nil)
	k := NewKubernetes(config.KubernetesAuthn{Audiences: []string{"raygate"}, CacheTTL: config.Duration(time.Minute)}, cs.AuthenticationV1().TokenReviews())
	k.now = func() time.Time { return now }
	b := &Bearer{Issuers: map[string]TokenVerifier{}, Kubernetes: k, Cache: NewTokenCache(10, 5*time.Minute), Now: func() time.Time { return now }}
	tok := fakeSAToken(k8sIssuer, now.Add(20*time.Second).Unix())
	auth := func() {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		if _, err := b.Authenticate(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	auth()
	auth()
	if calls != 1 {
		t.Fatalf("%d reviews for a repeated token, want 1", calls)
	}
	now = now.Add(21 * time.Second) // past the token's exp, within the TTL
	auth()
	if calls != 2 {
		t.Fatalf("a review was trusted past the token's expiry (%d reviews)", calls)
	}
}

var saNameCases = []struct {
	in       string
	ns, name string
	ok       bool
}{
	{"system:serviceaccount:team-a:pipeline", "team-a", "pipeline", true},
	{"system:serviceaccount:team-a:my.sa-1", "team-a", "my.sa-1", true},
	{"system:serviceaccount:team-a", "", "", false},
	{"system:serviceaccount::pipeline", "", "", false},
	{"system:serviceaccount:team-a:", "", "", false},
	{"system:serviceaccount:Team-A:pipeline", "", "", false},
	{"system:serviceaccount:team-a:a:b", "", "", false},
	{"system:serviceaccount:team.a:pipeline", "", "", false},
	{"system:serviceaccounts:team-a:pipeline", "", "", false},
	{"alice@example.com", "", "", false},
	{"", "", "", false},
}

func TestParseServiceAccount(t *testing.T) {
	for _, tc := range saNameCases {
		ns, name, ok := ParseServiceAccount(tc.in)
		if ok != tc.ok || ns != tc.ns || name != tc.name {
			t.Errorf("ParseServiceAccount(%q) = %q, %q, %v; want %q, %q, %v", tc.in, ns, name, ok, tc.ns, tc.name, tc.ok)
		}
	}
}

// FuzzParseServiceAccount checks that every accepted username rebuilds
// exactly from its parts, which are names the API server allows.
func FuzzParseServiceAccount(f *testing.F) {
	for _, tc := range saNameCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ns, name, ok := ParseServiceAccount(s)
		if !ok {
			return
		}
		if ServiceAccountPrefix+ns+":"+name != s {
			t.Fatalf("%q split into %q and %q", s, ns, name)
		}
		if ns == "" || name == "" || len(ns) > 63 || len(name) > 253 {
			t.Fatalf("%q: invalid parts %q, %q", s, ns, name)
		}
		for _, c := range ns + name {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
				t.Fatalf("%q: character %q in a part", s, c)
			}
		}
	})
}
