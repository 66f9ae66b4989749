// Command testsummary condenses `go test -json` output: one line per
// package with its pass, fail and skip counts, the full output of every
// failed or skipped test, and a total line. It exits non-zero if a test
// failed, a package failed to build, or (with --no-skips) a test skipped.
//
//	go test -json ./... | go run ./test/testsummary --name unit
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

type pkgStats struct {
	pass, fail, skip int
	result           string
	elapsed          float64
	output           []string // package-level output (build errors)
}

func main() {
	name := flag.String("name", "tests", "label for the total line")
	noSkips := flag.Bool("no-skips", false, "treat a skipped test as a failure")
	flag.Parse()
	os.Exit(run(os.Stdin, os.Stdout, *name, *noSkips))
}

func run(in io.Reader, out io.Writer, name string, noSkips bool) int {
	pkgs := map[string]*pkgStats{}
	outputs := map[string][]string{}
	var order []string
	get := func(p string) *pkgStats {
		s, ok := pkgs[p]
		if !ok {
			s = &pkgStats{}
			pkgs[p] = s
			order = append(order, p)
		}
		return s
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Fprintln(out, sc.Text()) // not test2json: pass through (build output)
			continue
		}
		if e.Package == "" {
			continue
		}
		s := get(e.Package)
		// A subtest's output is its top-level test's: a failing test is
		// shown with what its failing subtests said.
		top, _, _ := strings.Cut(e.Test, "/")
		key := e.Package + " " + top
		switch e.Action {
		case "output":
			if e.Test != "" {
				if strings.HasPrefix(e.Output, "=== ") || strings.HasPrefix(strings.TrimLeft(e.Output, " "), "--- PASS: ") {
					continue // run/pause/cont markers, subtests that passed
				}
				outputs[key] = append(outputs[key], e.Output)
			} else {
				s.output = append(s.output, e.Output)
			}
		case "pass", "fail", "skip":
			if e.Test == "" {
				s.result, s.elapsed = e.Action, e.Elapsed
				continue
			}
			if strings.Contains(e.Test, "/") {
				continue // subtests are counted and reported with their parent
			}
			switch e.Action {
			case "pass":
				s.pass++
			case "fail":
				s.fail++
				fmt.Fprintf(out, "--- FAIL: %s (%s)\n%s", e.Test, e.Package, strings.Join(outputs[key], ""))
			case "skip":
				s.skip++
				fmt.Fprintf(out, "--- SKIP: %s (%s)\n%s", e.Test, e.Package, lastLines(outputs[key], 3))
			}
			delete(outputs, key)
		}
	}
	sort.Strings(order)
	var tp, tf, ts int
	failed := false
	for _, p := range order {
		s := pkgs[p]
		if s.pass+s.fail+s.skip == 0 && s.result != "fail" {
			continue // no tests
		}
		tp, tf, ts = tp+s.pass, tf+s.fail, ts+s.skip
		status := "ok  "
		if s.result == "fail" || s.fail > 0 {
			status, failed = "FAIL", true
			if s.pass+s.fail+s.skip == 0 {
				fmt.Fprint(out, strings.Join(s.output, ""))
			}
		}
		fmt.Fprintf(out, "%s %-55s %6.1fs  %3d passed", status, p, s.elapsed, s.pass)
		if s.fail > 0 {
			fmt.Fprintf(out, ", %d failed", s.fail)
		}
		if s.skip > 0 {
			fmt.Fprintf(out, ", %d skipped", s.skip)
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintf(out, "%s: %d passed, %d failed, %d skipped\n", name, tp, tf, ts)
	if failed || tf > 0 || (noSkips && ts > 0) {
		if noSkips && ts > 0 {
			fmt.Fprintf(out, "%s: %d tests skipped where none may be\n", name, ts)
		}
		return 1
	}
	return 0
}

func lastLines(lines []string, n int) string {
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}
