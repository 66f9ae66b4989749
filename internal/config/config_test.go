package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestInvalidGolden checks the exact problems reported for each file under
// testdata/invalid against its .golden file (go test -update rewrites them).
func TestInvalidGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	if len(files) == 0 {
		t.Fatal("no test files")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := Load(f)
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Load = %v, want Problems", err)
			}
			got := ps.Error() + "\n"
			for _, p := range ps {
				if !strings.HasPrefix(p.String(), f+":") {
					t.Errorf("problem %q does not start with %s:", p.String(), f)
				}
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Fatalf("problems:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestValid(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := Load(f); err != nil {
				t.Fatalf("Load: %v", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := Load("testdata/valid/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, pair := range map[string][2]any{
		"listen":            {c.Listen, DefaultListen},
		"metricsListen":     {c.MetricsListen, DefaultMetricsListen},
		"audit.file":        {c.Audit.File, "-"},
		"tokenCache.size":   {*c.Authentication.TokenCache.Size, DefaultTokenCacheSize},
		"tokenCache.ttl":    {c.Authentication.TokenCache.TTL.D(), DefaultTokenCacheTTL},
		"dialTimeout":       {c.Proxy.DialTimeout.D(), DefaultDialTimeout},
		"responseHeader":    {c.Proxy.ResponseHeaderTimeout.D(), DefaultResponseHeaderTimeout},
		"maxIdlePerHost":    {c.Proxy.MaxIdleConnsPerHost, DefaultMaxIdleConnsPerHost},
		"body.default":      {c.Proxy.MaxBodyBytes.Default, int64(DefaultBodyLimit)},
		"body.jobSubmit":    {c.Proxy.MaxBodyBytes.JobSubmit, int64(DefaultJobSubmitLimit)},
		"body.package":      {c.Proxy.MaxBodyBytes.PackageUpload, int64(DefaultPackageUploadLimit)},
		"body.serveDeploy":  {c.Proxy.MaxBodyBytes.ServeDeploy, int64(DefaultServeDeployLimit)},
		"log.level":         {c.Log.Level, "info"},
		"log.format":        {c.Log.Format, "json"},
		"shutdownTimeout":   {c.ShutdownTimeout.D(), DefaultShutdownTimeout},
		"shutdownDelay":     {c.ShutdownDelay.D(), time.Duration(0)},
		"audit.onFailure":   {c.Audit.OnFailure, AuditRefuse},
		"limits.perUser":    {c.Limits.PerUser, Limit{}},
		"limits.perCluster": {c.Limits.PerCluster, Limit{}},
		"limits.maxUsers":   {c.Limits.MaxUsers, DefaultLimitMaxUsers},
		"webhook (not set)": {c.Webhook == nil, true},
	} {
		if pair[0] != pair[1] {
			t.Errorf("%s = %v, want %v", name, pair[0], pair[1])
		}
	}
	full, err := Load("testdata/valid/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	o := full.Authentication.OIDC[1]
	if o.UsernameClaim != "email" || o.GroupsClaim != "groups" || o.ClockSkew.D() != 30*time.Second || len(o.Algorithms) != len(DefaultAlgorithms) {
		t.Errorf("oidc defaults not applied: %+v", o)
	}
	if !filepath.IsAbs(full.Clusters[0].RayTokenFile) || !strings.HasSuffix(full.Clusters[0].RayTokenFile, "testdata/team-a.token") {
		t.Errorf("rayTokenFile not resolved against the config's folder: %s", full.Clusters[0].RayTokenFile)
	}
	if l := full.Limits.PerCluster; l.Burst != 500 || l.RequestsPerSecond != 500 {
		t.Errorf("limits.perCluster.burst default = %d, want the rate rounded up (500)", l.Burst)
	}
	if *full.Authentication.TokenCache.Size != 500 {
		t.Errorf("tokenCache.size = %d", *full.Authentication.TokenCache.Size)
	}
}

func TestTokenCacheSizeZeroIsKept(t *testing.T) {
	c, err := Parse("x.yaml", []byte("authentication:\n  apiKeys: [{name: a, sha256: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae, user: a}]\n  tokenCache: {size: 0}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if *c.Authentication.TokenCache.Size != 0 {
		t.Fatalf("size = %d, want 0 (disabled)", *c.Authentication.TokenCache.Size)
	}
}

func TestMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml")
	if err == nil || err.Error() != "testdata/does-not-exist.yaml: cannot read config: no such file or directory" {
		t.Fatalf("err = %v", err)
	}
}

func TestFiles(t *testing.T) {
	c, err := Load("testdata/valid/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files := strings.Join(c.Files(), "\n")
	for _, want := range []string{"valid/full.yaml", "tls/cert.pem", "tls/key.pem", "team-a.token"} {
		if !strings.Contains(files, want) {
			t.Errorf("Files() lacks %s:\n%s", want, files)
		}
	}
}

// FuzzParse checks that no input makes the loader panic, and that every
// refusal is a list of problems with a message.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/invalid"} {
		files, _ := filepath.Glob(dir + "/*.yaml")
		for _, file := range files {
			b, _ := os.ReadFile(file)
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("testdata/valid/fuzz.yaml", data)
		if err == nil {
			if c == nil || c.Listen == "" || c.MetricsListen == "" {
				t.Fatal("accepted config without defaults")
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("accepted config fails validation: %v", err)
			}
			seen := map[string]bool{}
			for _, cl := range c.Clusters {
				if k := cl.Namespace + "/" + cl.Name; seen[k] {
					t.Fatalf("cluster %s accepted twice", k)
				} else {
					seen[k] = true
				}
			}
			return
		}
		var ps Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("error %v is not Problems", err)
		}
		for _, p := range ps {
			if p.Msg == "" || strings.Contains(p.String(), "\n") {
				t.Fatalf("bad problem %q", p.String())
			}
		}
	})
}
