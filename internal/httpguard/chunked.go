package httpguard

import "errors"

// errChunked is returned to net/http when a chunked body breaks the
// strict grammar chunkScanner follows; net/http then closes the
// connection.
var errChunked = errors.New("httpguard: malformed chunked body")

// Limits of the chunked framing raygate accepts (chunk data is not
// bounded here; body limits apply elsewhere).
const (
	maxChunkLine    = 1024 // chunk-size line, extensions included
	maxChunkSizeHex = 16   // hex digits of a chunk size, as in net/http
	maxTrailer      = 4096 // trailer section, as net/http's buffer allows
)

type chunkPhase uint8

const (
	chunkSize    chunkPhase = iota // in the chunk-size digits
	chunkExt                       // after ';', up to CR
	chunkSizeLF                    // CR seen, LF expected
	chunkData                      // in the chunk data
	chunkDataCR                    // after data, CR expected
	chunkDataLF                    // after data and CR, LF expected
	trailerLine                    // at the start of a trailer line
	trailerField                   // inside a trailer line
	trailerLF                      // CR seen in the trailer, LF expected
	chunkDone                      // body complete
)

// chunkScanner follows a chunked request body byte by byte and says
// where it ends. Its grammar is a strict subset of what net/http reads,
// so wherever it says the body ends, net/http's body reader ends too:
//
//	chunk-size  = 1*16HEXDIG [ ";" *(VCHAR / SP / HTAB) ] CRLF
//	chunk       = chunk-size chunk-data CRLF          (size > 0)
//	last-chunk  = 1*16"0" [ extension ] CRLF
//	trailer     = *( field-line CRLF ) CRLF           (no obs-fold, no
//	              Content-Length, Transfer-Encoding or Host)
type chunkScanner struct {
	phase   chunkPhase
	digits  int    // hex digits of the current size
	size    uint64 // current chunk size, then bytes left in it
	line    int    // bytes of the current size line
	field   []byte // the current trailer field name, while scanning it
	colon   bool   // the current trailer line has passed its colon
	trailer int    // bytes of trailer so far
}

// scan consumes bytes of the body from b and returns how many belong to
// it; done is true once the body is complete (n may then be less than
// len(b): the rest is the next request).
func (s *chunkScanner) scan(b []byte) (n int, done bool, err error) {
	for n < len(b) {
		if s.phase == chunkData {
			k := uint64(len(b) - n)
			if k > s.size {
				k = s.size
			}
			n += int(k)
			s.size -= k
			if s.size == 0 {
				s.phase = chunkDataCR
			}
			continue
		}
		c := b[n]
		n++
		if err := s.step(c); err != nil {
			return n, false, err
		}
		if s.phase == chunkDone {
			return n, true, nil
		}
	}
	return n, false, nil
}

func (s *chunkScanner) step(c byte) error {
	switch s.phase {
	case chunkSize, chunkExt:
		s.line++
		if s.line > maxChunkLine {
			return errChunked
		}
		if c == '\r' {
			if s.digits == 0 {
				return errChunked
			}
			s.phase = chunkSizeLF
			return nil
		}
		if s.phase == chunkExt {
			if c < ' ' && c != '\t' || c == 0x7f || c >= 0x80 {
				return errChunked
			}
			return nil
		}
		if c == ';' && s.digits > 0 {
			s.phase = chunkExt
			return nil
		}
		v, ok := hexValue(c)
		if !ok || s.digits == maxChunkSizeHex {
			return errChunked
		}
		s.digits++
		s.size = s.size<<4 | uint64(v)
	case chunkSizeLF:
		if c != '\n' {
			return errChunked
		}
		s.digits, s.line = 0, 0
		if s.size == 0 {
			s.phase = trailerLine
		} else {
			s.phase = chunkData
		}
	case chunkDataCR:
		if c != '\r' {
			return errChunked
		}
		s.phase = chunkDataLF
	case chunkDataLF:
		if c != '\n' {
			return errChunked
		}
		s.phase = chunkSize
	case trailerLine, trailerField:
		s.trailer++
		if s.trailer > maxTrailer {
			return errChunked
		}
		if c == '\r' {
			if s.phase == trailerField && !s.colon {
				return errChunked // a trailer line without a colon
			}
			s.phase = trailerLF
			return nil
		}
		if s.phase == trailerLine {
			s.phase, s.field, s.colon = trailerField, s.field[:0], false
			if c == ' ' || c == '\t' {
				return errChunked // obs-fold
			}
		}
		switch {
		case s.colon:
			if c < ' ' && c != '\t' || c == 0x7f {
				return errChunked
			}
		case c == ':':
			if len(s.field) == 0 || forbiddenTrailer(s.field) {
				return errChunked
			}
			s.colon = true
		case tchar[c]:
			if len(s.field) <= len("transfer-encoding") {
				s.field = append(s.field, c) // longer names are never forbidden ones
			}
		default:
			return errChunked
		}
	case trailerLF:
		if c != '\n' {
			return errChunked
		}
		s.trailer++
		if s.colon {
			s.phase, s.colon = trailerLine, false
			return nil
		}
		s.phase = chunkDone
	default:
		return errChunked
	}
	return nil
}

// forbiddenTrailer reports whether a trailer field would change framing
// or routing if anything merged it into the headers.
func forbiddenTrailer(name []byte) bool {
	return equalFold(name, "content-length") || equalFold(name, "transfer-encoding") || equalFold(name, "host")
}

func hexValue(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
