package lint

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Formats Report can write.
const (
	FormatText  = "text"
	FormatJSON  = "json"
	FormatSARIF = "sarif"
)

// Report writes findings in format (text, json or sarif). files is the
// number of files checked, for the text summary; version is raygate's
// version for SARIF's tool.driver.version.
func Report(w io.Writer, format string, fs []Finding, files int, version string) error {
	switch format {
	case FormatText:
		return writeText(w, fs, files)
	case FormatJSON:
		if fs == nil {
			fs = []Finding{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(fs)
	case FormatSARIF:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(SARIF(fs, version))
	}
	return fmt.Errorf("lint: unknown format %q (text, json or sarif)", format)
}

func writeText(w io.Writer, fs []Finding, files int) error {
	var b strings.Builder
	for _, f := range fs {
		loc := f.File
		if f.Line > 0 {
			loc = fmt.Sprintf("%s:%d:%d", f.File, f.Line, f.Column)
		}
		fmt.Fprintf(&b, "%s: %s %s %s/%s (document %d) %s: %s\n", loc, f.Severity, f.Rule, f.Kind, f.Name, f.Document, f.Field, f.Message)
	}
	n := Count(fs)
	fmt.Fprintf(&b, "%d %s, %d %s, %d info in %d %s\n",
		n[SeverityError], plural(n[SeverityError], "error", "errors"),
		n[SeverityWarning], plural(n[SeverityWarning], "warning", "warnings"),
		n[SeverityInfo], files, plural(files, "file", "files"))
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// SARIF log types (the subset of SARIF 2.1.0 raygate writes).
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool    sarifTool     `json:"tool"`
		Results []sarifResult `json:"results"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		InformationURI string      `json:"informationUri"`
		Version        string      `json:"version,omitempty"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID                   string       `json:"id"`
		ShortDescription     sarifText    `json:"shortDescription"`
		Help                 sarifText    `json:"help"`
		DefaultConfiguration sarifConfig  `json:"defaultConfiguration"`
		Properties           sarifRuleTag `json:"properties"`
	}
	sarifRuleTag struct {
		Tags []string `json:"tags"`
	}
	sarifConfig struct {
		Level string `json:"level"`
	}
	sarifText struct {
		Text string `json:"text"`
	}
	sarifResult struct {
		RuleID    string          `json:"ruleId"`
		RuleIndex int             `json:"ruleIndex"`
		Level     string          `json:"level"`
		Message   sarifText       `json:"message"`
		Locations []sarifLocation `json:"locations"`
	}
	sarifLocation struct {
		PhysicalLocation sarifPhysical  `json:"physicalLocation"`
		LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifact `json:"artifactLocation"`
		Region           *sarifRegion  `json:"region,omitempty"`
	}
	sarifArtifact struct {
		URI string `json:"uri"`
	}
	sarifRegion struct {
		StartLine   int `json:"startLine"`
		StartColumn int `json:"startColumn,omitempty"`
	}
	sarifLogical struct {
		FullyQualifiedName string `json:"fullyQualifiedName"`
		Kind               string `json:"kind"`
	}
)

// SARIF returns the findings as a SARIF 2.1.0 log, for code-scanning
// tools.
func SARIF(fs []Finding, version string) any {
	rules := Rules()
	index := map[string]int{}
	driver := sarifDriver{Name: "raygate", InformationURI: "https://github.com/raygate/raygate/blob/main/docs/hardening.md", Version: version}
	for i, r := range rules {
		index[r.ID] = i
		tag := "ray"
		if strings.HasPrefix(r.ID, RulePSSPrefix) {
			tag = "pod-security-standard"
		}
		driver.Rules = append(driver.Rules, sarifRule{
			ID:                   r.ID,
			ShortDescription:     sarifText{Text: r.Summary},
			Help:                 sarifText{Text: r.Fix},
			DefaultConfiguration: sarifConfig{Level: sarifLevel(r.Severity)},
			Properties:           sarifRuleTag{Tags: []string{"security", tag}},
		})
	}
	results := []sarifResult{}
	for _, f := range fs {
		idx, ok := index[f.Rule]
		if !ok {
			idx = -1
		}
		loc := sarifLocation{
			PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: filepath.ToSlash(f.File)}},
			LogicalLocations: []sarifLogical{{FullyQualifiedName: fmt.Sprintf("%s/%s/%s", f.Kind, f.Name, f.Field), Kind: "member"}},
		}
		if f.Line > 0 {
			loc.PhysicalLocation.Region = &sarifRegion{StartLine: f.Line, StartColumn: f.Column}
		}
		results = append(results, sarifResult{
			RuleID: f.Rule, RuleIndex: idx, Level: sarifLevel(f.Severity),
			Message:   sarifText{Text: fmt.Sprintf("%s/%s (document %d) %s: %s", f.Kind, f.Name, f.Document, f.Field, f.Message)},
			Locations: []sarifLocation{loc},
		})
	}
	return sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{{Tool: sarifTool{Driver: driver}, Results: results}},
	}
}

func sarifLevel(s Severity) string {
	switch s {
	case SeverityError:
		return "error"
	case SeverityWarning:
		return "warning"
	}
	return "note"
}
