package upgrade

// frames follows the server-to-client byte stream of an upgraded
// connection without copying it: first the HTTP response head, up to its
// empty line, then WebSocket frames (RFC 6455 section 5.2). It knows when
// the stream is between two frames, the only place another frame (a close
// frame) may be put in.
type frames struct {
	inBody bool     // past the response head
	tail   uint32   // the last four bytes of the head, to find "\r\n\r\n"
	hdr    [14]byte // the frame header being read
	n      int      // bytes of hdr read
	left   uint64   // payload bytes still to come of the current frame
	bad    bool     // not WebSocket framing as understood: never put anything in
}

// feed advances over p, the next bytes of the stream.
func (f *frames) feed(p []byte) {
	for len(p) > 0 && !f.bad {
		if !f.inBody {
			for i, c := range p {
				f.tail = f.tail<<8 | uint32(c)
				if f.tail == 0x0d0a0d0a { // "\r\n\r\n"
					f.inBody = true
					p = p[i+1:]
					break
				}
			}
			if !f.inBody {
				return
			}
			continue
		}
		if f.left > 0 {
			k := uint64(len(p))
			if k > f.left {
				k = f.left
			}
			f.left -= k
			p = p[k:]
			continue
		}
		f.hdr[f.n] = p[0]
		f.n++
		p = p[1:]
		if need := f.headerLen(); need > 0 && f.n == need {
			f.left = f.payloadLen()
			f.n = 0
		}
	}
}

// headerLen is the length of the frame header being read, or 0 while its
// first two bytes are not in.
func (f *frames) headerLen() int {
	if f.n < 2 {
		return 0
	}
	need := 2
	switch f.hdr[1] & 0x7f {
	case 126:
		need += 2
	case 127:
		need += 8
	}
	if f.hdr[1]&0x80 != 0 {
		need += 4 // masking key
	}
	return need
}

func (f *frames) payloadLen() uint64 {
	switch l := f.hdr[1] & 0x7f; l {
	case 126:
		return uint64(f.hdr[2])<<8 | uint64(f.hdr[3])
	case 127:
		var v uint64
		for _, b := range f.hdr[2:10] {
			v = v<<8 | uint64(b)
		}
		if v>>63 != 0 { // the most significant bit must be 0
			f.bad = true
		}
		return v
	default:
		return uint64(l)
	}
}

// between reports whether the stream is past the response head and
// between two frames.
func (f *frames) between() bool {
	return f.inBody && !f.bad && f.n == 0 && f.left == 0
}

// closeFrame builds an unmasked (server-to-client) close frame with a
// status code and a reason of at most 123 bytes.
func closeFrame(code uint16, reason string) []byte {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	b := []byte{0x88, byte(2 + len(reason)), byte(code >> 8), byte(code)}
	return append(b, reason...)
}
