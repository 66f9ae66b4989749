package clilogin

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// OpenBrowser opens u in the person's browser: the command in $BROWSER if
// set, else the system's opener (xdg-open, open, or the Windows URL
// handler). It does not wait for the browser.
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
