package audit

import (
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	log := strings.Join([]string{
		`{"time":"2026-01-01T00:00:00Z","request_id":"abc-1","stage":"request","user":"alice","action":"jobs.submit","decision":"allow","reason":"role developer allows jobs.submit","status":0}`,
		`not json at all`,
		`{"time":"2026-01-01T00:00:00Z","request_id":"abc-2","user":"carol","action":"jobs.submit","decision":"deny","reason":"role viewer does not allow jobs.submit (needs developer)","status":403}`,
		`{"request_id":"abc-1x","user":"mallory"}`,
		``,
		`{"time":"2026-01-01T00:00:01Z","request_id":"abc-1","stage":"response","user":"alice","action":"jobs.submit","decision":"allow","reason":"role developer allows jobs.submit","status":200}`,
		`{"request_id":"abc-1", "user": 5}`,
		`{"request_id":"abc-1","user":"` + strings.Repeat("x", MaxLine) + `"}`,
	}, "\n")
	evs, skipped, err := Find(strings.NewReader(log), "abc-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Stage != StageRequest || evs[1].Stage != StageResponse || evs[1].Status != 200 {
		t.Fatalf("found %+v", evs)
	}
	if skipped != 3 {
		t.Fatalf("skipped %d lines, want 3 (not JSON, a wrong type, too long)", skipped)
	}
	evs, _, _ = Find(strings.NewReader(log), "abc-2")
	if len(evs) != 1 || evs[0].Stage != StageResponse || evs[0].User != "carol" {
		t.Fatalf("a record without stage: %+v", evs)
	}
	if evs, _, _ := Find(strings.NewReader(log), "nope"); len(evs) != 0 {
		t.Fatalf("found %+v", evs)
	}
	if _, _, err := Find(strings.NewReader(log), ""); err == nil {
		t.Fatal("an empty request id was searched for")
	}
}
