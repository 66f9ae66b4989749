package clilogin

import "testing"

func TestCanOpenBrowser(t *testing.T) {
	for _, tc := range []struct {
		goos string
		env  map[string]string
		want bool
	}{
		{"linux", nil, false},
		{"linux", map[string]string{"DISPLAY": ":0"}, true},
		{"linux", map[string]string{"WAYLAND_DISPLAY": "wayland-0", "SSH_CONNECTION": "x"}, true},
		{"linux", map[string]string{"SSH_CONNECTION": "10.0.0.1 22 10.0.0.2 5000"}, false},
		{"linux", map[string]string{"BROWSER": "firefox"}, true},
		{"freebsd", map[string]string{"DISPLAY": ":1"}, true},
		{"darwin", nil, true},
		{"darwin", map[string]string{"SSH_TTY": "/dev/ttys001"}, false},
		{"windows", map[string]string{"SSH_CONNECTION": "x"}, false},
		{"windows", map[string]string{"SSH_CONNECTION": "x", "BROWSER": "msedge"}, true},
	} {
		if got := canOpenBrowser(tc.goos, func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("%s %v: %v, want %v", tc.goos, tc.env, got, tc.want)
		}
	}
}
