package clilogin

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// OpenBrowser opens u in the person's browser: the command in $BROWSER if
// set, else the system's opener (xdg-open, open, or the Windows URL
// handler). It does not wait for the browser, and gives it no terminal.
func OpenBrowser(u string) error {
	var cmd *exec.Cmd
	switch b := strings.TrimSpace(os.Getenv("BROWSER")); {
	case b != "":
		cmd = exec.Command(b, u)
	case runtime.GOOS == "darwin":
		cmd = exec.Command("open", u)
	case runtime.GOOS == "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", u)
	default:
		cmd = exec.Command("xdg-open", u)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}

// CanOpenBrowser reports whether a browser can be opened here: $BROWSER
// names one, or there is a desktop (a display on Linux and the BSDs; not
// a remote shell on macOS and Windows). Over SSH without a display the
// address is only printed, so that no text browser takes over the
// terminal.
func CanOpenBrowser() bool { return canOpenBrowser(runtime.GOOS, os.Getenv) }

func canOpenBrowser(goos string, getenv func(string) string) bool {
	if strings.TrimSpace(getenv("BROWSER")) != "" {
		return true
	}
	switch goos {
	case "darwin", "windows":
		return getenv("SSH_CONNECTION") == "" && getenv("SSH_TTY") == ""
	}
	return getenv("DISPLAY") != "" || getenv("WAYLAND_DISPLAY") != ""
}
