package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxLine bounds one audit line when reading a log back; a longer line
// (none raygate writes: paths and entrypoints are bounded) is skipped.
const MaxLine = 1 << 20

// Find reads an audit log and returns the records of request id, in the
// order written: a mutation's write-ahead record (StageRequest) first,
// then its response record. skipped counts lines that are not audit
// records (or longer than MaxLine).
func Find(r io.Reader, requestID string) (found []Event, skipped int, err error) {
	if requestID == "" {
		return nil, 0, errors.New("audit: no request id")
	}
	needle := []byte(requestID)
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, tooLong, rerr := readLine(br)
		if len(line) > 0 || tooLong {
			switch {
			case tooLong:
				skipped++
			case bytes.Contains(line, needle):
				var e Event
				if json.Unmarshal(line, &e) != nil {
					skipped++
				} else if e.RequestID == requestID {
					if e.Stage == "" {
						e.Stage = StageResponse
					}
					found = append(found, e)
				}
			case !json.Valid(line):
				skipped++
			}
		}
		if rerr == io.EOF {
			return found, skipped, nil
		}
		if rerr != nil {
			return found, skipped, fmt.Errorf("audit: read: %w", rerr)
		}
	}
}

// readLine reads one line without its newline, dropping the rest of a
// line longer than MaxLine (tooLong).
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > MaxLine {
			tooLong = true
			buf = buf[:0]
		} else if !tooLong {
			buf = append(buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLong {
			return nil, true, err
		}
		return bytes.TrimRight(buf, "\r\n"), false, err
	}
}
